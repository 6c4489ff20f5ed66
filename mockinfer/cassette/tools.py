"""What `mockinfer cassette` does to cassette files: inspect, compare, re-time and scrub them.

Every rewrite goes through `format.write` (atomic, permissions kept), and only when something
changed. In a cassette mockinfer wrote, only the interactions that changed change: a body
that held a secret is written again as compact JSON, the rest stays byte for byte.
"""

from __future__ import annotations

import gzip
import itertools
import math
import statistics
import zlib
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from mockinfer.cassette.drift import is_vector, parsed
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedEvent,
    RecordedResponse,
)
from mockinfer.cassette.matching import DEFAULT_MATCHERS, MatchIndex, describe, shortened
from mockinfer.cassette.redact import Redactor

#: Width of a stream's timeline in the terminal, in characters.
TIMELINE_WIDTH = 60


@dataclass(frozen=True)
class Row:
    """One interaction as `inspect` lists it."""

    number: int
    method: str
    path: str
    inference_id: str
    status: int
    size: int
    events: int | None
    duration: float | None


def rows(data: CassetteData) -> list[Row]:
    """The table `inspect` prints: one row per interaction, in recorded order."""
    out = []
    for number, interaction in enumerate(data.interactions):
        request, response = interaction.request, interaction.response
        path = urlsplit(request.uri).path
        events = response.events
        out.append(
            Row(
                number=number,
                method=request.method,
                path=path,
                inference_id=_inference_id(path),
                status=response.status,
                size=len(response.body),
                events=None if events is None else len(events),
                duration=events[-1].offset if events else None,
            )
        )
    return out


def _inference_id(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] != "_inference":
        return ""
    named = [p for p in parts[1:] if not p.startswith("_")]
    return named[-1] if named else ""


def timeline(events: tuple[RecordedEvent, ...], width: int = TIMELINE_WIDTH) -> str:
    """A stream's events on one line of the terminal, and its timing in figures.

    `|` marks an event at its offset (`#` where several share a column), over the stream's
    duration; then the time to the first event and the gaps between events.
    """
    if not events:
        return "(no events)"
    duration = events[-1].offset
    columns = [0] * width
    for event in events:
        column = min(width - 1, int(event.offset / duration * (width - 1))) if duration else 0
        columns[column] += 1
    line = "".join(" " if n == 0 else "|" if n == 1 else "#" for n in columns)
    gaps = [b.offset - a.offset for a, b in itertools.pairwise(events)]
    figures = f"first event at {events[0].offset * 1000:.1f} ms"
    if gaps:
        figures += (
            f", gaps {min(gaps) * 1000:.1f} / {statistics.median(gaps) * 1000:.1f} / "
            f"{max(gaps) * 1000:.1f} ms (min / median / max)"
        )
    return f"0 [{line}] {duration:.3f} s\n  {figures}"


def retimed(
    data: CassetteData,
    *,
    factor: float | None = None,
    cap: float | None = None,
    gap: float | None = None,
) -> CassetteData:
    """Stream offsets rewritten: scaled by `factor`, each gap (the wait before the first
    event included) cut to at most `cap` seconds, or every gap set to `gap` seconds.

    Raises `ValueError` when an offset would not be finite.
    """
    interactions = []
    for interaction in data.interactions:
        events = interaction.response.events
        if not events:
            interactions.append(interaction)
            continue
        waits = [events[0].offset] + [b.offset - a.offset for a, b in itertools.pairwise(events)]
        if factor is not None:
            waits = [w * factor for w in waits]
        if cap is not None:
            waits = [min(w, cap) for w in waits]
        if gap is not None:
            waits = [gap] * len(waits)
        offset, moved = 0.0, []
        for wait, event in zip(waits, events, strict=True):
            offset += wait
            if not math.isfinite(offset):
                raise ValueError("the new offsets would not be finite numbers of seconds")
            moved.append(RecordedEvent(offset, event.raw))
        response = replace(interaction.response, events=tuple(moved))
        interactions.append(Interaction(interaction.request, response))
    return CassetteData(interactions)


def scrubbed(data: CassetteData, redactor: Redactor) -> CassetteData:
    """Every interaction redacted by the recorder's rules, everything else left as it is."""
    return CassetteData([_scrubbed(i, redactor) for i in data.interactions])


def _scrubbed(interaction: Interaction, redactor: Redactor) -> Interaction:
    request, response = interaction.request, interaction.response
    request = replace(
        request,
        uri=redactor.uri(request.uri),
        headers=tuple(redactor.headers(request.headers)),
        body=redactor.body(request.body),
    )
    headers = tuple(redactor.headers(response.headers))
    if response.events is not None:
        events = redactor.recorded_events(response.events)
        body = b"".join(e.raw for e in events)
        headers = _length(headers, body, response.body)
        return Interaction(request, replace(response, headers=headers, body=body, events=events))
    body = _body(response, redactor)
    headers = _length(headers, body, response.body)
    return Interaction(request, replace(response, headers=headers, body=body))


def _length(
    headers: tuple[tuple[str, str], ...], body: bytes, before: bytes
) -> tuple[tuple[str, str], ...]:
    """A `Content-Length` that announced the old body announces the new one (vcrpy sends it)."""
    if body == before:
        return headers
    return tuple((k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers)


def _body(response: RecordedResponse, redactor: Redactor) -> bytes:
    """The body redacted; a compressed one is redacted inflated and compressed again."""
    decoded = response.decoded_body()
    if decoded is response.body:
        return redactor.body(response.body)
    cleaned = redactor.body(decoded)
    if cleaned == decoded:
        return response.body
    if (response.header("Content-Encoding") or "").lower() == "gzip":
        return gzip.compress(cleaned, mtime=0)
    return zlib.compress(cleaned)


def diff(before: CassetteData, after: CassetteData, *, timing: float = 0.05) -> list[str]:
    """What differs between two cassettes, interaction by interaction.

    Interactions are paired by method, path and body (the default matchers), in recorded
    order; for each pair the status, the JSON paths of the bodies that differ (vectors
    summarised by dimensions, norms and cosine) and stream events that differ, or whose
    wait differs by more than `timing` seconds. Empty when the two hold the same.
    """
    index = MatchIndex(after.interactions, DEFAULT_MATCHERS)
    lines: list[str] = []
    for number, old in enumerate(before.interactions):
        new = index.play(old.request)
        label = f"#{number} {describe(old.request)}"
        if not isinstance(new, Interaction):
            lines.append(f"only in the first: {label}")
            continue
        changes = _response_changes(old.response, new.response, timing)
        lines.extend(f"{label}: {change}" for change in changes)
    lines.extend(f"only in the second: {describe(i.request)}" for i in index.unplayed())
    return lines


def _response_changes(old: RecordedResponse, new: RecordedResponse, timing: float) -> list[str]:
    changes = []
    if old.status != new.status:
        changes.append(f"status {old.status} -> {new.status}")
    if old.events is not None or new.events is not None:
        return changes + _stream_changes(old.events or (), new.events or (), timing)
    changes += _value_changes(parsed(old.decoded_body()), parsed(new.decoded_body()), "body")
    return changes


def _stream_changes(
    old: tuple[RecordedEvent, ...], new: tuple[RecordedEvent, ...], timing: float
) -> list[str]:
    changes = []
    if len(old) != len(new):
        changes.append(f"{len(old)} events -> {len(new)}")
    for number, (a, b) in enumerate(zip(old, new, strict=False)):
        if a.raw != b.raw:
            changes += _value_changes(
                parsed(_event_data(a.raw)), parsed(_event_data(b.raw)), f"events[{number}]"
            )
    old_waits, new_waits = _waits(old), _waits(new)
    for number, (a_wait, b_wait) in enumerate(zip(old_waits, new_waits, strict=False)):
        if abs(a_wait - b_wait) > timing:
            changes.append(
                f"events[{number}] waits {a_wait * 1000:.1f} ms -> {b_wait * 1000:.1f} ms"
            )
    return changes


def _event_data(raw: bytes) -> bytes:
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    return b"\n".join(line[5:].lstrip(b" ") for line in lines if line.startswith(b"data:"))


def _waits(events: tuple[RecordedEvent, ...]) -> list[float]:
    if not events:
        return []
    return [events[0].offset] + [b.offset - a.offset for a, b in itertools.pairwise(events)]


def _value_changes(old: Any, new: Any, where: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            if key not in new:
                out.append(f"{where}.{key} removed")
            elif key not in old:
                out.append(f"{where}.{key} added")
            else:
                out += _value_changes(old[key], new[key], f"{where}.{key}")
        return out
    if is_vector(old) and is_vector(new):
        return [] if old == new else [_vector_change(old, new, where)]
    if isinstance(old, list) and isinstance(new, list):
        out = [f"{where}: {len(old)} items -> {len(new)}"] if len(old) != len(new) else []
        for number, (a, b) in enumerate(zip(old, new, strict=False)):
            out += _value_changes(a, b, f"{where}[{number}]")
        return out
    if old != new:
        return [f"{where}: {shortened(old, 80)} -> {shortened(new, 80)}"]
    return []


def _vector_change(old: list[float], new: list[float], where: str) -> str:
    if len(old) != len(new):
        return f"{where}: a vector of {len(old)} dimensions -> {len(new)}"
    old_norm = math.sqrt(sum(v * v for v in old))
    new_norm = math.sqrt(sum(v * v for v in new))
    dot = sum(a * b for a, b in zip(old, new, strict=True))
    cosine = dot / (old_norm * new_norm) if old_norm and new_norm else 0.0
    return (
        f"{where}: a vector of {len(old)} dimensions changed "
        f"(norm {old_norm:.4f} -> {new_norm:.4f}, cosine {cosine:.4f})"
    )
