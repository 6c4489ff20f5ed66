"""Redaction: secrets never reach a cassette, and live requests are redacted the same way.

Rules are named so a user can see (and extend) exactly what is removed. Redacting the live
request with the same rules before matching lets a request that carries a real key match
its redacted recording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mockinfer.wire.services import SECRET_SETTINGS

REDACTED = "REDACTED"
_AUTH_SCHEME = re.compile(r"^\s*(\w+)\s+\S")


@dataclass(frozen=True)
class RedactionRules:
    """What to remove: header names, JSON field names (at any depth) and query parameters."""

    headers: frozenset[str] = frozenset()
    body_fields: frozenset[str] = frozenset()
    query_parameters: frozenset[str] = frozenset()

    def __or__(self, other: RedactionRules) -> RedactionRules:
        return RedactionRules(
            self.headers | other.headers,
            self.body_fields | other.body_fields,
            self.query_parameters | other.query_parameters,
        )


#: The built-in rules, each named for the README and for error messages.
BUILTIN_RULES: Mapping[str, RedactionRules] = {
    "authorization-header": RedactionRules(
        headers=frozenset({"authorization", "proxy-authorization", "es-secondary-authorization"})
    ),
    "api-key-headers": RedactionRules(
        headers=frozenset(
            {"x-api-key", "api-key", "apikey", "x-goog-api-key", "cookie", "set-cookie"}
        )
    ),
    "secret-body-fields": RedactionRules(
        body_fields=frozenset(
            {*SECRET_SETTINGS, "password", "token", "access_token", "refresh_token", "secret"}
        )
    ),
    "secret-query-parameters": RedactionRules(
        query_parameters=frozenset(
            {"api_key", "apikey", "key", "access_token", "token", "password", "secret"}
        )
    ),
}


@dataclass(frozen=True)
class Redactor:
    """Applies the built-in rules plus any the user adds."""

    extra: Sequence[RedactionRules] = field(default_factory=tuple)

    @property
    def rules(self) -> RedactionRules:
        """Every rule in force."""
        combined = RedactionRules()
        for rule in (*BUILTIN_RULES.values(), *self.extra):
            combined = combined | rule
        return combined

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers with secret values replaced; an auth scheme is kept for readability."""
        secret = {h.lower() for h in self.rules.headers}
        out: list[tuple[str, str]] = []
        for name, value in headers:
            if name.lower() in secret:
                scheme = _AUTH_SCHEME.match(value)
                value = f"{scheme.group(1)} {REDACTED}" if scheme else REDACTED
            out.append((name, value))
        return out

    def uri(self, uri: str) -> str:
        """The URI without user info and with secret query parameter values replaced."""
        parts = urlsplit(uri)
        if "@" in parts.netloc:
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
            uri = urlunsplit(parts)
        if not parts.query:
            return uri
        secret = self.rules.query_parameters
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k.lower() in secret for k, _ in pairs):
            return uri
        query = urlencode([(k, REDACTED if k.lower() in secret else v) for k, v in pairs])
        return urlunsplit(parts._replace(query=query))

    def body(self, body: bytes) -> bytes:
        """A JSON body with secret fields replaced at any depth; other bodies unchanged."""
        if not body:
            return body
        try:
            document = json.loads(body)
        except ValueError:
            return body
        redacted, changed = self._value(document, self.rules.body_fields)
        if not changed:
            return body
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()

    def _value(self, value: Any, secret: frozenset[str]) -> tuple[Any, bool]:
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for key, child in value.items():
                if key in secret and child is not None:
                    out[key] = _blank(child)
                    changed = True
                else:
                    out[key], child_changed = self._value(child, secret)
                    changed = changed or child_changed
            return out, changed
        if isinstance(value, list):
            results = [self._value(item, secret) for item in value]
            return [r for r, _ in results], any(c for _, c in results)
        return value, False


def _blank(value: Any) -> Any:
    """Secret maps keep their keys (useful in review) with every value replaced."""
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    return REDACTED


#: Shapes of credentials worth flagging wherever they appear in a cassette.
CREDENTIAL_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "authorization header": re.compile(
        r"(?i)authorization['\"]?\s*:\s*(?:-\s*)?['\"]?(?:apikey|basic|bearer)\s+(?!REDACTED)[A-Za-z0-9+/=_.\-]{8,}"
    ),
    "secret field": re.compile(
        r"(?i)['\"]?(?:api_key|secret_key|access_key|client_secret|password|service_account_json)"
        r"['\"]?\s*:\s*['\"](?!REDACTED)[^'\"\s]{8,}"
    ),
    "API key header": re.compile(
        r"(?i)(?:x-api-key|api-key|apikey|x-goog-api-key)['\"]?\s*:\s*(?:-\s*)?['\"]?(?!REDACTED)[A-Za-z0-9+/=_.\-]{12,}"
    ),
    "password in a URL": re.compile(r"://[^/\s:@]+:[^/\s@]+@"),
    "OpenAI-style key": re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "JSON web token": re.compile(
        r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"
    ),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


def find_credentials(text: str) -> list[tuple[int, str]]:
    """(line number, kind) of everything in `text` that looks like a credential.

    Each line is also read joined to the one before it, because YAML writes a header as its
    name on one line and `- value` on the next.
    """
    found: list[tuple[int, str]] = []
    previous = ""
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in CREDENTIAL_PATTERNS.items():
            if pattern.search(line) or pattern.search(previous + " " + line.strip()):
                found.append((number, kind))
        previous = line
    return sorted(set(found))
