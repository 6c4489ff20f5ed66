"""Journaling calls: recorded when the response head is sent, completed when the body ends.

`/_mockinfer/` admin requests are never journaled.
"""

from __future__ import annotations

from aiohttp import web

from mockinfer.backend import Call
from mockinfer.server.state import (
    BODY,
    FIRING,
    INFERENCE_ID,
    JOURNAL_ENTRY,
    SOURCE,
    STATE,
    STREAMED,
    TASK_TYPE,
)
from mockinfer.wire.results import Ending

ADMIN_PREFIX = "/_mockinfer/"


def is_admin(request: web.Request) -> bool:
    """Whether the request is for mockinfer's own admin API."""
    return request.path.startswith(ADMIN_PREFIX) or request.path == ADMIN_PREFIX[:-1]


def _call(request: web.Request, status: int | None, *, complete: bool, ending: str | None) -> Call:
    firing = request.get(FIRING)
    return Call(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        inference_id=request.get(INFERENCE_ID),
        task_type=request.get(TASK_TYPE),
        body=request.get(BODY),
        status=status,
        streamed=request.get(STREAMED, False),
        source=request.get(SOURCE, "synthesis"),
        fault=firing.id if firing is not None else None,
        complete=complete,
        ending=ending,
    )


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Record the call as its head goes out; a whole-body response is complete at once."""
    if is_admin(request) or JOURNAL_ENTRY in request:
        return
    transport = request.transport
    if transport is None or transport.is_closing():
        return  # a reset connection: journaled by whoever reset it
    whole = isinstance(response, web.Response)
    call = _call(request, response.status, complete=whole, ending=None)
    request[JOURNAL_ENTRY] = request.app[STATE].backend.journal.begin(call)


def complete_call(request: web.Request, ending: Ending) -> None:
    """Mark the request's call complete, with how its stream ended."""
    entry = request.get(JOURNAL_ENTRY)
    if entry is not None:
        request.app[STATE].backend.journal.complete(entry, ending.value)


def journal_unanswered(request: web.Request) -> None:
    """Record a call whose connection is reset before any response."""
    call = _call(request, None, complete=True, ending=Ending.DISCONNECTED.value)
    request[JOURNAL_ENTRY] = request.app[STATE].backend.journal.begin(call)
