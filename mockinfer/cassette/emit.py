"""YAML text for cassette documents, written the way PyYAML writes them, only faster.

A cassette of thousands of embeddings is tens of megabytes; PyYAML builds a node per value in
Python and writes about 15 MB/s. This writer handles the shapes a cassette holds (mappings
with sorted keys, block sequences, and text in plain, single-quoted or literal style) in a few
string operations each, and hands any value it cannot place exactly to PyYAML, rendered at
the same indentation. The result is byte for byte what `yaml.dump` gives with the settings
below, so rewriting an existing cassette changes only what changed.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import yaml

#: Longest line PyYAML writes before folding text at a space.
WIDTH = 4096
_INDENT = "  "
#: Text this long or shorter never reaches the folding width, whatever its indentation.
_UNFOLDED = 2048
#: PyYAML writes keys up to 128 characters as simple keys; stay well inside.
_SIMPLE_KEY = 100
#: Text up to this long is likely to repeat across interactions: its style is remembered.
_REPEATED = 256
_DOCUMENT_END = "...\n"
#: The header of a block scalar at the end of a line of PyYAML's output.
_BLOCK_SCALAR = re.compile(r"(?m)(?:^|[:?-] )(?:!!\w+ )?[|>][-+0-9]*$")

#: Characters libyaml and PyYAML both write as they are (line breaks, U+2028 and U+2029
#: included, and tabs excluded).
_PRINTABLE = "\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
#: Text both writers leave plain: words of safe characters joined by single spaces, a colon
#: only inside a word, starting with a letter, `_` or `/` (never a YAML indicator or number).
_WORD_CHARACTERS = r"""[A-Za-z0-9_./=&%?+\-()~,;@!*$^<>'"\[\]{}|\\`]"""
_WORD = rf"{_WORD_CHARACTERS}+(?::{_WORD_CHARACTERS}+)*"
PLAIN_TEXT = re.compile(rf"(?=[A-Za-z_/]){_WORD}(?: {_WORD})*")
#: Words the YAML 1.1 resolver reads as booleans or null, so they cannot stay plain.
RESERVED_WORDS = frozenset(
    spelling
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for spelling in (word, word.capitalize(), word.upper())
)
#: Text that may go in single quotes: one line of printable characters.
_QUOTABLE = re.compile(f"[{_PRINTABLE}]*")
#: Text that may be a literal block, once no line ends in a space: printable lines.
_LINES = re.compile(f"[{_PRINTABLE}\n]*")


class _LiteralDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line text as literal blocks, so laid-out JSON reads as written."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_str)


def pyyaml_dump(document: Any) -> str:
    """What PyYAML writes for `document` with the cassette's settings."""
    text: str = yaml.dump(
        document, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=True, width=WIDTH
    )
    return text


def dump(document: dict[str, Any]) -> str:
    """The YAML text of a mapping, identical to `pyyaml_dump(document)`."""
    if not document:
        return "{}\n"
    writer = _Writer()
    writer.mapping(document, 0)
    if writer.open_ended:
        writer.out.append(_DOCUMENT_END)
    return "".join(writer.out)


class _Writer:
    """The pieces of a document, and whether it is open-ended so far: libyaml ends a
    document with `...` when the last block scalar it wrote kept its final line breaks
    (`|+`), however much follows it."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.open_ended = False

    def mapping(self, mapping: dict[str, Any], depth: int) -> None:
        for key in sorted(mapping):
            self.entry(key, mapping[key], depth)

    def entry(self, key: Any, value: Any, depth: int) -> None:
        """`key: value` at `depth`, each line ending in a line break."""
        indent = _INDENT * depth
        name = _plain(key) if isinstance(key, str) and len(key) <= _SIMPLE_KEY else None
        if name is None:
            self.by_pyyaml(key, value, depth)
        elif isinstance(value, dict) and value:
            self.out.append(f"{indent}{name}:\n")
            self.mapping(value, depth + 1)
        elif isinstance(value, list) and value:
            # Mappings are written as they come; scalars must fit on their item's line.
            mappings = [isinstance(item, dict) and bool(item) for item in value]
            texts = [
                None if m else _scalar(item, depth) for item, m in zip(value, mappings, strict=True)
            ]
            if any(
                not m and (t is None or "\n" in t) for m, t in zip(mappings, texts, strict=True)
            ):
                self.by_pyyaml(key, value, depth)
                return
            self.out.append(f"{indent}{name}:\n")
            for item, text in zip(value, texts, strict=True):
                self.item(item, text, depth)
        elif isinstance(value, dict | list):
            self.out.append(f"{indent}{name}: {'{}' if isinstance(value, dict) else '[]'}\n")
        else:
            text = _scalar(value, depth)
            if text is None:
                self.by_pyyaml(key, value, depth)
                return
            if text[0] == "|":
                self.open_ended = text[1] == "+"
            self.out.append(f"{indent}{name}: {text}\n")

    def item(self, item: Any, text: str | None, depth: int) -> None:
        """One item of a sequence under a key at `depth` (PyYAML does not indent those): a
        mapping, or a scalar already written as `text`."""
        indent = _INDENT * depth
        if text is None:
            first = len(self.out)
            self.mapping(item, depth + 1)
            self.out[first] = f"{indent}- {self.out[first][len(indent) + 2 :]}"
        else:
            self.out.append(f"{indent}- {text}\n")

    def by_pyyaml(self, key: Any, value: Any, depth: int) -> None:
        """`key: value` as PyYAML writes it at `depth`: nested under placeholder keys to
        reach the same indentation, which is then cut off."""
        document: dict[str, Any] = {key: value}
        for _ in range(depth):
            document = {"a": document}
        text = pyyaml_dump(document).split("\n", depth)[depth]
        if text.endswith("\n" + _DOCUMENT_END):
            self.open_ended = True
            text = text.removesuffix(_DOCUMENT_END)
        elif _BLOCK_SCALAR.search(text):
            self.open_ended = False
        self.out.append(text)


def _scalar(value: Any, depth: int) -> str | None:
    """A scalar as it follows `key: `, or None to let PyYAML write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if not isinstance(value, str):
        return None
    if "\n" in value:
        return _literal(value, depth)
    if len(value) <= _REPEATED:
        return _line_of_repeated_text(value)
    return _line(value) if len(value) <= _UNFOLDED else None


def _line(text: str) -> str | None:
    """One line of text, plain or single-quoted, or None to let PyYAML decide."""
    plain = _plain(text)
    if plain is not None:
        return plain
    if text and text[0] in "{['\"" and _QUOTABLE.fullmatch(text):
        # Starting with a flow indicator or a quote, it cannot be plain: PyYAML quotes it.
        return "'" + text.replace("'", "''") + "'"
    return None


#: Header names and values, methods and addresses come back in every interaction.
_line_of_repeated_text = functools.lru_cache(maxsize=4096)(_line)


@functools.lru_cache(maxsize=4096)
def _plain(text: str) -> str | None:
    if text in RESERVED_WORDS or PLAIN_TEXT.fullmatch(text) is None:
        return None
    return text


def _literal(text: str, depth: int) -> str | None:
    """A literal block (`|-`, `|` or `|+`), content indented one step past the key."""
    if text[0] in " \n" or text.endswith(" ") or " \n" in text:
        return None
    if _LINES.fullmatch(text) is None:
        return None
    if not text.endswith("\n"):
        chomping, body = "-", text + "\n"
    elif len(text) > 1 and text[-2] == "\n":
        chomping, body = "+", text
    else:
        chomping, body = "", text
    indent = _INDENT * (depth + 1)
    lines = body.split("\n")[:-1]
    content = "\n".join(indent + line if line else "" for line in lines)
    return f"|{chomping}\n{content}"


def _float(value: float) -> str:
    """A float as PyYAML's safe representer writes it."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text
