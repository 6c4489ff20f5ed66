"""Journaling calls: recorded when the response head is sent, completed when the body ends.

`/_mockinfer/` admin requests are never journaled.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mockinfer.backend import Call
from mockinfer.server.calls import is_admin
from mockinfer.server.state import EXCHANGE, STATE, Exchange
from mockinfer.wire.results import Ending


def _body(request: web.Request, exchange: Exchange) -> Any:
    """The body as the journal keeps it: too large a body is kept as its size alone."""
    limit = request.app[STATE].backend.journal.body_limit
    size = len(exchange.raw_body or b"")
    if limit is not None and size > limit:
        return f"<{size} bytes, not kept>"
    return exchange.body


def _call(
    request: web.Request,
    exchange: Exchange,
    status: int | None,
    *,
    complete: bool,
    ending: str | None,
) -> Call:
    return Call(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        inference_id=exchange.inference_id,
        task_type=exchange.task_type,
        body=_body(request, exchange),
        status=status,
        streamed=exchange.streamed,
        source=exchange.source,
        fault=exchange.firing.id if exchange.firing is not None else None,
        complete=complete,
        ending=ending,
    )


def begin_call(request: web.Request, response: web.StreamResponse) -> None:
    """Record the call as its head goes out; a whole-body response is complete at once."""
    # aiohttp answers some malformed requests itself, before the middleware makes an exchange.
    exchange = request.get(EXCHANGE) or Exchange()
    if exchange.journal_entry is not None or is_admin(request):
        return
    if EXCHANGE not in request:
        request[EXCHANGE] = exchange
    transport = request.transport
    if transport is None or transport.is_closing():
        journal_unanswered(request)  # the client hung up before the response began
        return
    whole = isinstance(response, web.Response)
    call = _call(request, exchange, response.status, complete=whole, ending=None)
    exchange.journal_entry = request.app[STATE].backend.journal.begin(call)


def complete_call(request: web.Request, ending: Ending) -> None:
    """Mark the request's call complete, with how its stream ended."""
    entry = request[EXCHANGE].journal_entry
    if entry is not None:
        request.app[STATE].backend.journal.complete(entry, ending.value)


def journal_unanswered(request: web.Request) -> None:
    """Record a call whose connection closed before any response (a reset, or a hang-up)."""
    exchange = request[EXCHANGE]
    call = _call(request, exchange, None, complete=True, ending=Ending.DISCONNECTED.value)
    exchange.journal_entry = request.app[STATE].backend.journal.begin(call)
