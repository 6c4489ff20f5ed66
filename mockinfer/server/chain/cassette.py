"""The cassette link: replay what matches, record through the upstream, or pass on.

Every path goes through it (a vcrpy cassette may hold any request), except the root info and
ping a client sends on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from mockinfer.cassette.format import Interaction
from mockinfer.dialects import ES_CHAT
from mockinfer.engines.cassettes import Action, CassetteEngine
from mockinfer.engines.record import Forwarded
from mockinfer.errors import ReplayMiss, ServerError
from mockinfer.server.body import read_body
from mockinfer.server.calls import note_target
from mockinfer.server.journal import complete_call
from mockinfer.server.render import raw_response, reset, write_stream
from mockinfer.server.routes import replay_effects
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError
from mockinfer.wire.results import Ending, Recorded, StreamPlan

#: Requests always answered locally: a client's `info()` or `ping()` is not an interaction.
_LOCAL_PATHS = frozenset({"/"})


async def answer(request: web.Request, following: Handler) -> web.StreamResponse:
    """Replay, record, fall through to synthesis, or miss."""
    state = request.app[STATE]
    engine = state.cassette
    if engine is None or request.path in _LOCAL_PATHS:
        return await following(request)
    note_target(request)
    raw = await read_body(request)
    _note_body(request, raw)
    live = engine.live_request(request.method, str(request.url), request.headers.items(), raw)
    try:
        decision = engine.decide(live)
    except ReplayMiss as miss:
        state.failures.append(miss)
        raise EsError(404, "replay_miss_exception", str(miss)) from None
    if decision is Action.SYNTHESIZE:
        return await following(request)
    exchange = request[EXCHANGE]
    if decision is Action.RECORD:
        exchange.source = "upstream"
        return await _record(request, engine, raw)
    exchange.source = "cassette"
    if isinstance(decision, Recorded):
        if 200 <= decision.status < 300:
            await replay_effects(request)
        return raw_response(request, decision)
    exchange.streamed = True
    return await write_stream(request, decision)


def _note_body(request: web.Request, raw: bytes) -> None:
    exchange = request[EXCHANGE]
    if exchange.body_noted:
        return
    try:
        exchange.note_body(json.loads(raw) if raw else None)
    except ValueError:
        exchange.note_body(raw.decode("utf-8", "replace"))


async def _record(request: web.Request, engine: CassetteEngine, raw: bytes) -> web.StreamResponse:
    """Forward upstream, relay the answer (streams event by event), then keep it.

    A request a fault fired on is relayed as the fault shapes it and not kept.
    """
    assert engine.recorder is not None
    try:
        forwarded = await engine.recorder.forward(
            request.method, request.path_qs, request.headers.items(), raw
        )
    except EsError as error:
        request.app[STATE].failures.append(ServerError(error.reason))
        raise
    uri = engine.recorder.upstream + request.path_qs
    recorded_request = engine.live_request(request.method, uri, request.headers.items(), raw)
    exchange = request[EXCHANGE]
    firing = exchange.firing
    response: web.StreamResponse
    if forwarded.is_stream:
        exchange.streamed = True
        if firing is not None:
            return await _relay_shaped(request, forwarded)
        response = web.StreamResponse(
            status=forwarded.status, headers=CIMultiDict(forwarded.headers)
        )
        await response.prepare(request)
        try:
            async with contextlib.aclosing(forwarded.stream()) as events:
                async for event in events:
                    await response.write(event)
            complete_call(request, Ending.DONE)
            await response.write_eof()
        except ConnectionResetError:
            complete_call(request, Ending.DISCONNECTED)
            return response  # the client hung up: half a stream is not worth keeping
    else:
        body = await forwarded.read()
        response = raw_response(request, Recorded(forwarded.status, forwarded.headers, body))
        if firing is not None:
            return response
    engine.keep(recorded_request, Interaction(recorded_request, forwarded.recorded()))
    return response


async def _relay_shaped(request: web.Request, forwarded: Forwarded) -> web.StreamResponse:
    """Relay an upstream stream slowed or cut by the fault that fired; nothing is kept."""
    exchange = request[EXCHANGE]
    firing, facts = exchange.firing, exchange.facts
    assert firing is not None and facts is not None
    rule = firing.rule
    cut = next(
        (
            n
            for n in (rule.error_after, rule.truncate_after, rule.disconnect_after)
            if n is not None
        ),
        None,
    )
    response = web.StreamResponse(status=forwarded.status, headers=CIMultiDict(forwarded.headers))
    await response.prepare(request)
    sent = 0
    async with contextlib.aclosing(forwarded.stream()) as events:
        async for event in events:
            if cut is not None and (sent >= cut or _is_done(event)):
                break
            if sent and rule.event_delay > 0:
                await asyncio.sleep(rule.event_delay)
            await response.write(event)
            sent += 1
    dialect = exchange.dialect
    plan = firing.shape(StreamPlan(()), facts, chat=dialect is ES_CHAT)
    complete_call(request, plan.ending)
    if plan.ending is Ending.DISCONNECTED:
        reset(request)
        return response
    if plan.ending is Ending.ERROR and plan.error is not None:
        await response.write(dialect.error_event(plan.error))
    await response.write_eof()
    return response


def _is_done(event: bytes) -> bool:
    return b"data: [DONE]" in event
