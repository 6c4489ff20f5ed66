"""A reversible readable layout for compact JSON bodies.

Elasticsearch answers compact JSON on one line, which makes a cassette diff useless. The
layout puts one member per line (arrays of scalars stay on one line, so a vector is one line)
by adding whitespace outside strings only. Removing that whitespace restores the original
bytes exactly, so a replay serves what was recorded, and any JSON reader sees the same value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

_OPEN = "{["
_CLOSE = "}]"


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, bool]]:
    """Each character from `start` with whether it is structure (outside any JSON string)."""
    in_string = escaped = False
    for index in range(start, len(text)):
        ch = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            yield index, ch, False
        elif ch == '"':
            in_string = True
            yield index, ch, False
        else:
            yield index, ch, True


def is_compact_json(text: str) -> bool:
    """Whether `text` is JSON with no whitespace outside strings (so the layout is reversible)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return compact(text) == text


def compact(text: str) -> str:
    """Remove all whitespace outside JSON strings."""
    return "".join(ch for _, ch, structural in _scan(text) if not structural or ch not in " \t\r\n")


def expand(text: str, indent: str = "  ") -> str:
    """Lay compact JSON out one member per line; arrays of scalars stay on one line."""
    out: list[str] = []
    depth = inline = 0
    for i, ch, structural in _scan(text):
        if not structural:
            out.append(ch)
        elif ch in _OPEN:
            out.append(ch)
            if ch == "[" and _scalar_array(text, i):
                inline += 1
            elif text[i + 1] not in _CLOSE:
                depth += 1
                out.append("\n" + indent * depth)
        elif ch in _CLOSE:
            if inline and ch == "]":
                inline -= 1
            elif text[i - 1] not in _OPEN:
                depth -= 1
                out.append("\n" + indent * depth)
            out.append(ch)
        elif ch == ",":
            out.append(", " if inline else ",\n" + indent * depth)
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
    return "".join(out)


def _scalar_array(text: str, start: int) -> bool:
    """Whether the array opening at `start` holds no objects or arrays."""
    for _, ch, structural in _scan(text, start + 1):
        if structural and ch in _OPEN:
            return False
        if structural and ch == "]":
            return True
    return False
