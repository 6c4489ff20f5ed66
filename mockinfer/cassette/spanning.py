"""Credentials a stream spells across its events.

A streamed completion sends its text in pieces, one per event, at the same place in each
event's JSON (`completion[0].delta`, `choices[0].delta.content`); a client joins them. A key
the model writes out can so arrive as `sk-ab` in one event and the rest in the next, and no
event alone holds its shape. Here the strings at each place are joined in event order, as a
client joins them, and each credential found in the joined text is taken out of every piece
it covers: the first keeps `REDACTED` where its part was, the others lose theirs. Events
keep their order and number; only those that held a part are rewritten.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mockinfer.wire.sse import data_value

#: Where a string sits in an event's JSON: the keys and list positions leading to it.
Path = tuple[str | int, ...]
#: What strings are joined by: their path, but an item of a list that names its `index` (a
#: completion's choice) by that index, since each event may carry only some of the choices.
Place = tuple[str | int | tuple[str, int], ...]
_LINE_END = re.compile(r"\r\n|\r|\n")
#: Finds what must go in a text: the (start, end) of each credential, in order, apart.
SpanFinder = Callable[[str], list[tuple[int, int]]]


@dataclass
class _Piece:
    """One event's string at a place, and what it becomes."""

    event: int
    path: Path
    value: str
    start: int  # where it begins in the joined text
    cuts: list[tuple[int, int, str]]  # (start, end, replacement) in the piece, in order


def redact_spanning(events: Sequence[bytes], find: SpanFinder, replacement: str) -> list[bytes]:
    """`events` (each an SSE event's bytes) with every credential `find` sees in the joined
    strings of a place taken out of the pieces that spell it."""
    documents = [_document(raw) for raw in events]
    pieces_at: defaultdict[Place, list[_Piece]] = defaultdict(list)
    for index, document in enumerate(documents):
        if document is not None:
            for place, path, value in _strings(document.payload, (), ()):
                pieces_at[place].append(_Piece(index, path, value, 0, []))
    rewritten: dict[int, dict[Path, str]] = defaultdict(dict)
    for pieces in pieces_at.values():
        if len(pieces) < 2:
            continue  # one event's string: the event's own redaction sees it whole
        if _cut(pieces, find, replacement):
            for piece in pieces:
                if piece.cuts:
                    rewritten[piece.event][piece.path] = _applied(piece)
    out = list(events)
    for index, values in rewritten.items():
        document = documents[index]
        assert document is not None
        out[index] = _with_values(document, values)
    return out


def _cut(pieces: list[_Piece], find: SpanFinder, replacement: str) -> bool:
    """Mark on each piece its parts of the credentials found in the joined text."""
    offset = 0
    for piece in pieces:
        piece.start, offset = offset, offset + len(piece.value)
    joined = "".join(piece.value for piece in pieces)
    found = False
    for start, end in find(joined):
        covered = [
            piece
            for piece in pieces
            if piece.value and piece.start < end and start < piece.start + len(piece.value)
        ]
        for number, piece in enumerate(covered):
            low = max(start, piece.start) - piece.start
            high = min(end, piece.start + len(piece.value)) - piece.start
            piece.cuts.append((low, high, replacement if number == 0 else ""))
        found = found or bool(covered)
    return found


def _applied(piece: _Piece) -> str:
    value = piece.value
    for start, end, text in reversed(piece.cuts):
        value = value[:start] + text + value[end:]
    return value


def _strings(value: Any, place: Place, path: Path) -> Iterator[tuple[Place, Path, str]]:
    if isinstance(value, str):
        yield place, path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*place, key), (*path, key))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            named = child.get("index") if isinstance(child, dict) else None
            step = ("index", named) if isinstance(named, int) else position
            yield from _strings(child, (*place, step), (*path, position))


@dataclass
class _Event:
    """An event's lines (their ends told apart from them) and the JSON of its data."""

    lines: list[str]
    line_end: str
    payload: Any


def _document(raw: bytes) -> _Event | None:
    """An event with JSON data; None for any other event."""
    try:
        text = raw.decode("utf-8")
        lines = _LINE_END.split(text)
        values = [value for value in map(data_value, lines) if value is not None]
        if not values:
            return None
        payload = json.loads("\n".join(values))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    found = _LINE_END.search(text)
    return _Event(lines, found.group() if found else "\n", payload)


def _with_values(event: _Event, values: dict[Path, str]) -> bytes:
    """The event with the strings at `values`' paths replaced; its data on one line."""
    payload = event.payload
    for path, value in values.items():
        *steps, last = path
        parent = payload
        for step in steps:
            parent = parent[step]
        parent[last] = value
    try:
        return _rebuilt(event, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    except UnicodeEncodeError:  # a piece holds half a character (a lone surrogate escape)
        return _rebuilt(event, json.dumps(payload, separators=(",", ":")))


def _rebuilt(event: _Event, data: str) -> bytes:
    out: list[str] = []
    for line in event.lines:
        if data_value(line) is None:
            out.append(line)
        elif data:
            bom = "\ufeff" if line.startswith("\ufeff") else ""
            out.append(f"{bom}data: {data}")
            data = ""
    return event.line_end.join(out).encode("utf-8")
