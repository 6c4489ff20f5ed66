"""What an engine answers with: a JSON document or a timed stream of SSE events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from mockinfer.wire.sse import DONE_EVENT, encode_event


def compact_json(value: Any) -> bytes:
    """JSON as ES writes it on the wire: no spaces, UTF-8 unescaped.

    `orjson.Fragment` values (already-encoded JSON, such as a cached vector) are spliced in.
    """
    return orjson.dumps(value)


@dataclass(frozen=True)
class JsonReply:
    """A JSON body with its HTTP status."""

    body: Any
    status: int = 200


@dataclass(frozen=True)
class StreamEvent:
    """One framed SSE event and its offset in seconds from the start of the response."""

    raw: bytes
    offset: float = 0.0


@dataclass(frozen=True)
class StreamReply:
    """A complete SSE response: status and events in order."""

    events: tuple[StreamEvent, ...]
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


def message_stream(payloads: Sequence[bytes], offsets: Sequence[float]) -> StreamReply:
    """Frame JSON payloads as message events, end with `[DONE]`, and attach one offset each.

    `offsets` has one entry per payload plus one for the `[DONE]` event.
    """
    frames = [*(encode_event(p) for p in payloads), DONE_EVENT]
    timed = zip(frames, offsets, strict=True)
    return StreamReply(tuple(StreamEvent(raw, offset) for raw, offset in timed))


@dataclass(frozen=True)
class RawReply:
    """A response replayed as recorded: status, headers and exact body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
