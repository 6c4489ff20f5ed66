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

from mockinfer.cassette.drift import drift
from mockinfer.cassette.format import Interaction, RecordedResponse
from mockinfer.engines.cassettes import Action, CassetteEngine
from mockinfer.engines.record import Forwarded
from mockinfer.errors import ReplayMiss, ServerError
from mockinfer.server.body import read_body
from mockinfer.server.calls import note_request_target
from mockinfer.server.journal import complete_call
from mockinfer.server.render import end_stream, raw_response, write_stream
from mockinfer.server.routes import replay_effects
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError
from mockinfer.wire.requests import check_depth
from mockinfer.wire.results import Ending, Recorded
from mockinfer.wire.sse import is_done

#: Requests always answered locally: a client's `info()` or `ping()` is not an interaction.
_LOCAL_PATHS = frozenset({"/"})


async def answer(request: web.Request, following: Handler) -> web.StreamResponse:
    """Replay, record, fall through to synthesis, or miss."""
    state = request.app[STATE]
    engine = state.cassette
    if engine is None or request.path in _LOCAL_PATHS:
        return await following(request)
    note_request_target(request)
    raw = await read_body(request)
    check_depth(raw)  # matching and redaction walk the body: bound it first
    _note_body(request, raw)
    # From the raw path and Host header: building a URL object fails on a bad port.
    uri = f"{request.scheme}://{request.host}{request.raw_path}"
    live = engine.live_request(request.method, uri, request.headers.items(), raw)
    try:
        decision = engine.decide(live)
    except ReplayMiss as miss:
        state.failures.append(miss)
        reason = str(miss)
        if engine.brief_misses and miss.summary != reason:
            reason = f"{miss.summary} (the test's failure says what differs)"
        raise EsError(404, "replay_miss_exception", reason) from None
    if decision is Action.SYNTHESIZE:
        return await following(request)
    exchange = request[EXCHANGE]
    if decision is Action.RECORD:
        exchange.source = "upstream"
        with engine.recording():
            return await _record(request, engine, raw)
    exchange.source = "cassette"
    if engine.drift:
        _watch_drift(request, engine, raw, decision.response)
    replayed = engine.replay(decision)
    if isinstance(replayed, Recorded):
        if 200 <= replayed.status < 300:
            await replay_effects(request)
        return raw_response(request, replayed)
    exchange.streamed = True
    return await write_stream(request, replayed)


#: Drift checks running: the loop keeps only weak references to tasks.
_DRIFT_CHECKS: set[asyncio.Task[None]] = set()


def _watch_drift(
    request: web.Request, engine: CassetteEngine, raw: bytes, recorded: RecordedResponse
) -> None:
    """Call the upstream with the replayed request and report where its answer's shape
    differs from the recording's; ejecting the cassette waits for the check."""
    assert engine.recorder is not None
    recorder, failures = engine.recorder, request.app[STATE].failures
    method, target, headers = request.method, request.path_qs, list(request.headers.items())
    path = request.path  # for messages: a query may carry a credential
    stream = recorded.events is not None
    scheme = _scheme(request)

    # Counted in flight from now, not from when the task first runs: the test may end first.
    in_flight = contextlib.ExitStack()
    in_flight.enter_context(engine.recording())

    async def check() -> None:
        with in_flight:
            try:
                forwarded = await recorder.forward(method, target, headers, raw, scheme=scheme)
                if forwarded.is_stream:
                    live = engine.redactor.stream(
                        b"".join([event async for event in forwarded.stream()])
                    )
                else:
                    live = engine.redactor.body(await forwarded.read())
            except Exception as exc:  # the upstream, or reading it: reported, never raised
                reason = exc.reason if isinstance(exc, EsError) else repr(exc)
                failures.append(ServerError(f"drift check of {method} {path}: {reason}"))
                return
            # Compared redacted, as the recording was kept: a secret is no drift.
            found = drift(
                recorded.status, recorded.decoded_body(), forwarded.status, live, stream=stream
            )
            if found:
                failures.append(
                    ServerError(
                        f"the cassette has drifted from the upstream for {method} {path}: "
                        + "; ".join(found)
                    )
                )

    task = asyncio.get_running_loop().create_task(check())
    _DRIFT_CHECKS.add(task)
    task.add_done_callback(_DRIFT_CHECKS.discard)


def _scheme(request: web.Request) -> str:
    """How the upstream key is sent: `Bearer` to a model provider, `ApiKey` to a cluster."""
    return "Bearer" if request[EXCHANGE].dialect.provider is not None else "ApiKey"


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

    A fault that fired on the request shapes only what the client sees: the recording keeps
    what the cluster sent, so a replay with the same fault behaves the same.
    """
    assert engine.recorder is not None
    try:
        forwarded = await engine.recorder.forward(
            request.method, request.path_qs, request.headers.items(), raw, scheme=_scheme(request)
        )
    except EsError as error:
        request.app[STATE].failures.append(ServerError(error.reason))
        raise
    uri = engine.recorder.upstream + request.path_qs
    recorded_request = engine.live_request(request.method, uri, request.headers.items(), raw)
    response: web.StreamResponse
    try:
        if forwarded.is_stream:
            request[EXCHANGE].streamed = True
            response, whole = await _relay(request, forwarded)
            if not whole:
                return response  # the client hung up: half a stream is not worth keeping
        else:
            body = await forwarded.read()
            response = raw_response(request, Recorded(forwarded.status, forwarded.headers, body))
    except EsError as error:
        request.app[STATE].failures.append(ServerError(error.reason))
        raise
    try:
        kept = engine.keep(recorded_request, Interaction(recorded_request, forwarded.recorded()))
        if kept is not None:
            # Off the loop: the journal waits while another recorder saves under the lock.
            await asyncio.to_thread(engine.cassette.journal, kept)
    except Exception as exc:  # a before_record hook, or the store: the client keeps its answer
        request.app[STATE].failures.append(
            ServerError(f"the recording of {request.method} {request.path} was not kept: {exc!r}")
        )
    return response


async def _relay(request: web.Request, forwarded: Forwarded) -> tuple[web.StreamResponse, bool]:
    """Relay an upstream stream as its events arrive, slowed or cut by a fault that fired.

    Reads the upstream to its end either way; returns the response and whether the whole
    stream was read (false when the client hung up before the last event reached it).
    """
    exchange = request[EXCHANGE]
    firing = exchange.firing
    cut = None
    if firing is not None:
        assert exchange.facts is not None
        cut = firing.cut(exchange.facts, chat=exchange.dialect.chat_errors)
    gap = firing.rule.event_delay if firing is not None else 0.0
    response = web.StreamResponse(status=forwarded.status, headers=CIMultiDict(forwarded.headers))
    sent, done, ended, relayed = 0, False, False, False
    try:
        await response.prepare(request)
        async with contextlib.aclosing(forwarded.stream()) as events:
            async for event in events:
                if ended:
                    continue  # cut for the client, still kept in the recording
                if cut is not None and sent == cut[0]:
                    await end_stream(request, response, cut[1], error=cut[2])
                    ended = True
                    continue
                if sent and gap > 0:
                    await asyncio.sleep(gap)
                if is_done(event):
                    done = True
                    complete_call(request, Ending.DONE)  # before the client can read the end
                else:
                    sent += 1
                await response.write(event)
        relayed = True
        if not ended:
            if cut is not None and not done and sent == cut[0]:
                await end_stream(request, response, cut[1], error=cut[2])
            else:
                complete_call(request, Ending.DONE)
                await response.write_eof()
    except ConnectionResetError:
        # A client that read the last event may close before the end of the body: the
        # stream is whole then, and kept.
        complete_call(request, Ending.DONE if relayed else Ending.DISCONNECTED)
        return response, relayed
    except EsError as error:
        # The head is out: the upstream's failure ends the stream as a failure in ES does.
        request.app[STATE].failures.append(ServerError(error.reason))
        complete_call(request, Ending.ERROR)
        if not ended:
            await response.write(request[EXCHANGE].dialect.error_event(error))
            await response.write_eof()
        return response, False
    return response, True
