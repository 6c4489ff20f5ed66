"""Reading the YAML that mockinfer writes, quickly; anything else is left to PyYAML.

PyYAML builds an event, a node and an object for every value; a cassette of ten thousand
embeddings takes seconds. The files mockinfer writes (`emit`) use a small part of YAML:
block mappings and sequences, plain scalars of a few safe forms, one-line single-quoted text,
`{}`, `[]` and literal blocks. This reader takes exactly that part, line by line, and gives
the value PyYAML would give; at the first line outside it, it gives up (`Unsupported`) and the
caller loads the text with PyYAML, whose errors then describe the file.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from mockinfer.cassette.emit import PLAIN_TEXT, RESERVED_WORDS


class Unsupported(Exception):
    """The text uses YAML this reader does not take."""


#: Characters PyYAML reads differently (other line breaks, a byte order mark) or refuses.
_OUTSIDE = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
#: The ASCII characters PyYAML reads as written; for ASCII text, deleting them is the quick
#: way to find any other.
_ASCII_INSIDE = bytes(range(0x20, 0x7F)) + b"\t\n"
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:e[-+][0-9]+)?")
_SPECIAL_FLOATS = {".inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
_CONSTANTS: dict[str, Any] = {"null": None, "true": True, "false": False}
_LITERALS = {"|": "", "|-": "-", "|+": "+"}
_BINARY_TAG = "!!binary "


def load(text: str) -> Any:
    """What `yaml.safe_load(text)` gives, for text in the part of YAML mockinfer writes.

    Raises `Unsupported` for anything else.
    """
    if _has_outside_characters(text) or not text.endswith("\n"):
        raise Unsupported
    lines = text.split("\n")
    lines.pop()
    if lines and lines[-1] == "...":
        lines.pop()
    if not lines or lines[0].startswith(" "):
        raise Unsupported
    reader = _Reader(lines)
    try:
        document = reader.mapping(0)
    except RecursionError:  # nested deeper than this reader goes: PyYAML's turn
        raise Unsupported from None
    if reader.position != len(lines):
        raise Unsupported
    return document


def _has_outside_characters(text: str) -> bool:
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _ASCII_INSIDE))
    return _OUTSIDE.search(text) is not None


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0

    def mapping(self, indent: int) -> dict[str, Any]:
        """A block mapping whose keys sit at `indent`, up to the first line that is not one
        of its entries."""
        mapping: dict[str, Any] = {}
        lines = self.lines
        while self.position < len(lines):
            line = lines[self.position]
            content = line[indent:]
            if (
                not line.startswith(" " * indent)
                or content[:1] in (" ", "")
                or content[:2] in ("- ", "-")
            ):
                if _indent(line) > indent:
                    raise Unsupported
                return mapping
            self.position += 1
            key, rest = _entry(content)
            if key is None:
                raise Unsupported
            mapping[key] = self.value(rest, indent)
        return mapping

    def value(self, rest: str, indent: int) -> Any:
        """The value after `key:` at `indent`: on the same line, or the block below."""
        if rest:
            return self.inline(rest, indent)
        if self.position == len(self.lines):
            return None
        line = self.lines[self.position]
        below = _indent(line)
        if below == indent and line[indent:].startswith("- "):
            return self.sequence(indent)
        if below > indent:
            if line[below:].startswith("- "):
                return self.sequence(below)
            return self.mapping(below)
        return None

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        lines = self.lines
        while self.position < len(lines):
            line = lines[self.position]
            if _indent(line) != indent or not line.startswith("- ", indent):
                break
            self.position += 1
            content = line[indent + 2 :]
            key, rest = _entry(content)
            if key is not None:
                mapping = {key: self.value(rest, indent + 2)}
                mapping.update(self.mapping(indent + 2))
                items.append(mapping)
            else:
                items.append(self.inline(content, indent))
        return items

    def inline(self, text: str, indent: int) -> Any:
        """A value written on its key's line: a scalar or a literal block's header."""
        chomping = _LITERALS.get(text)
        if chomping is not None:
            return self.literal(indent, chomping)
        if text.startswith(_BINARY_TAG):
            chomping = _LITERALS.get(text[len(_BINARY_TAG) :])
            if chomping is None:
                raise Unsupported
            try:
                return base64.b64decode(self.literal(indent, chomping), validate=False)
            except (binascii.Error, ValueError):
                raise Unsupported from None
        if text.startswith('"'):
            return self.double_quoted(text)
        return scalar(text)

    def double_quoted(self, text: str) -> str:
        """Double-quoted text, over several lines where it was folded: a line ending in an
        escaped line break joins the next directly, any other line break reads as a space;
        the next line's indentation is dropped either way."""
        pieces: list[str] = []
        rest = text[1:]
        while True:
            end = _DOUBLE_QUOTED_END.search(rest)
            if end is not None:
                if end.end() != len(rest):
                    raise Unsupported
                pieces.append(rest[: end.start() + len(end.group(1))])
                break
            if self.position == len(self.lines) or rest.endswith((" ", "\t")):
                raise Unsupported  # spaces before a fold are dropped: never written so
            pieces.append(rest[:-1] if _ESCAPED_BREAK.search(rest) else rest + " ")
            line = self.lines[self.position]
            if _DOCUMENT_MARKER.match(line):
                raise Unsupported  # PyYAML refuses a document marker inside a scalar
            rest = line.lstrip(" \t")
            self.position += 1
            if not rest:
                raise Unsupported  # an empty line reads as a line break: never written so
        return _ESCAPE.sub(_unescape, "".join(pieces))

    def literal(self, indent: int, chomping: str) -> str:
        """A literal block under a key at `indent`, its indentation taken from its first line."""
        lines = self.lines
        first = self.position
        while first < len(lines) and lines[first] == "":
            first += 1
        if first == len(lines):
            raise Unsupported
        content_indent = _indent(lines[first])
        if content_indent == len(lines[first]):
            raise Unsupported  # a line of spaces: PyYAML's reading depends on its length
        if content_indent <= indent:
            raise Unsupported
        if lines[first][content_indent] == "\t":
            raise Unsupported  # libyaml reads a tab here as indentation, and refuses it
        prefix = " " * content_indent
        end = first
        while end < len(lines):
            line = lines[end]
            if line.startswith(prefix) or line == "":
                if line.endswith(" ") and not line.strip(" "):
                    raise Unsupported
            elif not line.strip(" "):
                raise Unsupported
            else:
                break  # less indented: the block is over
            end += 1
        text = "\n".join([line[content_indent:] for line in lines[self.position : end]]) + "\n"
        self.position = end
        if chomping == "-":
            return text.rstrip("\n")
        if chomping == "":
            return text.rstrip("\n") + "\n"
        return text


#: The closing quote: one not escaped (after an even run of backslashes).
_DOUBLE_QUOTED_END = re.compile(r'(?<!\\)((?:\\\\)*)"')
#: A line that starts or ends a YAML document.
_DOCUMENT_MARKER = re.compile(r"(?:---|\.\.\.)(?:[ \t]|$)")
#: A line ending in an escaped line break (an odd run of backslashes).
_ESCAPED_BREAK = re.compile(r"(?<!\\)(?:\\\\)*\\$")
_ESCAPES = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2) or match.group(3)
    if code is not None:
        point = int(code, 16)
        if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            raise Unsupported  # libyaml refuses these code points
        return chr(point)
    replacement = _ESCAPES.get(match.group(4))
    if replacement is None:
        raise Unsupported  # PyYAML refuses an unknown escape
    return replacement


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@functools.lru_cache(maxsize=4096)
def _entry(content: str) -> tuple[str | None, str]:
    """A mapping entry's key and what follows `key:` (stripped), or (None, "") when the
    content is not an entry."""
    if content.startswith("'"):
        end = _quote_end(content)
        after = content[end:]
        if after == ":":
            return _single_quoted(content[:end]), ""
        if after.startswith(": "):
            return _single_quoted(content[:end]), after[2:]
        if after:
            raise Unsupported
        return None, ""
    if content.startswith('"'):
        closing = _DOUBLE_QUOTED_END.search(content, 1)
        if closing is not None and content[closing.end() :].startswith(":"):
            raise Unsupported  # a double-quoted key: never written so
        return None, ""
    colon = content.find(": ")
    if colon < 0:
        if not content.endswith(":"):
            return None, ""
        colon = len(content) - 1
    key = scalar(content[:colon])
    if not isinstance(key, str):
        raise Unsupported
    return key, content[colon + 2 :]


def _quote_end(text: str) -> int:
    """Where a single-quoted scalar at the start of `text` ends (after its closing quote)."""
    index = 1
    while True:
        index = text.find("'", index)
        if index < 0:
            raise Unsupported
        if text.startswith("''", index):
            index += 2
            continue
        return index + 1


def _single_quoted(text: str) -> str:
    return text[1:-1].replace("''", "'")


def scalar(text: str) -> Any:
    """A one-line scalar as PyYAML's safe loader reads it."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return _immutable_scalar(text)


@functools.lru_cache(maxsize=4096)
def _immutable_scalar(text: str) -> Any:
    """Scalars that are not containers, remembered: a cassette repeats its keys and headers."""
    if text.startswith("'"):
        if _quote_end(text) != len(text):
            raise Unsupported
        return _single_quoted(text)
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text in RESERVED_WORDS:
        raise Unsupported
    if PLAIN_TEXT.fullmatch(text) is not None:
        return text
    if _INTEGER.fullmatch(text) is not None:
        return int(text)
    if _FLOAT.fullmatch(text) is not None:
        return float(text)
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    raise Unsupported
