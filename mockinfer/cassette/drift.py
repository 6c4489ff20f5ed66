"""Drift: where a live answer's shape differs from the recording's, its values aside.

A cassette goes stale when the cluster changes what it answers: a field renamed or gone, a
type changed, another vector size, new kinds of stream events. Values (the text of a
completion, the numbers of a vector) differ between any two calls and are never compared.
"""

from __future__ import annotations

import json
from typing import Any

from mockinfer.wire.sse import decode_events

#: Lists of numbers this long are vectors: compared by their dimensions, never listed.
VECTOR_LENGTH = 8


def drift(
    recorded_status: int,
    recorded: bytes,
    live_status: int,
    live: bytes,
    *,
    stream: bool,
) -> list[str]:
    """The differences of shape between a recorded answer and a live one."""
    out = [] if recorded_status == live_status else [f"status {recorded_status} vs {live_status}"]
    if stream:
        return out + _event_drift(recorded, live)
    return out + _shape_drift(parsed(recorded), parsed(live), "body")


def parsed(body: bytes) -> Any:
    """A body as JSON, or as its bytes when it is not JSON."""
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return body


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "text"


def is_vector(value: Any) -> bool:
    """Whether a value is a list of numbers long enough to be a vector."""
    return (
        isinstance(value, list)
        and len(value) >= VECTOR_LENGTH
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _shape_drift(recorded: Any, live: Any, where: str) -> list[str]:
    if _kind(recorded) != _kind(live):
        return [f"{where}: {_kind(recorded)} recorded, {_kind(live)} live"]
    if isinstance(recorded, dict):
        out: list[str] = []
        for key in recorded:
            if key not in live:
                out.append(f"{where}.{key}: recorded, not live")
            else:
                out += _shape_drift(recorded[key], live[key], f"{where}.{key}")
        out += [f"{where}.{key}: live, not recorded" for key in live if key not in recorded]
        return out
    if is_vector(recorded) or is_vector(live):
        if len(recorded) != len(live):
            return [f"{where}: {len(recorded)} dimensions recorded, {len(live)} live"]
        return []
    if isinstance(recorded, list) and recorded and live:
        # Items of one array share a shape: the first of each stands for the rest.
        return _shape_drift(recorded[0], live[0], f"{where}[0]")
    return []


def _event_drift(recorded: bytes, live: bytes) -> list[str]:
    """Event kinds (name and the keys of its data) seen on one side only."""
    recorded_kinds, live_kinds = _event_kinds(recorded), _event_kinds(live)
    out = [f"stream: {k} recorded, not live" for k in recorded_kinds if k not in live_kinds]
    out += [f"stream: {k} live, not recorded" for k in live_kinds if k not in recorded_kinds]
    return out


def _event_kinds(stream: bytes) -> list[str]:
    kinds: list[str] = []
    for event in decode_events(stream):
        data = parsed(event.data.encode())
        keys = ",".join(sorted(data)) if isinstance(data, dict) else _kind(data)
        kind = f"event {event.event} {{{keys}}}"
        if event.done:
            kind = f"event {event.event} [DONE]"
        if kind not in kinds:
            kinds.append(kind)
    return kinds
