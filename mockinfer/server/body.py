"""Reading request bodies as ES does: size limit, Content-Type check, gzip and deflate."""

from __future__ import annotations

import functools
import gzip
import re
import zlib

from aiohttp import web

from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError, EsStringError

_JSON_TYPES = ("application/json", "application/vnd.elasticsearch+json", "application/x-ndjson")
_COMPATIBLE_VERSIONS = ("8", "9")
_COMPATIBLE_WITH = re.compile(r"compatible-with\s*=\s*(\d+)")


async def read_body(request: web.Request) -> bytes:
    """The request body, checked and decompressed as ES does; empty when there is none.

    Read once per request: every link of the chain that looks at the body shares it.
    """
    exchange = request[EXCHANGE]
    if exchange.raw_body is not None:
        return exchange.raw_body
    state = request.app[STATE]
    length = request.content_length
    if length is not None and length > state.max_body_bytes:
        raise _too_large(length, state.max_body_bytes)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(length or state.max_body_bytes + 1, state.max_body_bytes) from None
    if raw:
        _check_content_type(request.headers.get("Content-Type"))
        encoding = request.headers.get("Content-Encoding", "").lower().removeprefix("x-")
        if encoding in ("gzip", "deflate"):  # and x-gzip, x-deflate, as ES's HTTP layer takes
            raw = _decompress(raw, encoding, state.max_body_bytes)
    exchange.raw_body = raw
    return raw


def _decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(raw, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise EsError(
            400, "illegal_argument_exception", f"Failed to decode {encoding} request body: {exc}"
        ) from None
    if len(data) > limit:
        raise _too_large(len(data), limit)
    if not decompressor.eof or decompressor.unused_data:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"Failed to decode {encoding} request body: the compressed data is truncated or "
            "followed by garbage",
        )
    return data


def _too_large(size: int, limit: int) -> EsError:
    return EsError(
        413,
        "content_too_long_exception",
        f"request content length [{size}] exceeds the maximum of [{limit}] bytes "
        "(http.max_content_length)",
    )


#: Clients send the same few media types on every request: each is checked once.
_MEDIA_TYPES_KEPT = 256


@functools.lru_cache(maxsize=_MEDIA_TYPES_KEPT)
def _check_content_type(value: str | None) -> None:
    if value is None:
        raise EsStringError(406, "content_type_header_exception", "Content-Type header is missing")
    media_type = value.split(";", 1)[0].strip().lower()
    if media_type not in _JSON_TYPES:
        raise EsStringError(
            406, "content_type_header_exception", f"Content-Type header [{value}] is not supported"
        )
    check_compatible_version("Content-Type", value)


@functools.lru_cache(maxsize=_MEDIA_TYPES_KEPT)
def check_compatible_version(header: str, value: str) -> None:
    """ES 9 accepts the compatibility media types of versions 8 and 9 only (a value that
    passes is remembered; one that fails is checked again each time)."""
    for version in _COMPATIBLE_WITH.findall(value):
        if version not in _COMPATIBLE_VERSIONS:
            raise EsError(
                400,
                "media_type_header_exception",
                f"Invalid media-type value on headers [{header}]",
                caused_by=EsError(
                    400,
                    "status_exception",
                    f"{header} version must be either version 8 or 9, but found {version}. "
                    f"{header}={value}",
                ),
            )
