"""Turning results, stream plans and errors into HTTP responses, in the request's dialect."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from mockinfer.dialects.es import PRODUCT_HEADER, remember_encoding
from mockinfer.errors import PluginError
from mockinfer.server.calls import StreamFailure, is_stream_route
from mockinfer.server.filtering import filter_path
from mockinfer.server.journal import complete_call, journal_unanswered
from mockinfer.server.state import EXCHANGE, STATE, ServerState
from mockinfer.wire.errors import EsError
from mockinfer.wire.requests import InferenceCall
from mockinfer.wire.results import Ending, Recorded, Result, StreamPlan
from mockinfer.wire.sse import CONTENT_TYPE as SSE_CONTENT_TYPE

_COMPAT = re.compile(r"compatible-with\s*=\s*(\d+)")


def response_content_type(request: web.Request) -> str:
    """Mirror the compatibility media type when the client asked for one, else plain JSON."""
    headers = request.headers
    return _mirrored_media_type(headers.get("Accept", ""), headers.get("Content-Type", ""))


@functools.lru_cache(maxsize=256)  # a client sends the same headers on every request
def _mirrored_media_type(accept: str, content_type: str) -> str:
    match = _COMPAT.search(accept) or _COMPAT.search(content_type)
    if match is None or match.group(1) not in ("8", "9"):
        return "application/json"
    return f"application/vnd.elasticsearch+json;compatible-with={match.group(1)}"


def wants_gzip(request: web.Request) -> bool:
    """Whether the client accepts a gzip-encoded response."""
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def gzip_bytes(payload: bytes) -> bytes:
    """gzip at level 1: responses are made to be read once, on the same machine."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(payload) + compressor.flush()


def json_response(request: web.Request, body: Any, status: int = 200) -> web.Response:
    """A JSON response honouring `filter_path`, `pretty` and gzip."""
    query = request.query
    spec = query.get("filter_path")
    if spec:
        body = filter_path(body, spec)
    payload = orjson.dumps(body)
    if "pretty" in query and query["pretty"] != "false":
        document = json.loads(payload)
        pretty = json.dumps(document, ensure_ascii=False, indent=2, separators=(",", " : "))
        payload = (pretty + "\n").encode()
    headers = {"Content-Type": response_content_type(request)}
    if wants_gzip(request):
        payload = gzip_bytes(payload)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=payload, status=status, headers=headers)


def result_response(request: web.Request, result: Result) -> web.Response:
    """A non-streamed result in the request's dialect; a recorded one exactly as recorded."""
    if isinstance(result, Recorded):
        return raw_response(request, result)
    response = json_response(request, request[EXCHANGE].dialect.document(result), _status(result))
    extra = getattr(result, "headers", None)
    if extra:
        response.headers.update(extra)
    return response


def _status(result: Result) -> int:
    return int(getattr(result, "status", 200))


def raw_response(request: web.Request, reply: Recorded) -> web.Response:
    """A recorded response as it was, compressed only when the client asks."""
    headers = CIMultiDict(
        (k, v) for k, v in reply.headers if k.lower() != PRODUCT_HEADER[0].lower()
    )
    body = reply.body
    if body and wants_gzip(request) and headers.get("Content-Type") != SSE_CONTENT_TYPE:
        body = gzip_bytes(body)
        headers["Content-Encoding"] = "gzip"
    return web.Response(status=reply.status, body=body, headers=headers)


def error_response(request: web.Request, error: EsError) -> web.Response:
    """The error in the request's dialect (the ES envelope, or OpenAI's on chat routes)."""
    trace = request.query.get("error_trace") == "true"
    body = request[EXCHANGE].dialect.error_document(error, with_trace=trace)
    response = json_response(request, body, error.status)
    response.headers.update(error.headers)
    return response


async def answer(
    request: web.Request, produce: Callable[[], Result | StreamPlan], *, in_thread: bool = False
) -> web.StreamResponse:
    """Render what `produce` answers; on a stream, its failures are one SSE error event.

    `in_thread` runs `produce` off the event loop, for answers that take a while to compute.
    """
    try:
        outcome = await asyncio.to_thread(produce) if in_thread else produce()
    except StreamFailure as failure:
        return await stream_error(request, failure.error)
    except PluginError as failure:
        error = plugin_failed(request, failure)
        if is_stream_route(request):
            return await stream_error(request, error)
        raise error from None
    except EsError as error:
        if is_stream_route(request):
            return await stream_error(request, error)
        raise
    if isinstance(outcome, StreamPlan):
        return await write_stream(request, outcome)
    return result_response(request, outcome)


def plugin_failed(request: web.Request, failure: PluginError) -> EsError:
    """The 500 that names a failed generator plugin; the test is told too."""
    request.app[STATE].failures.append(failure)
    return EsError(500, "status_exception", str(failure))


async def synthesize(request: web.Request, call: InferenceCall) -> web.StreamResponse:
    """Answer a parsed call by synthesis: the last link of the chain."""
    state = request.app[STATE]
    synthesizer = state.synthesizer
    plugged = synthesizer.plugged(call.endpoint)
    new = None if plugged else synthesizer.helper_work(call)
    if new is not None:
        state.generating += 1
        try:
            if await _crowded(state):
                for row, encoded in await synthesizer.generate_ahead(new):
                    remember_encoding(row, encoded)
        finally:
            state.generating -= 1
    return await answer(request, lambda: synthesizer.answer(call), in_thread=plugged)


#: How long the server keeps handing new texts to the generation helper after calls last
#: arrived together: a client with many calls in flight sometimes has only one at the server.
CROWD_MEMORY = 0.05


async def _crowded(state: ServerState) -> bool:
    """Whether calls with new texts are arriving together: others wait for their vectors with
    this one once those that arrived with it have come this far, or did a moment ago."""
    now = time.monotonic()
    if now < state.crowded_until:
        return True
    await asyncio.sleep(0)  # calls that arrived with this one come this far
    if state.generating > 1:
        state.crowded_until = now + CROWD_MEMORY
        return True
    return False


async def write_stream(request: web.Request, plan: StreamPlan) -> web.StreamResponse:
    """Write a stream plan's events as they are due, each at its offset from the start.

    A fault that fired on the request reshapes the plan first. As in ES, the status line goes
    out with the first event. Sleeping until an absolute deadline (not for each gap) keeps
    errors from accumulating, so replayed gaps stay as close to the recorded ones as the event
    loop allows. A client that hangs up ends the stream quietly, as cancelling a stream does on
    a cluster.
    """
    exchange = request[EXCHANGE]
    dialect = exchange.dialect
    if exchange.firing is not None:
        assert exchange.facts is not None
        plan = exchange.firing.shape(plan, exchange.facts, chat=dialect.chat_errors)
    response = web.StreamResponse(status=plan.status)
    response.headers.extend(
        (k, v) for k, v in plan.headers if k.lower() != PRODUCT_HEADER[0].lower()
    )
    response.headers["Content-Type"] = SSE_CONTENT_TYPE
    start = time.monotonic()
    try:
        for timed in plan.events:
            await _until(start + timed.offset)
            if not response.prepared:
                await response.prepare(request)
            await response.write(dialect.event(timed.event))
        await _until(start + plan.end_offset)
        if not response.prepared:
            await response.prepare(request)
        await end_stream(request, response, plan.ending, error=plan.error, closing=plan.closing)
    except ConnectionResetError:
        complete_call(request, Ending.DISCONNECTED)
    except Exception as exc:
        if not response.prepared:
            raise
        # The head is out: no error response can follow, so the stream is cut and the test
        # is told why.
        request.app[STATE].failures.append(exc)
        complete_call(request, Ending.DISCONNECTED)
        reset(request)
    return response


async def end_stream(
    request: web.Request,
    response: web.StreamResponse,
    ending: Ending,
    *,
    error: EsError | None = None,
    closing: bytes | None = None,
) -> None:
    """End a stream: `[DONE]` (or the recorded `closing`), an error event, a clean close, or
    a reset. The call is complete before its last bytes leave, so a client that has read the
    whole stream always finds it complete in the journal."""
    complete_call(request, ending)
    dialect = request[EXCHANGE].dialect
    if ending is Ending.DISCONNECTED:
        reset(request)
        return
    if ending is Ending.DONE:
        await response.write(closing if closing is not None else dialect.done())
    elif ending is Ending.ERROR:
        assert error is not None
        await response.write(dialect.error_event(error))
    await response.write_eof()


def reset(request: web.Request) -> None:
    """Reset the client's connection: no more bytes, a TCP RST instead of a clean close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # A zero linger time makes close() send RST: the client sees a reset connection.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def disconnect(request: web.Request) -> web.StreamResponse:
    """Reset the connection before any response; the handler's return value is never sent."""
    journal_unanswered(request)
    reset(request)
    response = web.StreamResponse()
    response.force_close()
    return response


async def _until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def stream_error(request: web.Request, error: EsError) -> web.StreamResponse:
    """A failure of a streamed request before its stream starts: one `event: error` with the
    error body and no `[DONE]`, as ES sends it; a JSON error where the dialect's provider
    answers so (OpenAI's, Cohere's)."""
    if not request[EXCHANGE].dialect.errors_as_events:
        return error_response(request, error)
    response = web.StreamResponse(status=error.status, headers={"Content-Type": SSE_CONTENT_TYPE})
    response.headers.update(error.headers)
    try:
        await response.prepare(request)
        complete_call(request, Ending.ERROR)
        await response.write(request[EXCHANGE].dialect.error_event(error))
        await response.write_eof()
    except ConnectionResetError:
        complete_call(request, Ending.DISCONNECTED)
    return response
