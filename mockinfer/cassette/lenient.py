"""Values by name in JSON that a parser refuses (comments, nesting too deep to walk, JSON
quoted inside a string): each `"name": value` pair is found in the text, and its value
replaced whatever its kind, a string, a number, an object or an array. Literals (`true`,
`false`, `null`) are kept: they hold nothing to hide."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

#: A quoted name and its colon (escapes allowed in the name).
_NAME = re.compile(r'"(?P<name>(?:[^"\\\n]|\\.){1,100})"\s*:\s*')
#: A `\"name\": value` pair of JSON quoted inside a JSON string (an answer that echoes a
#: request body in an error's reason), its value a string or a scalar.
_QUOTED_PAIR = re.compile(
    r'(?P<lead>\\"(?P<name>[^"\\]{1,100})\\"\s*:\s*)'
    r'(?P<value>\\"(?:[^"\\]|\\[^"])*\\"|[^,}\]\s\\"]+)'
)
#: What changes the state of a scan through a value.
_STRUCTURE = re.compile(r'["\\{}\[\]]')
#: A value that is not a string, an object or an array: up to what ends it.
_SCALAR = re.compile(r"[^,}\]\s]+")
_LITERALS = ("true", "false", "null")


def replace_values(text: str, wanted: Callable[[str], bool], replacement: str) -> str:
    """`text` with the value of each pair whose name is `wanted` replaced by the string
    `replacement`; and so one level down, in JSON quoted inside its strings."""
    if '\\"' in text:
        text = _replace_quoted(text, wanted, replacement)
    if '"' not in text:
        return text
    quoted = json.dumps(replacement)
    pieces: list[str] = []
    kept_up_to = 0
    for match in _NAME.finditer(text):
        start = match.end()
        if match.start() < kept_up_to or not wanted(_unescaped(match["name"])):
            continue
        end = _value_end(text, start)
        if text[start:end] in ("", *_LITERALS, quoted):
            continue
        pieces += (text[kept_up_to:start], quoted)
        kept_up_to = end
        if end == len(text):
            break
    return "".join(pieces) + text[kept_up_to:] if pieces else text


def _replace_quoted(text: str, wanted: Callable[[str], bool], replacement: str) -> str:
    def replaced(match: re.Match[str]) -> str:
        if match["value"] in _LITERALS or not wanted(match["name"]):
            return match.group(0)
        return f'{match["lead"]}\\"{replacement}\\"'

    return _QUOTED_PAIR.sub(replaced, text)


def _unescaped(name: str) -> str:
    if "\\" not in name:
        return name
    try:
        decoded: str = json.loads(f'"{name}"')
    except ValueError:
        return name
    return decoded


def _value_end(text: str, start: int) -> int:
    """Where the value that starts at `start` ends: after its closing quote or bracket; at
    the text's end if it never closes (what follows an open value is taken for part of it,
    and a text of many such values is scanned once)."""
    if start >= len(text):
        return start
    opening = text[start]
    if opening not in '"{[':
        scalar = _SCALAR.match(text, start)
        return scalar.end() if scalar else start
    depth = 0
    in_string = opening == '"'
    index = start + 1
    while (found := _STRUCTURE.search(text, index)) is not None:  # C skips the plain runs
        index = found.start()
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
                if opening == '"':
                    return index + 1
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            if depth == 0:
                return index + 1
            depth -= 1
        index += 1
    return len(text)
