"""Redaction: secrets never reach a cassette, and live requests are redacted the same way.

Names are compared normalised (lower case, letters and digits only: `apiKey`, `API_KEY` and
`api-key` are one name) against patterns of what credentials are called (key, secret, token,
password, credential, auth, signature, cookie, session), with an allow-list of harmless names
that merely look alike (`max_tokens`, `tokenization`, `keyword`). JSON bodies are redacted at
any depth, in each line of NDJSON and in every SSE event's data; what cannot be parsed (JSON
with comments, text) is redacted by its `"name": "value"` pairs and credential shapes. Values
that only echo a URL, such as an error reason, lose their secret query values. Token-weight
maps (a sparse embedding's `embedding`, a model's `predicted_value`) hold words of the input,
not settings, and are left alone.

Redacting the live request with the same rules before matching lets a request that carries a
real key match its redacted recording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mockinfer.wire.services import SECRET_SETTINGS
from mockinfer.wire.sse import decode_events, encode_event

REDACTED = "REDACTED"
_AUTH_SCHEME = re.compile(r"^\s*(\w+)\s+\S")
#: Headers whose value starts with an auth scheme worth keeping (`Bearer REDACTED`).
_SCHEME_HEADERS = frozenset({"authorization", "proxyauthorization", "essecondaryauthorization"})
#: What credentials are called, in normalised names.
_SECRET_NAME = re.compile(
    r"key|secret|token(?!s|iz|is)|passw|passwd|pwd|credential|auth|signature|cookie|session"
)
#: Short names that mean a credential only on their own (`?sig=`, `?auth=`), and the secret
#: settings of the inference services whose names follow no pattern
#: (`service_account_json`, `entra_id`).
_SECRET_EXACT = frozenset({"sig", "auth", "key"}) | {
    re.sub(r"[^a-z0-9]", "", name) for name in SECRET_SETTINGS
}
#: Names that match a pattern but never hold a credential.
_HARMLESS = frozenset(
    {
        "keyword",
        "keywords",
        "maxtokens",
        "maxnewtokens",
        "maxcompletiontokens",
        "maxinputtokens",
        "prompttokens",
        "completiontokens",
        "totaltokens",
        "tokens",
        "tokenization",
        "tokenizer",
        "truncate",
        "wwwauthenticate",
        "keepalive",
        "author",
        "authors",
    }
)
#: Keys whose maps hold words of the input (token weights), never settings.
_WORD_MAPS = frozenset({"embedding", "predicted_value"})
#: Shapes of credentials, replaced wherever they appear in text that is not JSON.
_CREDENTIAL_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
)
#: `"name": "value"` in text that is not strict JSON.
_JSON_PAIR = re.compile(r'("(?P<name>[^"\\]{1,100})"\s*:\s*)"(?:[^"\\]|\\.)*"')
#: `name=value` after `?` or `&`, as an echoed URL carries it.
_QUERY_PAIR = re.compile(r"(?P<lead>[?&](?P<name>[A-Za-z0-9_.\-]{1,60})=)(?P<value>[^&\s\"'\]#]+)")


def normalised(name: str) -> str:
    """A name as rules compare it: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class RedactionRules:
    """Names to redact besides the patterns: headers, JSON fields (any depth), query keys.

    Names are compared normalised, so `X-Tenant-Id` also covers `x_tenant_id`.
    """

    headers: frozenset[str] = frozenset()
    body_fields: frozenset[str] = frozenset()
    query_parameters: frozenset[str] = frozenset()

    def __or__(self, other: RedactionRules) -> RedactionRules:
        return RedactionRules(
            self.headers | other.headers,
            self.body_fields | other.body_fields,
            self.query_parameters | other.query_parameters,
        )


def is_secret_name(name: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a header, field or query parameter of this name holds a credential."""
    key = normalised(name)
    if key in extra:
        return True
    if key in _HARMLESS:
        return False
    return key in _SECRET_EXACT or _SECRET_NAME.search(key) is not None


@dataclass(frozen=True)
class Redactor:
    """Applies the built-in patterns plus any names the user adds."""

    extra: Sequence[RedactionRules] = field(default_factory=tuple)

    @property
    def rules(self) -> RedactionRules:
        """The names added to the patterns, normalised."""
        combined = RedactionRules()
        for rule in self.extra:
            combined = combined | rule
        return RedactionRules(
            frozenset(normalised(n) for n in combined.headers),
            frozenset(normalised(n) for n in combined.body_fields),
            frozenset(normalised(n) for n in combined.query_parameters),
        )

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers with secret values replaced; an auth scheme is kept for readability."""
        extra = self.rules.headers
        out: list[tuple[str, str]] = []
        for name, value in headers:
            if is_secret_name(name, extra):
                scheme = _AUTH_SCHEME.match(value) if normalised(name) in _SCHEME_HEADERS else None
                value = f"{scheme.group(1)} {REDACTED}" if scheme else REDACTED
            else:
                value = self.text(value)
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
        extra = self.rules.query_parameters
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(is_secret_name(k, extra) for k, _ in pairs):
            return uri
        query = urlencode([(k, REDACTED if is_secret_name(k, extra) else v) for k, v in pairs])
        return urlunsplit(parts._replace(query=query))

    def body(self, body: bytes) -> bytes:
        """A body with its secrets replaced: JSON at any depth, each NDJSON line, else text."""
        if not body:
            return body
        if body.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, which ES accepts for JSON
            try:
                return (
                    self.body(body.decode("utf-16").encode("utf-8"))
                    .decode("utf-8")
                    .encode("utf-16")
                )
            except UnicodeError:
                return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # binary: nothing that reads as a name and a value
        try:
            document = json.loads(text)
            redacted, changed = self._value(document)
        except (ValueError, RecursionError):  # not JSON, or too deep to walk: judged as text
            lines = text.split("\n")
            if len(lines) > 1 and all(_is_json(line) for line in lines if line.strip()):
                return _utf8("\n".join(self._json_text(line) for line in lines))
            return _utf8(self.text(text))
        if not changed:
            return body
        return _utf8(json.dumps(redacted, ensure_ascii=False, separators=(",", ":")))

    def stream(self, body: bytes) -> bytes:
        """An SSE stream with each event's data redacted; events that change are re-framed."""
        events = decode_events(body)
        if not events:
            return self.body(body)
        out = []
        for event in events:
            data = self.body(event.data.encode()).decode("utf-8", "replace")
            out.append(
                event.raw if data == event.data else encode_event(data.encode(), event.event)
            )
        return b"".join(out)

    def text(self, text: str) -> str:
        """Text that is not JSON: secret `"name": "value"` pairs, echoed query values and
        credential shapes replaced."""
        extra = self.rules.body_fields | self.rules.query_parameters

        def pair(match: re.Match[str]) -> str:
            if is_secret_name(match.group("name"), extra):
                return f'{match.group(1)}"{REDACTED}"'
            return match.group(0)

        def query(match: re.Match[str]) -> str:
            if is_secret_name(match.group("name"), extra):
                return match.group("lead") + REDACTED
            return match.group(0)

        text = _QUERY_PAIR.sub(query, _JSON_PAIR.sub(pair, text))
        for shape in _CREDENTIAL_SHAPES:
            text = shape.sub(REDACTED, text)
        return text

    def _json_text(self, line: str) -> str:
        if not line.strip():
            return line
        redacted, changed = self._value(json.loads(line))
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")) if changed else line

    def _value(self, value: Any) -> tuple[Any, bool]:
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for key, child in value.items():
                if key in _WORD_MAPS and isinstance(child, dict):
                    out[key] = child
                elif child is not None and is_secret_name(key, self.rules.body_fields):
                    out[key] = _blank(child)
                    changed = changed or out[key] != child
                else:
                    out[key], child_changed = self._value(child)
                    changed = changed or child_changed
            return out, changed
        if isinstance(value, list):
            results = [self._value(item) for item in value]
            return [r for r, _ in results], any(c for _, c in results)
        if isinstance(value, str):
            cleaned = self.text(value)
            return cleaned, cleaned != value
        return value, False


def _utf8(text: str) -> bytes:
    """Text as bytes, lone surrogates (legal in JSON escapes) included."""
    return text.encode("utf-8", "surrogatepass")


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _blank(value: Any) -> Any:
    """Secret maps keep their keys (useful in review) with every value replaced."""
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, bool | int | float):
        return value  # a number or a flag (`token_limit: 5`) is no credential
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
