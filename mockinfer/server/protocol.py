"""The HTTP connection: aiohttp's, with the errors it answers itself shaped as Elasticsearch's.

Requests the HTTP parser refuses (a request line or header too long, a bad method, conflicting
lengths) never reach the application, and aiohttp answers them in plain text. A cluster
answers them with its JSON error envelope; so does mockinfer, without echoing the refused
bytes (a malformed `Authorization` line must not come back in a body or reach a log).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler

from mockinfer.dialects.es import PRODUCT_HEADER
from mockinfer.wire.errors import EsError, bad_request

#: Elasticsearch's `http.max_initial_line_length` and `http.max_header_size` defaults.
MAX_LINE_BYTES = 4096
MAX_HEADER_BYTES = 16384
#: Where aiohttp's description of a refused request starts quoting the request itself.
_QUOTE = re.compile(r"""(?:^|\s)(?:b?['"]|bytearray\(|\^)""")

#: What a description of aiohttp's may hold to be passed on: words, nothing of a request.
_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-]*(?:: [A-Za-z][A-Za-z '\-]*)*")
#: Said instead, by the kind of error, when the description is not only words.
_PHRASES: tuple[tuple[type[HttpProcessingError], str], ...] = (
    (BadHttpMethod, "invalid HTTP method"),
    (BadStatusLine, "invalid HTTP request line"),
    (InvalidURLError, "invalid request target"),
    (InvalidHeader, "invalid HTTP header"),
)

_log = logging.getLogger(__name__)


def parser_error(exc: HttpProcessingError) -> EsError:
    """The error a cluster gives for a request its HTTP decoder refuses."""
    if isinstance(exc, LineTooLong):
        if exc.args[1] == MAX_LINE_BYTES:
            return bad_request(
                "too_long_http_line_exception",
                f"An HTTP line is larger than {MAX_LINE_BYTES} bytes.",
            )
        return bad_request(
            "too_long_http_header_exception",
            f"HTTP header is larger than {MAX_HEADER_BYTES} bytes.",
        )
    return bad_request("illegal_argument_exception", _description(exc))


def _description(exc: HttpProcessingError) -> str:
    """aiohttp's words for what is wrong, cut where they start quoting the request; words
    only, or else a fixed phrase for the kind of error (a request target is never echoed)."""
    words: list[str] = []
    for line in exc.message.splitlines():
        quote = _QUOTE.search(line)
        cut = len(line) if quote is None else quote.start()
        words.append(line[:cut].strip().rstrip(":").strip())
        if cut < len(line):
            break
    description = ": ".join(word for word in words if word)
    if len(description.split()) > 1 and _WORDS.fullmatch(description):
        return description
    return next(
        (phrase for kind, phrase in _PHRASES if isinstance(exc, kind)), "malformed HTTP request"
    )


def _error_response(error: EsError) -> web.Response:
    response = web.Response(
        body=orjson.dumps(error.body()),
        status=error.status,
        content_type="application/json",
        headers=dict([PRODUCT_HEADER]),
    )
    response.force_close()
    return response


class _Connection(RequestHandler):
    """One client connection; errors answered before the application runs are JSON."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # Part of a response is out: only aiohttp's own handling (closing) is left.
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, HttpProcessingError):
            error = parser_error(exc)
            _log.debug("refused a malformed request from %s: %s", request.remote, error.reason)
            return _error_response(error)
        self.log_exception("Error handling request", exc_info=exc)
        return _error_response(EsError(500, "exception", "internal error while serving"))


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """aiohttp's application runner, with connections that answer their own errors as a
    cluster does and Elasticsearch's limits on the request line and headers."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(
            app, max_line_size=MAX_LINE_BYTES, max_field_size=MAX_HEADER_BYTES, **kwargs
        )

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same server, making connections of the class above
        return server
