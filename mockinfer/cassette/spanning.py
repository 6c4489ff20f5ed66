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
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: Where a string sits in an event's JSON: the keys and list indices leading to it.
Place = tuple[str | int, ...]
#: Finds what must go in a text: the (start, end) of each credential, in order, apart.
SpanFinder = Callable[[str], list[tuple[int, int]]]


@dataclass
class _Piece:
    """One event's string at a place, and what it becomes."""

    event: int
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
            for place, value in _strings(document[1], ()):
                pieces_at[place].append(_Piece(index, value, 0, []))
    rewritten: dict[int, dict[Place, str]] = defaultdict(dict)
    for place, pieces in pieces_at.items():
        if len(pieces) < 2:
            continue  # one event's string: the event's own redaction has seen it whole
        if _cut(pieces, find, replacement):
            for piece in pieces:
                if piece.cuts:
                    rewritten[piece.event][place] = _applied(piece)
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


def _strings(value: Any, place: Place) -> Iterator[tuple[Place, str]]:
    if isinstance(value, str):
        yield place, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*place, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*place, index))


def _document(raw: bytes) -> tuple[list[str], Any] | None:
    """An event's lines and the JSON its data lines join into; None for any other event."""
    try:
        lines = raw.decode("utf-8").split("\n")
        data = [line.partition(":")[2] for line in lines if line.startswith("data:")]
        if not data:
            return None
        return lines, json.loads("\n".join(part.removeprefix(" ") for part in data))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _with_values(document: tuple[list[str], Any], values: dict[Place, str]) -> bytes:
    """The event with the strings at `values`' places replaced; its data on one line."""
    lines, payload = document
    for place, value in values.items():
        *path, last = place
        parent = payload
        for step in path:
            parent = parent[step]
        parent[last] = value
    data = "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    out: list[str] = []
    for line in lines:
        if not line.startswith("data:"):
            out.append(line)
        elif data:
            out.append(data)
            data = ""
    return "\n".join(out).encode("utf-8")
