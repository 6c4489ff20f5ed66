"""Requests the HTTP parser refuses get a cluster's JSON error envelope, never plain text,
never the refused bytes back, and never a traceback in the log."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from mockinfer import MockInferServer

SECRET = "c2VjcmV0LWtleTpwbGFudGVkLXZhbHVl"


def send(server: MockInferServer, raw: bytes) -> tuple[int, dict[str, str], Any]:
    """Write raw bytes on a fresh connection; the status, headers and JSON body of the answer."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80)) as sock:
        sock.sendall(raw)
        sock.settimeout(10)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def envelope(error_type: str, reason: str) -> dict[str, Any]:
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": 400}


@pytest.mark.parametrize(
    ("raw", "error_type", "reason"),
    [
        (
            b"GET /_inference/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
            "too_long_http_line_exception",
            "An HTTP line is larger than 4096 bytes.",
        ),
        (
            b"GET /_inference HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            "too_long_http_header_exception",
            "HTTP header is larger than 16384 bytes.",
        ),
        (
            b"G\x01T /_inference HTTP/1.1\r\nHost: h\r\n\r\n",
            "illegal_argument_exception",
            "Invalid method encountered",
        ),
        (
            b"POST /_inference/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "illegal_argument_exception",
            "Transfer-Encoding can't be present with Content-Length",
        ),
        (
            b"POST /_inference/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
            b"Content-Length: 4\r\n\r\nabcd",
            "illegal_argument_exception",
            "Duplicate Content-Length",
        ),
        (
            b"GET / HTTP/9.9\r\nHost: h\r\n\r\n",
            "illegal_argument_exception",
            "Bad status line: Invalid HTTP version",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            "illegal_argument_exception",
            "Received HTTPS traffic on an HTTP port",
        ),
    ],
    ids=[
        "long-url",
        "long-header",
        "bad-method",
        "length-and-chunked",
        "two-lengths",
        "http-version",
        "tls",
    ],
)
def test_refused_requests_get_the_cluster_envelope(
    server: MockInferServer, raw: bytes, error_type: str, reason: str
) -> None:
    status, headers, body = send(server, raw)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["x-elastic-product"] == "Elasticsearch"
    assert body == envelope(error_type, reason)


def test_a_malformed_credential_is_neither_echoed_nor_logged(
    server: MockInferServer, caplog: pytest.LogCaptureFixture
) -> None:
    raw = f"GET /_inference HTTP/1.1\r\nHost: h\r\nAuthorization: ApiKey {SECRET}\x01\r\n\r\n"
    with caplog.at_level(logging.DEBUG):
        status, _, body = send(server, raw.encode())
    assert status == 400
    assert body == envelope("illegal_argument_exception", "Invalid header value char")
    assert SECRET not in caplog.text and "Traceback" not in caplog.text
    assert "refused a malformed request" in caplog.text


def test_the_official_client_reads_a_too_long_url_as_a_bad_request(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as refused:
        es.inference.get(inference_id="e" * 5000)
    assert refused.value.error == "too_long_http_line_exception"
    assert refused.value.body["error"]["reason"] == "An HTTP line is larger than 4096 bytes."


def test_a_url_within_the_limit_still_reaches_the_routes(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError):
        es.inference.get(inference_id="e" * 3000)


def test_a_refused_request_target_is_not_echoed(server: MockInferServer) -> None:
    raw = f"GET http://u:{SECRET}@[bad/?api_key={SECRET} HTTP/1.1\r\nHost: h\r\n\r\n"
    status, _, body = send(server, raw.encode())
    assert status == 400
    assert body == envelope("illegal_argument_exception", "invalid request target")
