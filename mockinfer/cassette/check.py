"""`mockinfer check`: find credentials left in cassettes, by the recorder's own rules.

Each cassette is read as mockinfer reads it (YAML or JSON, `!!binary` decoded, gzip bodies
inflated, stream events one by one), and every place an interaction can carry a secret is
judged by the rules the recorder redacts with, plus the shapes of well-known credentials.
A place is reported once, with every reason found there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from mockinfer.cassette.format import Interaction, read
from mockinfer.cassette.redact import CREDENTIAL_PATTERNS, REDACTED, Redactor, is_secret_name

#: The files `check` reads in a folder.
CASSETTE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Finding:
    """One place of one interaction that holds something like a credential, and why."""

    interaction: int
    place: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"interactions[{self.interaction}] {self.place}: {', '.join(self.reasons)}"


def cassette_files(path: Path) -> Iterator[Path]:
    """The cassette files at a path: the file itself, or those under a folder (sorted).

    Folders and links that lead nowhere are passed over.
    """
    if path.is_file():
        yield path
        return
    for candidate in sorted(path.rglob("*")):
        if candidate.suffix in CASSETTE_SUFFIXES and candidate.is_file():
            yield candidate


def check_file(path: Path, redactor: Redactor | None = None) -> list[Finding]:
    """Everything in the cassette at `path` that looks like a credential.

    Raises `CassetteError` when the file cannot be read as a cassette.
    """
    rules = redactor or Redactor()
    data = read(path)
    if data is None:
        return []
    findings = []
    for index, interaction in enumerate(data.interactions):
        for place, reasons in _places(interaction, rules):
            if reasons:
                findings.append(Finding(index, place, tuple(sorted(set(reasons)))))
    return findings


def _places(interaction: Interaction, rules: Redactor) -> Iterator[tuple[str, list[str]]]:
    request, response = interaction.request, interaction.response
    yield "request URI", _uri(request.uri)
    for side, headers in (("request", request.headers), ("response", response.headers)):
        for name, value in headers:
            yield f"{side} header {name}", _header(name, value, rules)
    yield "request body", _body(request.body, rules)
    if response.events is None:
        yield "response body", _body(response.decoded_body(), rules)
    else:
        for number, event in enumerate(response.events):
            reasons = _shapes(event.raw)
            if rules.stream(event.raw) != event.raw:
                reasons.append("a secret by name")
            yield f"response events[{number}]", reasons


def _uri(uri: str) -> list[str]:
    parts = urlsplit(uri)
    reasons = _shapes(uri.encode())  # a password in the URL is one of the shapes
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_name(name) and value != REDACTED:
            reasons.append(f"query parameter {name}")
    return reasons


def _header(name: str, value: str, rules: Redactor) -> list[str]:
    reasons = _shapes(value.encode())
    redacted = value == REDACTED or value.endswith(f" {REDACTED}")
    if not redacted and rules.headers([(name, value)]) != [(name, value)]:
        reasons.append("a secret by name")
    return reasons


def _body(body: bytes, rules: Redactor) -> list[str]:
    reasons = _shapes(body)
    if rules.body(body) != body:
        reasons.append("a secret by name")
    return reasons


def _shapes(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "replace")
    return [kind for kind, pattern in CREDENTIAL_PATTERNS.items() if pattern.search(text)]
