"""A tiny raw HTTP helper for byte-level tests: exact bytes in, exact bytes and headers out."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    """Status, headers (case-insensitive lookups via `header`) and the undecoded body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Send one request with exactly these bytes and headers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return RawResponse(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


JSON = {"Content-Type": "application/json"}
