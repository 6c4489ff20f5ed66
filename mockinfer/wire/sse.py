"""Server-Sent Events exactly as Elasticsearch writes them.

Every event starts with a UTF-8 byte order mark, then `event: <type>`, then one `data:` line
and a blank line. The stream ends with a `[DONE]` message event; a failure ends it with one
`error` event instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOM = "\ufeff".encode()
CONTENT_TYPE = "text/event-stream"
DONE_DATA = b"[DONE]"


def encode_event(data: bytes, event: str = "message") -> bytes:
    """Frame one event: BOM, `event:` line, one `data:` line, blank line."""
    return b"".join((BOM, b"event: ", event.encode(), b"\ndata: ", data, b"\n\n"))


DONE_EVENT = encode_event(DONE_DATA)


def is_done(raw: bytes) -> bool:
    """Whether one framed event is the `[DONE]` that ends a complete stream."""
    decoded = decode_events(raw)
    return len(decoded) == 1 and decoded[0].data == DONE_DATA.decode()


@dataclass(frozen=True)
class SseEvent:
    """One decoded event with the exact bytes it was framed in."""

    event: str
    data: str
    raw: bytes

    @property
    def done(self) -> bool:
        """Whether this is the `[DONE]` that ends a complete stream."""
        return self.data == DONE_DATA.decode()

    def json(self) -> Any:
        """The event's data parsed (a chunk, a delta, or an error body)."""
        return json.loads(self.data)


def read_events(body: bytes | str) -> list[SseEvent]:
    """The events of a `_stream` response, as a test reads them: from the official client's
    `perform_request(...).body` (text) or from any HTTP client's bytes."""
    return decode_events(body.encode("utf-8") if isinstance(body, str) else body)


def streamed_text(events: list[SseEvent]) -> str:
    """The text a completion or chat completion stream carries: its deltas joined."""
    pieces: list[str] = []
    for event in events:
        if event.event != "message" or event.done:
            continue
        chunk = event.json()
        if not isinstance(chunk, dict):
            continue
        for delta in chunk.get("completion") or ():
            pieces.append(delta.get("delta") or "")
        for choice in chunk.get("choices") or ():
            pieces.append((choice.get("delta") or {}).get("content") or "")
    return "".join(pieces)


#: The blank line that ends an event, after any of the line ends SSE takes (CRLF, LF, CR).
#: A CR last in the buffer may be the start of a CRLF still to come: it ends nothing yet.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?=[^\n])|\n)(?:\r\n|\r(?=[^\n])|\n)")


def event_end(buffer: bytes) -> int:
    """Where the first whole event of a stream being read ends (past its blank line); -1
    while none has."""
    match = _EVENT_END.search(buffer)
    return -1 if match is None else match.end()


def data_value(line: str) -> str | None:
    """A `data:` line's value, one leading space dropped (a BOM may start an event's first
    line); None for any other line."""
    field, colon, value = line.removeprefix("\ufeff").partition(":")
    return value.removeprefix(" ") if colon and field == "data" else None


def decode_events(stream: bytes) -> list[SseEvent]:
    """Split a complete SSE byte stream into events.

    Tolerant of the per-event BOM, CRLF line ends and multi-line data (joined with newlines),
    as the SSE specification asks; the `raw` bytes of each event are kept verbatim so that a
    replay writes exactly what was received.
    """
    events: list[SseEvent] = []
    start = 0
    normalized = stream.replace(b"\r\n", b"\n")
    crlf = len(normalized) != len(stream)
    while start < len(normalized):
        end = normalized.find(b"\n\n", start)
        stop = len(normalized) if end == -1 else end + 2
        block = normalized[start:stop]
        start = stop
        event, data_lines = "message", []
        for line in block.split(b"\n"):
            text = line.removeprefix(BOM).decode("utf-8", errors="replace")
            if text.startswith("event:"):
                event = text[6:].strip()
            elif (value := data_value(text)) is not None:
                data_lines.append(value)
        if not data_lines:
            continue
        raw = block.replace(b"\n", b"\r\n") if crlf else block
        events.append(SseEvent(event=event, data="\n".join(data_lines), raw=raw))
    return events


def map_joined_data(lines: list[str], transform: Callable[[str], str]) -> list[str]:
    """`lines` of a stream, with the data of each event that spans several `data:` lines
    passed through `transform` as the text a client joins them into; an event whose data
    `transform` leaves unchanged keeps its lines."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        run = index
        while run < len(lines) and lines[run].removeprefix("\ufeff").startswith("data:"):
            run += 1
        if run - index < 2:
            out.append(lines[index])
            index += 1
            continue
        head = lines[index].partition(":")[0]
        values = [line.partition(":")[2] for line in lines[index:run]]
        space = " " if all(v.startswith(" ") for v in values) else ""
        joined = "\n".join(v[len(space) :] for v in values)
        changed = transform(joined)
        if changed == joined:
            out += lines[index:run]
        else:
            first, *rest = changed.split("\n")
            out.append(f"{head}:{space}{first}")  # the first keeps a BOM before it
            out += [f"data:{space}{part}" for part in rest]
        index = run
    return out
