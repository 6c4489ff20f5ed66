"""The cassette in front of the handlers: replay, record through the upstream, or miss."""

from __future__ import annotations

import contextlib
import gzip
import json

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from mockinfer.cassette.format import Interaction
from mockinfer.engines.cassettes import Action, CassetteEngine
from mockinfer.engines.replies import RawReply
from mockinfer.errors import ReplayMiss, ServerError
from mockinfer.server.body import read_body
from mockinfer.server.render import PRODUCT_HEADER, stream_response, wants_gzip
from mockinfer.server.routes import note_target
from mockinfer.server.state import BODY, STATE, STREAMED
from mockinfer.wire.errors import EsError
from mockinfer.wire.sse import CONTENT_TYPE as SSE_CONTENT_TYPE

#: Requests always answered locally: a client's `info()` or `ping()` is not an interaction.
_LOCAL_PATHS = frozenset({"/"})


def uses_cassette(request: web.Request) -> bool:
    """Whether a cassette answers this request (root info and ping are always local)."""
    return request.app[STATE].cassette is not None and request.path not in _LOCAL_PATHS


async def answer_from_cassette(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Replay, record through the upstream, fall through to `handler`, or miss."""
    engine = request.app[STATE].cassette
    assert engine is not None
    note_target(request)
    raw = await read_body(request)
    _note_body(request, raw)
    live = engine.live_request(request.method, str(request.url), request.headers.items(), raw)
    try:
        decision = engine.decide(live)
    except ReplayMiss as miss:
        request.app[STATE].faults.append(miss)
        raise EsError(404, "replay_miss_exception", str(miss)) from None
    if decision is Action.SYNTHESIZE:
        return await handler(request)
    if decision is Action.RECORD:
        return await _record(request, engine, raw)
    if isinstance(decision, RawReply):
        return raw_response(request, decision)
    request[STREAMED] = True
    return await stream_response(request, decision)


def _note_body(request: web.Request, raw: bytes) -> None:
    try:
        request[BODY] = json.loads(raw) if raw else None
    except ValueError:
        request[BODY] = raw.decode("utf-8", "replace")


def raw_response(request: web.Request, reply: RawReply) -> web.Response:
    """A recorded response as it was, compressed only when the client asks."""
    headers = CIMultiDict(
        (k, v) for k, v in reply.headers if k.lower() != PRODUCT_HEADER[0].lower()
    )
    body = reply.body
    if body and wants_gzip(request) and headers.get("Content-Type") != SSE_CONTENT_TYPE:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return web.Response(status=reply.status, body=body, headers=headers)


async def _record(request: web.Request, engine: CassetteEngine, raw: bytes) -> web.StreamResponse:
    """Forward upstream, relay the answer (streams event by event), then keep it."""
    assert engine.recorder is not None
    try:
        forwarded = await engine.recorder.forward(
            request.method, request.path_qs, request.headers.items(), raw
        )
    except EsError as error:
        request.app[STATE].faults.append(ServerError(error.reason))
        raise
    uri = engine.recorder.upstream + request.path_qs
    recorded_request = engine.live_request(request.method, uri, request.headers.items(), raw)
    response: web.StreamResponse
    if forwarded.is_stream:
        request[STREAMED] = True
        response = web.StreamResponse(
            status=forwarded.status, headers=CIMultiDict(forwarded.headers)
        )
        await response.prepare(request)
        try:
            async with contextlib.aclosing(forwarded.stream()) as events:
                async for event in events:
                    await response.write(event)
            await response.write_eof()
        except ConnectionResetError:
            return response  # the client hung up: half a stream is not worth keeping
    else:
        body = await forwarded.read()
        response = raw_response(request, RawReply(forwarded.status, forwarded.headers, body))
    engine.keep(recorded_request, Interaction(recorded_request, forwarded.recorded()))
    return response
