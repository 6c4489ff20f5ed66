"""Redaction: secrets never reach a cassette, and live requests are redacted the same way.

Names are compared normalised (lower case, letters and digits only: `apiKey`, `API_KEY` and
`api-key` are one name) against patterns of what credentials are called (key, secret, token,
password, credential, auth, signature, cookie, session), with an allow-list of harmless names
that merely look alike (`max_tokens`, `tokenization`, `keyword`). Bodies are read in the
encoding JSON's rule tells and written back in it. JSON bodies are redacted at any depth, in
each line of NDJSON and in every SSE event's data (joined over its `data:` lines); what cannot
be parsed (JSON with comments, text) loses every value under a secret name, and credential
shapes. Values that only echo a URL, such as an error reason, lose their secret query values.
Token-weight maps (a sparse embedding's `embedding`, a model's `predicted_value`: words to
numbers) hold words of the input, not settings, and are left alone.

Redacting the live request with the same rules before matching lets a request that carries a
real key match its redacted recording.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from mockinfer.cassette.charsets import decoded
from mockinfer.cassette.format import RecordedEvent
from mockinfer.cassette.lenient import replace_values
from mockinfer.cassette.spanning import redact_spanning
from mockinfer.wire.services import SECRET_SETTINGS
from mockinfer.wire.sse import map_joined_data

REDACTED = "REDACTED"
_AUTH_SCHEME = re.compile(r"^\s*([\w-]+)\s+\S")
#: Auth schemes kept in front of a redacted credential; any other first word may be the
#: credential itself.
_KNOWN_SCHEMES = frozenset(
    {"basic", "bearer", "apikey", "digest", "negotiate", "ntlm", "token", "aws4hmacsha256"}
)
#: Headers whose value starts with an auth scheme worth keeping (`Bearer REDACTED`).
_SCHEME_HEADERS = frozenset({"authorization", "proxyauthorization", "essecondaryauthorization"})
#: What credentials are called, in normalised names.
_SECRET_NAME = re.compile(
    r"key|secret|token(?!s|iz|is)|(?:access|refresh|id|api|auth|bearer|session)tokens"
    r"|pass|pwd|credential|auth|signature|cookie|session"
)
#: Short names that mean a credential only on their own: the secret settings of the
#: inference services whose names follow no pattern (`service_account_json`, `entra_id`),
#: what the security API calls a whole API key, and the account a provider's key belongs to,
#: which its answers name in headers (`OpenAI-Organization`, `OpenAI-Project`).
_SECRET_EXACT = frozenset({"pw", "pin", "encoded", "openaiorganization", "openaiproject"}) | {
    re.sub(r"[^a-z0-9]", "", name) for name in SECRET_SETTINGS
}
#: Names that are credentials in a URL's query (`?key=`, `?sig=`) but ordinary words in a
#: document (an aggregation's `key`, a log-probability's `token`).
_QUERY_SECRETS = frozenset({"key", "token", "sig", "auth", "code"})
#: Names that are credentials as a header of their own (`Token: ...`) but ordinary words in a
#: document.
_HEADER_SECRETS = frozenset({"key", "token"})
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
        "key",
        "token",
        "keyboard",
        "passage",
        "passages",
        "bypass",
        "compass",
        "passthrough",
    }
)
#: Name parts that make a name harmless wherever they appear (`title.keyword`, `author_id`,
#: and what counts or numbers tokens: Gemini's `promptTokenCount`, a tokenizer's `token_ids`).
_HARMLESS_PARTS = re.compile(r"keyword|author(?!i[sz])|keyboard|passage|tokencount|tokenids")
#: Keys whose maps hold words of the input (token weights), never settings.
_WORD_MAPS = frozenset({"embedding", "predicted_value"})
#: Shapes of credentials, replaced wherever they appear in text that is not JSON.
_CREDENTIAL_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/\-]{12,}=*"),
    re.compile(r"(?i)(?<=\bapikey )[A-Za-z0-9._~+/\-]{16,}=*"),
    # Base64 of `user:password`: twelve characters at least, a digit, `+`, `/` or padding among
    # them, so that a word after "Basic" ("Basic JavaScript") is not taken for one.
    re.compile(r"(?<=\bBasic )(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}"),
    re.compile(r"(?<=://)[^/?#\s@\"'<>]+(?=@)"),  # user info: a password, or a token alone
)
#: `name=value` after `?` or `&`, as an echoed URL carries it.
_QUERY_PAIR = re.compile(
    r"(?P<lead>(?:^|(?<=[?&;\s,(\[]))(?P<name>[A-Za-z0-9_.%\-]{1,60})\s*=\s*\"?)"
    r"(?P<value>[^&;\s\"'\]#,)]+)"
)


_NOT_NAME = re.compile(r"[^a-z0-9]")


@functools.lru_cache(maxsize=4096)
def normalised(name: str) -> str:
    """A name as rules compare it: lower case, letters and digits only."""
    return _NOT_NAME.sub("", name.lower())


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


def is_secret_name(
    name: str, extra: frozenset[str] = frozenset(), *, query: bool = False, header: bool = False
) -> bool:
    """Whether a field, or (with `query`) a query parameter or (with `header`) a header of
    this name holds a credential. Percent-encoded names are judged decoded."""
    key = normalised(unquote(name))
    if key in extra or (query and key in _QUERY_SECRETS) or (header and key in _HEADER_SECRETS):
        return True
    if key in _HARMLESS or _HARMLESS_PARTS.search(key):
        return False
    return key in _SECRET_EXACT or _SECRET_NAME.search(key) is not None


@dataclass(frozen=True)
class Redactor:
    """Applies the built-in patterns plus any names the user adds."""

    extra: Sequence[RedactionRules] = field(default_factory=tuple)

    @functools.cached_property
    def rules(self) -> RedactionRules:
        """The names added to the patterns, normalised (once: every request reads them)."""
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
            if is_secret_name(name, extra, header=True):
                scheme = _AUTH_SCHEME.match(value) if normalised(name) in _SCHEME_HEADERS else None
                known = scheme is not None and normalised(scheme.group(1)) in _KNOWN_SCHEMES
                value = f"{scheme.group(1)} {REDACTED}" if scheme and known else REDACTED
            else:
                value = self.text(value)
            out.append((name, value))
        return out

    def uri(self, uri: str) -> str:
        """The URI without user info or credential shapes in its path, and with secret query
        parameter values replaced (`&` and `;` both separate parameters)."""
        try:
            parts = urlsplit(uri)
        except ValueError:  # not a URL Python can split (`http://[x]/`): judged as text
            return self.text(uri)
        if "@" in parts.netloc:
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
            uri = urlunsplit(parts)
        path = _shaped(parts.path)
        if path != parts.path:
            parts = parts._replace(path=path)
            uri = urlunsplit(parts)
        if not parts.query:
            return uri
        extra = self.rules.query_parameters
        pieces = re.split(r"([&;])", parts.query)
        for i in range(0, len(pieces), 2):
            name, equals, _ = pieces[i].partition("=")
            if equals and is_secret_name(name, extra, query=True):
                pieces[i] = f"{name}={REDACTED}"
            else:
                pieces[i] = _shaped(pieces[i])
        query = "".join(pieces)
        return uri if query == parts.query else urlunsplit(parts._replace(query=query))

    def body(self, body: bytes) -> bytes:
        """A body with its secrets replaced: JSON at any depth, each NDJSON line, else text.

        It keeps its encoding: UTF-8 (with a BOM or without), UTF-16 or UTF-32, as JSON may
        come; bytes that are not text in it are kept as they are around what is replaced.
        """
        if not body:
            return body
        text, encode = decoded(body)
        redacted = self._document(text)
        return body if redacted == text else encode(redacted)

    def stream(self, body: bytes) -> bytes:
        """An SSE stream redacted with its framing kept: first the data of each event that
        spans several `data:` lines, as the text a client joins them into; then each `data:`
        line as a body, and every other line (event names, ids, comments) as text."""
        if not body:
            return body
        text, encode = decoded(body)
        lines = map_joined_data(text.split("\n"), self.text)
        for i, line in enumerate(lines):
            head, colon, value = line.partition(":")
            if colon and head.removeprefix("\ufeff") == "data":
                space = " " if value.startswith(" ") else ""
                lines[i] = f"{head}:{space}{self._document(value[len(space) :])}"
            else:
                lines[i] = self.text(line)
        redacted_text = "\n".join(lines)
        return body if redacted_text == text else encode(redacted_text)

    def events(self, events: Sequence[bytes]) -> list[bytes]:
        """A stream's events without the credentials spelled across them (a key a model
        writes out over several deltas), then each redacted as `stream` redacts it. Across
        first: a piece redacted alone would leave the rest of its key unrecognisable."""
        return [self.stream(raw) for raw in redact_spanning(events, credential_spans, REDACTED)]

    def recorded_events(self, events: Sequence[RecordedEvent]) -> tuple[RecordedEvent, ...]:
        """A recorded stream's events redacted as `events` redacts them, at their offsets."""
        redacted = self.events([event.raw for event in events])
        return tuple(
            RecordedEvent(event.offset, raw) for event, raw in zip(events, redacted, strict=True)
        )

    def _document(self, text: str) -> str:
        """`text` redacted as JSON, NDJSON, or else as text; the same string if unchanged."""
        try:
            document = json.loads(text)
            redacted, changed = self._value(document)
        except (ValueError, RecursionError):  # not JSON, or too deep to walk: judged as text
            lines = text.split("\n")
            if len(lines) > 1 and all(_is_json(line) for line in lines if line.strip()):
                try:
                    return "\n".join(self._json_text(line) for line in lines)
                except RecursionError:
                    pass  # a line too deep to walk: the whole is judged as text
            return self.text(text)
        if not changed:
            return text
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))

    def text(self, text: str) -> str:
        """Text that is not JSON: secret `"name": "value"` pairs, echoed query values and
        credential shapes replaced."""
        extra = self._text_names
        if len(text) <= _REMEMBERED_TEXT:
            return _redacted_short_text(text, extra)
        return _redacted_text(text, extra)

    @functools.cached_property
    def _text_names(self) -> frozenset[str]:
        return self.rules.body_fields | self.rules.query_parameters

    def _json_text(self, line: str) -> str:
        if not line.strip():
            return line
        redacted, changed = self._value(json.loads(line))
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")) if changed else line

    def _value(self, value: Any) -> tuple[Any, bool]:
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for name, child in value.items():
                key = _unique(_shaped(name), out)
                changed = changed or key != name
                if key in _WORD_MAPS and _is_word_map(child):
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


#: Texts this short (header values, most JSON strings) come back request after request: their
#: redaction is remembered.
_REMEMBERED_TEXT = 256


def _redacted_text(text: str, extra: frozenset[str]) -> str:
    def query(match: re.Match[str]) -> str:
        if is_secret_name(match.group("name"), extra, query=True):
            return match.group("lead") + REDACTED
        return match.group(0)

    def secret(name: str) -> bool:
        return is_secret_name(name, extra)

    return _shaped(_QUERY_PAIR.sub(query, replace_values(text, secret, REDACTED)))


_redacted_short_text = functools.lru_cache(maxsize=4096)(_redacted_text)


def _shaped(text: str) -> str:
    """Text with every credential shape replaced."""
    for shape in _CREDENTIAL_SHAPES:
        text = shape.sub(REDACTED, text)
    return text


def credential_spans(text: str) -> list[tuple[int, int]]:
    """Where text holds credential shapes: (start, end) of each, in order, overlaps merged."""
    spans = sorted(
        (match.start(), match.end())
        for shape in _CREDENTIAL_SHAPES
        for match in shape.finditer(text)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _unique(key: str, taken: dict[str, Any]) -> str:
    """A key not yet in `taken`: two credentials used as keys stay two entries."""
    if key not in taken:
        return key
    number = 2
    while f"{key}-{number}" in taken:
        number += 1
    return f"{key}-{number}"


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _is_word_map(value: Any) -> bool:
    """Whether `value` maps words to weights, as a sparse embedding does."""
    return isinstance(value, dict) and all(
        isinstance(weight, (int, float)) and not isinstance(weight, bool)
        for weight in value.values()
    )


def _blank(value: Any) -> Any:
    """Secret maps keep their keys (useful in review), unless shaped like credentials, with
    every value replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out[_unique(_shaped(key), out)] = _blank(child)
        return out
    if isinstance(value, bool):
        return value  # a flag is no credential; a number may be (a numeric password)
    return REDACTED


def has_credential_shape(text: str) -> bool:
    """Whether text holds something shaped like a credential (a key, a token, a password
    in a URL): what the recorder replaces wherever it appears."""
    return any(shape.search(text) for shape in _CREDENTIAL_SHAPES)
