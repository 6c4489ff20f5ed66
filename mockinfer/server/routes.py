"""The route table and its thin handlers: parse, ask the backend and engines, render."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from mockinfer.server.calls import (
    StreamFailure,
    check_params,
    flag,
    json_body,
    note_target,
    parse_call,
)
from mockinfer.server.render import json_response, stream_error, synthesize
from mockinfer.server.state import STATE
from mockinfer.wire.endpoints import (
    create_endpoint,
    reject_reserved,
    resolve_task_type,
    task_filter,
    update_endpoint,
    validate_inference_id,
)
from mockinfer.wire.errors import EsError, status_exception
from mockinfer.wire.services import services_document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ALL = ("_all", "*")

ROOT_INFO: dict[str, Any] = {
    "name": "mockinfer",
    "cluster_name": "mockinfer",
    "cluster_uuid": "bW9ja2luZmVyLWNsdXN0ZXI",
    "version": {
        "number": "9.2.0",
        "build_flavor": "default",
        "build_type": "docker",
        "build_hash": "0000000000000000000000000000000000000000",
        "build_date": "2025-10-01T00:00:00.000000000Z",
        "build_snapshot": False,
        "lucene_version": "10.3.0",
        "minimum_wire_compatibility_version": "8.19.0",
        "minimum_index_compatibility_version": "8.0.0",
    },
    "tagline": "You Know, for Search",
}


async def root(request: web.Request) -> web.StreamResponse:
    """`GET /` and `HEAD /`: the cluster info document."""
    check_params(request, ())
    if request.method == "HEAD":
        return web.Response(status=200, headers={"Content-Type": "application/json"})
    return json_response(request, ROOT_INFO)


async def get_endpoints(request: web.Request) -> web.StreamResponse:
    """`GET /_inference[/{task_type}][/{inference_id}]`; `_all` and `*` list."""
    check_params(request, ("return_minimal_config",))
    backend = request.app[STATE].backend
    if "first" not in request.match_info:
        endpoints = backend.list()
    else:
        task, inference_id = note_target(request)
        task_type = task_filter(task)
        if inference_id in _ALL:
            endpoints = backend.list(task_type)
        else:
            endpoints = [backend.get(inference_id, task_type)]
    return json_response(request, {"endpoints": [e.public() for e in endpoints]})


async def put_endpoint(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference[/{task_type}]/{inference_id}`: create, answering the stored config."""
    check_params(request, ("timeout",))
    task, inference_id = note_target(request)
    task_filter(task)
    body = await json_body(request, "inference_endpoint")
    resolve_task_type(task, body.data)
    reject_reserved(inference_id)
    validate_inference_id(inference_id)
    endpoint = create_endpoint(inference_id, task, body.data)
    request.app[STATE].backend.create(endpoint)
    return json_response(request, endpoint.public())


async def update(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference[/{task_type}]/{inference_id}/_update`."""
    check_params(request, ("timeout",))
    task, inference_id = note_target(request)
    task_filter(task)
    body = await json_body(request, "inference_endpoint")
    backend = request.app[STATE].backend
    stored = backend.get(inference_id)
    if inference_id.startswith("."):
        # TransportUpdateInferenceModelAction: every id starting with a dot is a default one.
        raise status_exception(f"Default endpoint [{inference_id}] cannot be updated")
    endpoint = update_endpoint(stored, task, body.data)
    return json_response(request, backend.replace(endpoint).public())


async def delete_endpoint(request: web.Request) -> web.StreamResponse:
    """`DELETE /_inference[/{task_type}]/{inference_id}` with `force` and `dry_run`."""
    check_params(request, ("force", "dry_run"))
    task, inference_id = note_target(request)
    task_type = task_filter(task)
    deleted = request.app[STATE].backend.delete(
        inference_id, task_type, force=flag(request, "force"), dry_run=flag(request, "dry_run")
    )
    return json_response(request, {"acknowledged": deleted, "pipelines": [], "indexes": []})


async def infer(request: web.Request) -> web.StreamResponse:
    """`POST /_inference[/{task_type}]/{inference_id}`: perform inference."""
    call = await parse_call(request, stream=False)
    return await synthesize(request, call)


async def stream(request: web.Request) -> web.StreamResponse:
    """`POST /_inference[/{task_type}]/{inference_id}/_stream`: SSE.

    Failures found while parsing the REST request are plain JSON errors; everything after
    (unknown endpoint, task mismatch, validation) is one `event: error`, as ES's SSE listener
    writes it.
    """
    try:
        call = await parse_call(request, stream=True)
    except StreamFailure as failure:
        return await stream_error(request, failure.error)
    return await synthesize(request, call)


#: The handlers that perform inference: the ones stubs can answer.
INFERENCE_HANDLERS: tuple[Handler, ...] = (infer, stream)


#: Handlers whose success changes the registry.
_REGISTRY_HANDLERS: tuple[Handler, ...] = (put_endpoint, update, delete_endpoint)


async def replay_effects(request: web.Request) -> None:
    """Change the registry as a replayed successful create, update or delete did when recorded.

    Later requests answered locally (stubs, `fallback=synthesize`) then find the endpoint the
    cassette created. What mockinfer itself would refuse leaves the registry as it is: the
    recorded answer stands either way.
    """
    if request.match_info.handler in _REGISTRY_HANDLERS:
        with contextlib.suppress(EsError):
            await request.match_info.handler(request)


async def get_services(request: web.Request) -> web.StreamResponse:
    """`GET /_inference/_services[/{task_type}]`: the services this cluster accepts."""
    check_params(request, ())
    task = request.match_info.get("task_type")
    return json_response(request, services_document(task_filter(task)))


async def get_region_policy(request: web.Request) -> web.StreamResponse:
    """`GET /_inference/_region_policy`."""
    check_params(request, ())
    return json_response(request, request.app[STATE].backend.region_policy())


async def put_region_policy(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference/_region_policy`: exactly one of `allowed_geos` and `allowed_regions`."""
    check_params(request, ("force",))
    body = (await json_body(request, "region_policy")).data
    body.pop("force", None)
    unknown = [k for k in body if k not in ("region_policy",)]
    if unknown:
        raise EsError(
            400, "x_content_parse_exception", f"[1:2] [region_policy] unknown field [{unknown[0]}]"
        )
    policy = body.get("region_policy")
    if not isinstance(policy, dict):
        raise EsError(400, "x_content_parse_exception", "[1:2] Required [region_policy]")
    variants = [k for k in ("allowed_geos", "allowed_regions") if k in policy]
    if len(variants) != 1:
        raise EsError(
            400,
            "x_content_parse_exception",
            "failed to parse field [region_policy]",
            caused_by=EsError(
                400,
                "illegal_argument_exception",
                "[allowed_geos] and [allowed_regions] are not allowed together; "
                "exactly one is required",
            ),
        )
    if not policy[variants[0]]:
        raise EsError(
            400, "illegal_argument_exception", f"[region_policy.{variants[0]}] must not be empty"
        )
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json_response(request, request.app[STATE].backend.put_region_policy(policy, now))


async def delete_region_policy(request: web.Request) -> web.StreamResponse:
    """`DELETE /_inference/_region_policy`."""
    check_params(request, ())
    request.app[STATE].backend.delete_region_policy()
    return json_response(request, {"acknowledged": True})


def add_routes(app: web.Application) -> None:
    """Register ES's generic `_inference` patterns; a fixed suffix before the variable
    segment that would also match it.

    aiohttp tries the patterns in this order, each a regular expression: the two-segment ones
    (`/_inference/{task_type}/{inference_id}`, what the official clients call) come right after
    the suffixes they would also match, and the four-segment ones, which nothing else matches,
    last.
    """
    one, two = "/_inference/{first}", "/_inference/{first}/{second}"
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/", root),
        ("HEAD", "/", root),
        ("GET", "/_inference", get_endpoints),
        ("GET", "/_inference/_services", get_services),
        ("GET", "/_inference/_services/{task_type}", get_services),
        ("GET", "/_inference/_region_policy", get_region_policy),
        ("PUT", "/_inference/_region_policy", put_region_policy),
        ("DELETE", "/_inference/_region_policy", delete_region_policy),
        ("POST", one + "/_stream", stream),
        ("PUT", one + "/_update", update),
        ("GET", two, get_endpoints),
        ("PUT", two, put_endpoint),
        ("POST", two, infer),
        ("DELETE", two, delete_endpoint),
        ("GET", one, get_endpoints),
        ("PUT", one, put_endpoint),
        ("POST", one, infer),
        ("DELETE", one, delete_endpoint),
        ("POST", two + "/_stream", stream),
        ("PUT", two + "/_update", update),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, handler)
