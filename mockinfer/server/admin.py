"""The admin API under `/_mockinfer/`: faults, the call journal and reset, for any language.

These routes are mockinfer's own: never faulted, stubbed, recorded, proxied or journaled.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from mockinfer.engines.faults import FaultRule
from mockinfer.errors import ConfigurationError
from mockinfer.server.body import read_body
from mockinfer.server.render import json_response
from mockinfer.server.state import STATE
from mockinfer.wire.errors import EsError, request_body_required
from mockinfer.wire.requests import parse_json_body


async def add_fault(request: web.Request) -> web.StreamResponse:
    """`POST /_mockinfer/faults`: one rule; 201 with its id."""
    raw = await read_body(request)
    if not raw:
        raise request_body_required()
    try:
        rule = FaultRule.from_mapping(parse_json_body(raw), "fault")
    except ConfigurationError as exc:
        raise EsError(400, "illegal_argument_exception", str(exc)) from None
    handle = request.app[STATE].faults.add(rule)
    return json_response(request, handle.as_dict(), 201)


async def list_faults(request: web.Request) -> web.StreamResponse:
    """`GET /_mockinfer/faults`: every rule with its id and hit count, oldest first."""
    faults = [handle.as_dict() for handle in request.app[STATE].faults]
    return json_response(request, {"faults": faults})


async def delete_faults(request: web.Request) -> web.StreamResponse:
    """`DELETE /_mockinfer/faults[/{id}]`: one rule, or all of them."""
    registry = request.app[STATE].faults
    fault_id = request.match_info.get("fault_id")
    if fault_id is None:
        registry.clear()
    elif not registry.remove(fault_id):
        raise EsError(404, "resource_not_found_exception", f"fault [{fault_id}] not found")
    return json_response(request, {"acknowledged": True})


async def list_calls(request: web.Request) -> web.StreamResponse:
    """`GET /_mockinfer/calls`: the journal, oldest first."""
    calls: list[dict[str, Any]] = [
        dataclasses.asdict(call) for call in request.app[STATE].backend.journal
    ]
    return json_response(request, {"calls": calls})


async def reset(request: web.Request) -> web.StreamResponse:
    """`POST /_mockinfer/reset`: a fresh cluster, no stubs or faults, an empty journal."""
    request.app[STATE].reset()
    return json_response(request, {"acknowledged": True})


def add_routes(app: web.Application) -> None:
    """Register the admin routes."""
    app.router.add_route("POST", "/_mockinfer/faults", add_fault)
    app.router.add_route("GET", "/_mockinfer/faults", list_faults)
    app.router.add_route("DELETE", "/_mockinfer/faults", delete_faults)
    app.router.add_route("DELETE", "/_mockinfer/faults/{fault_id}", delete_faults)
    app.router.add_route("GET", "/_mockinfer/calls", list_calls)
    app.router.add_route("POST", "/_mockinfer/reset", reset)
