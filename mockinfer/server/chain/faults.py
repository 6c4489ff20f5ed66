"""The faults link: a fault that fires answers instead of the chain, or shapes what it answers.

An error status or a reset answers here and nothing downstream runs (a recording is not made).
A delay waits before the rest of the chain. Stream faults (slow drip, error, truncation,
reset after N events) are left on the request for the stream writer, whichever link answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from mockinfer.dialects import ES_CHAT
from mockinfer.engines.faults import RequestFacts
from mockinfer.generators.chat import last_user_text
from mockinfer.server import providers
from mockinfer.server.body import read_body
from mockinfer.server.calls import is_stream_route, note_request_target
from mockinfer.server.journal import journal_unanswered
from mockinfer.server.render import disconnect, stream_error
from mockinfer.server.routes import INFERENCE_HANDLERS
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError
from mockinfer.wire.requests import check_depth
from mockinfer.wire.tasks import TaskType


async def answer(request: web.Request, following: Handler) -> web.StreamResponse:
    """Fire the first matching fault, if any, then answer or pass on."""
    state = request.app[STATE]
    if not len(state.faults):
        return await following(request)
    facts = await request_facts(request)
    firing = state.faults.fire(facts, state.synthesizer.seed)
    if firing is None:
        return await following(request)
    exchange = request[EXCHANGE]
    exchange.firing, exchange.facts = firing, facts
    inference = request.match_info.handler in INFERENCE_HANDLERS
    if inference and facts.task_type == TaskType.CHAT_COMPLETION.value:
        exchange.dialect = ES_CHAT
    rule = firing.rule
    if rule.delay > 0 and not await _wait(request, rule.delay):
        journal_unanswered(request)  # the client gave up waiting: nothing more to send
        return web.Response()
    if rule.disconnect:
        exchange.source = "fault"
        return await disconnect(request)
    error = firing.error(facts)
    if error is None:
        return await following(request)
    exchange.source = "fault"
    if facts.stream:
        return await stream_error(request, error)
    raise error


#: How often a delay looks for a client that has hung up.
_WATCH = 0.05


async def _wait(request: web.Request, seconds: float) -> bool:
    """Sleep, but stop early when the client hangs up; whether it is still there."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        await asyncio.sleep(min(left, _WATCH))
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
    return True


async def request_facts(request: web.Request) -> RequestFacts:
    """What fault rules match on, read leniently: a malformed body just has no text.

    On a provider's route the model stands where the inference id would, and the body says
    whether it streams.
    """
    exchange = request[EXCHANGE]
    task, inference_id = note_request_target(request)
    stream = is_stream_route(request)
    if stream:
        exchange.streamed = True
    if providers.route_of(request) is not None:
        with contextlib.suppress(EsError):
            call = await providers.provider_call(request)
            task, inference_id, stream = (
                call.endpoint.task_type.value,
                call.endpoint.inference_id,
                call.stream,
            )
    return RequestFacts(
        method=request.method,
        path=request.path,
        inference_id=inference_id,
        task_type=task,
        stream=stream,
        texts=await _texts(request),
        headers={k.lower(): v for k, v in request.headers.items()},
        provider=exchange.dialect.provider,
    )


async def _texts(request: web.Request) -> tuple[str, ...]:
    try:
        raw = await read_body(request)
        check_depth(raw)
    except EsError:
        return ()
    if not raw:
        return ()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        request[EXCHANGE].note_body(raw.decode("utf-8", "replace"))
        return ()
    request[EXCHANGE].note_body(body)
    if not isinstance(body, Mapping):
        return ()
    texts: list[str] = []
    for key in ("input", "inputs", "texts", "documents"):  # ES's, TEI's and Cohere's names
        given = body.get(key)
        if isinstance(given, str):
            texts.append(given)
        elif isinstance(given, list):
            texts.extend(item for item in given if isinstance(item, str))
    if isinstance(body.get("query"), str):
        texts.append(body["query"])
    if isinstance(body.get("messages"), list):
        texts.append(last_user_text(body))
    if isinstance(body.get("docs"), list):  # the trained-model API: every text of every doc
        docs = (d for d in body["docs"] if isinstance(d, Mapping))
        texts.extend(v for d in docs for v in d.values() if isinstance(v, str))
    return tuple(texts)
