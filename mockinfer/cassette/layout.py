"""A reversible readable layout for compact JSON bodies.

Elasticsearch answers compact JSON on one line, which makes a cassette diff useless. The
layout puts one member per line (arrays of scalars stay on one line, so a vector is one line)
by adding whitespace outside strings only. Removing that whitespace restores the original
bytes exactly, so a replay serves what was recorded, and any JSON reader sees the same value.

Both directions work on regular-expression tokens rather than characters: a vector of a
thousand numbers is one token, which keeps a cassette of many embeddings quick to write and
to read.
"""

from __future__ import annotations

import re

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
#: Strings, and one left open at the end of the text, which runs to its end.
_STRINGS = re.compile(f"({_STRING}?)", re.DOTALL)
_TOKENS = re.compile(
    # An array of scalars, kept on one line; the first form (no strings) is the quick one.
    rf"(?P<array>\[[^\[\]{{}}\"]*\]|\[(?:{_STRING}|[^\[\]{{}}\"])*\])"
    rf"|(?P<string>{_STRING})"
    r"|(?P<mark>[{}\[\],:])"
    r"|[^\"{}\[\],:]+",
    re.DOTALL,
)
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_OPEN = "{["
#: Deeper bodies are stored as received: laid out, they would grow with the square of depth.
_MAX_DEPTH = 64
_CLOSE = "}]"


def lay_out(text: str) -> str | None:
    """The readable layout of a compact JSON object or array, or None when `text` is not one
    (or has whitespace outside its strings): only a layout that `compact` undoes exactly is
    returned, so a replay serves the recorded bytes."""
    if text[:1] not in _OPEN or text[-1:] not in _CLOSE:
        return None
    if any(space in text for space in " \t\r\n") and any(
        _WHITESPACE.search(part) for part in _STRINGS.split(text)[::2]
    ):
        return None
    try:
        laid_out = expand(text, max_depth=_MAX_DEPTH)
    except _TooDeep:
        return None
    return laid_out if compact(laid_out) == text else None


def compact(text: str) -> str:
    """Remove all whitespace outside JSON strings."""
    parts = _STRINGS.split(text)
    parts[::2] = [_without_whitespace(part) for part in parts[::2]]
    return "".join(parts)


#: Deletes JSON's four whitespace characters, and no other.
_NO_WHITESPACE = str.maketrans("", "", " \t\r\n")


def _without_whitespace(text: str) -> str:
    return text.translate(_NO_WHITESPACE)


class _TooDeep(Exception):
    pass


def expand(text: str, indent: str = "  ", max_depth: int | None = None) -> str:
    """Lay compact JSON out one member per line; arrays of scalars stay on one line.

    Past `max_depth` levels (the indentation would grow with the square of the depth) it
    stops with `_TooDeep`.
    """
    out: list[str] = []
    depth = 0
    position = 0
    while (token := _next_token(text, position)) is not None:
        kind, value, position = token
        if kind == "array":
            out.append(_spaced(value))
        elif kind != "mark":
            out.append(value)
        elif value in _OPEN:
            out.append(value)
            if position < len(text) and text[position] not in _CLOSE:
                depth += 1
                if max_depth is not None and depth > max_depth:
                    raise _TooDeep
                out.append("\n" + indent * depth)
        elif value in _CLOSE:
            if text[position - 2] not in _OPEN:
                depth -= 1
                out.append("\n" + indent * depth)
            out.append(value)
        elif value == ",":
            out.append(",\n" + indent * depth)
        else:
            out.append(": ")
    return "".join(out)


def _next_token(text: str, position: int) -> tuple[str, str, int] | None:
    """(kind, text, end) of the token at or after `position`, or None at the end.

    An array of numbers (a vector) is found with `str.find`, tens of times faster than the
    regular expression walking it character by character.
    """
    if text.startswith("[", position):
        end = text.find("]", position) + 1
        if end and all(text.find(mark, position + 1, end) < 0 for mark in '[{}"'):
            return "array", text[position:end], end
    match = _TOKENS.search(text, position)
    if match is None:
        return None
    kind = match.lastgroup or "other"
    return kind, match[0], match.end()


def _spaced(array: str) -> str:
    """An array of scalars with a space after each comma outside its strings."""
    if '"' not in array:
        return array.replace(",", ", ")
    parts = _STRINGS.split(array)
    parts[::2] = [part.replace(",", ", ") for part in parts[::2]]
    return "".join(parts)
