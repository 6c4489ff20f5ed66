"""`mockinfer check`: find credentials left in cassettes, by the recorder's own rules.

Each cassette is read as mockinfer reads it (YAML or JSON, `!!binary` decoded, gzip bodies
inflated, stream events one by one), and every place an interaction can carry a secret is
judged by the very rules the recorder redacts with: a place is reported when recording it
now would change it. A place is reported once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mockinfer.cassette.format import Interaction, read
from mockinfer.cassette.redact import Redactor, has_credential_shape

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
        if candidate.suffix.lower() in CASSETTE_SUFFIXES and candidate.is_file():
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
    yield "request URI", _judged(request.uri.encode(), rules.uri(request.uri) != request.uri)
    for side, headers in (("request", request.headers), ("response", response.headers)):
        for name, value in headers:
            changed = rules.headers([(name, value)]) != [(name, value)]
            yield f"{side} header {name}", _judged(value.encode(), changed)
    yield "request body", _judged(request.body, rules.body(request.body) != request.body)
    if response.events is None:
        body = response.decoded_body()
        yield "response body", _judged(body, rules.body(body) != body)
    else:
        raws = [event.raw for event in response.events]
        for number, (raw, redacted) in enumerate(zip(raws, rules.events(raws), strict=True)):
            alone = rules.stream(raw) != raw
            reasons = _judged(raw, alone) if alone or redacted == raw else [_SPELLED_ACROSS]
            yield f"response events[{number}]", reasons


#: Why an event that holds no credential alone is found: it holds part of one.
_SPELLED_ACROSS = "part of a credential's shape spelled across events"


def _judged(raw: bytes, redacted: bool) -> list[str]:
    """Why a place holds a credential: the recorder would redact it, by its shape or name."""
    if not redacted:
        return []
    shaped = has_credential_shape(raw.decode("utf-8", "replace"))
    return ["a credential's shape" if shaped else "a secret by name"]
