"""Turning replies and errors into HTTP responses the way ES writes them."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from typing import Any

from aiohttp import web

from mockinfer.engines.replies import StreamReply, compact_json
from mockinfer.server.filtering import filter_path
from mockinfer.wire.errors import EsError
from mockinfer.wire.sse import CONTENT_TYPE as SSE_CONTENT_TYPE
from mockinfer.wire.sse import encode_event

PRODUCT_HEADER = ("X-elastic-product", "Elasticsearch")
_COMPAT = re.compile(r"compatible-with\s*=\s*(\d+)")


def response_content_type(request: web.Request) -> str:
    """Mirror the compatibility media type when the client asked for one, else plain JSON."""
    match = _COMPAT.search(request.headers.get("Accept", ""))
    if match is None:
        match = _COMPAT.search(request.headers.get("Content-Type", ""))
    if match is None or match.group(1) not in ("8", "9"):
        return "application/json"
    return f"application/vnd.elasticsearch+json;compatible-with={match.group(1)}"


def wants_gzip(request: web.Request) -> bool:
    """Whether the client accepts a gzip-encoded response."""
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def json_response(request: web.Request, body: Any, status: int = 200) -> web.Response:
    """A JSON response honouring `filter_path`, `pretty` and gzip."""
    query = request.query
    spec = query.get("filter_path")
    if spec:
        body = filter_path(body, spec)
    payload = compact_json(body)
    if "pretty" in query and query["pretty"] != "false":
        document = json.loads(payload)
        pretty = json.dumps(document, ensure_ascii=False, indent=2, separators=(",", " : "))
        payload = (pretty + "\n").encode()
    headers = {"Content-Type": response_content_type(request)}
    if wants_gzip(request):
        payload = gzip.compress(payload, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=payload, status=status, headers=headers)


def error_response(request: web.Request, error: EsError, *, openai: bool = False) -> web.Response:
    """The ES envelope (or the OpenAI-style body on chat paths) with the error's status."""
    trace = request.query.get("error_trace") == "true"
    body = error.openai_body() if openai else error.body(with_trace=trace)
    response = json_response(request, body, error.status)
    response.headers.update(error.headers)
    return response


async def stream_response(request: web.Request, reply: StreamReply) -> web.StreamResponse:
    """Write SSE events as they are due: each at its offset from the start of the response.

    As in ES, the status line goes out with the first event. Sleeping until an absolute
    deadline (not for each gap) keeps errors from accumulating, so replayed gaps stay as close
    to the recorded ones as the event loop allows. A client that hangs up ends the stream
    quietly, as cancelling a stream does on a cluster.
    """
    response = web.StreamResponse(status=reply.status)
    response.headers.extend(
        (k, v) for k, v in reply.headers if k.lower() != PRODUCT_HEADER[0].lower()
    )
    response.headers["Content-Type"] = SSE_CONTENT_TYPE
    start = time.monotonic()
    try:
        for event in reply.events:
            await _until(start + event.offset)
            if not response.prepared:
                await response.prepare(request)
            await response.write(event.raw)
        if not response.prepared:
            await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


#: The event loop wakes up to a millisecond late (epoll's timeout is whole milliseconds), so a
#: stream sleeps until just before an event is due and yields to the loop for the rest.
_SPIN = 0.0015


async def _until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > _SPIN:
        await asyncio.sleep(delay - _SPIN)
    while time.monotonic() < deadline:
        await asyncio.sleep(0)


async def stream_error(request: web.Request, error: EsError, *, openai: bool) -> web.StreamResponse:
    """A failure on a `_stream` path: one `event: error` with the error body, no `[DONE]`."""
    data = compact_json(error.openai_body() if openai else error.body())
    response = web.StreamResponse(status=error.status, headers={"Content-Type": SSE_CONTENT_TYPE})
    await response.prepare(request)
    await response.write(encode_event(data, "error"))
    await response.write_eof()
    return response
