"""Bodies as text: read in the encoding JSON's rule tells (RFC 8259, as Elasticsearch reads
it) and written back the same way, with a BOM, the byte order, and any bytes that are not
text kept."""

from __future__ import annotations

import json
from collections.abc import Callable

_PASS = "surrogatepass"  # lone surrogates are legal in JSON escapes


def decoded(body: bytes) -> tuple[str, Callable[[str], bytes]]:
    """`body` as text, and how to encode text (the same, or edited) back as it came."""
    encoding = json.detect_encoding(body)
    if encoding != "utf-8":
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            pass  # not text in it after all: read as UTF-8 below, its odd bytes kept
        else:
            if encoding in ("utf-16", "utf-32"):  # with a BOM, which decoding dropped
                width = 2 if encoding == "utf-16" else 4
                bom = body[:width]
                order = "-be" if bom[0] in (0x00, 0xFE) else "-le"
                return text, lambda edited: bom + edited.encode(encoding + order, _PASS)
            return text, lambda edited: edited.encode(encoding, _PASS)
    try:
        return body.decode("utf-8"), _utf8
    except UnicodeDecodeError:
        return body.decode("utf-8", "surrogateescape"), _with_odd_bytes


def _utf8(text: str) -> bytes:
    """Text as UTF-8, lone surrogates (legal in JSON escapes) included."""
    return text.encode("utf-8", _PASS)


def _with_odd_bytes(text: str) -> bytes:
    """Text read with its non-UTF-8 bytes escaped, as those bytes again."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape as well
        return _utf8(text)
