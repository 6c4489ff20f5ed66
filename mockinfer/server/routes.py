"""The route table and its thin handlers: parse, ask the backend and engines, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from mockinfer.server.body import read_body
from mockinfer.server.render import json_response, stream_error, stream_response
from mockinfer.server.state import BODY, INFERENCE_ID, OPENAI_ERRORS, STATE, STREAMED, TASK_TYPE
from mockinfer.wire.durations import parse_boolean, parse_time_value
from mockinfer.wire.endpoints import (
    Endpoint,
    create_endpoint,
    parse_task_type,
    reject_reserved,
    resolve_task_type,
    update_endpoint,
    validate_inference_id,
)
from mockinfer.wire.errors import EsError, request_body_required
from mockinfer.wire.requests import (
    CHAT_PARSER,
    INFERENCE_PARSER,
    Body,
    parse_chat,
    parse_inference,
    require_single_input,
    require_task,
)
from mockinfer.wire.services import resolve_service, services_document
from mockinfer.wire.tasks import STREAMING_TASKS, TaskType

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_COMMON_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path"})
_ALL = ("_all", "*")
#: Errors a cluster raises while parsing the REST request, before any stream can start.
_PARSE_ERRORS = frozenset(
    {"x_content_parse_exception", "parse_exception", "illegal_argument_exception"}
)

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


def _params(request: web.Request, allowed: Collection[str]) -> None:
    """Reject query parameters the route does not take, as ES's RestController does."""
    unknown = [k for k in request.query if k not in _COMMON_PARAMS and k not in allowed]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        listed = ", ".join(f"[{k}]" for k in unknown)
        raise EsError(
            400,
            "illegal_argument_exception",
            f"request [{request.path}] contains unrecognized parameter{plural}: {listed}",
        )
    if "timeout" in request.query:
        parse_time_value(request.query["timeout"], "timeout")


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    return False if value is None else parse_boolean(value, name)


def note_target(request: web.Request) -> tuple[str | None, str]:
    """(task type segment or None, inference id) from a one- or two-segment path."""
    first = request.match_info.get("first", "")
    second = request.match_info.get("second")
    task, inference_id = (None, first) if second is None else (first, second)
    request[INFERENCE_ID] = inference_id
    request[TASK_TYPE] = task
    return task, inference_id


async def _json_body(request: web.Request, parser: str) -> Body:
    raw = await read_body(request)
    if not raw:
        raise request_body_required()
    body = Body.from_bytes(raw, parser)
    request[BODY] = body.data
    return body


async def root(request: web.Request) -> web.StreamResponse:
    """`GET /` and `HEAD /`: the cluster info document."""
    _params(request, ())
    if request.method == "HEAD":
        return web.Response(status=200, headers={"Content-Type": "application/json"})
    return json_response(request, ROOT_INFO)


async def get_endpoints(request: web.Request) -> web.StreamResponse:
    """`GET /_inference[/{task_type}][/{inference_id}]`; `_all` and `*` list."""
    _params(request, ("return_minimal_config",))
    backend = request.app[STATE].backend
    if "first" not in request.match_info:
        endpoints = backend.list()
    else:
        task, inference_id = note_target(request)
        task_type = parse_task_type(task) if task is not None else None
        if inference_id in _ALL:
            endpoints = backend.list(task_type)
        else:
            endpoints = [backend.get(inference_id, task_type)]
    return json_response(request, {"endpoints": [e.public() for e in endpoints]})


async def put_endpoint(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference[/{task_type}]/{inference_id}`: create, answering the stored config."""
    _params(request, ("timeout",))
    task, inference_id = note_target(request)
    if task is not None:
        parse_task_type(task)
    body = await _json_body(request, "inference_endpoint")
    resolve_task_type(task, body.data)
    reject_reserved(inference_id)
    validate_inference_id(inference_id)
    endpoint = create_endpoint(inference_id, task, body.data)
    request.app[STATE].backend.create(endpoint)
    return json_response(request, endpoint.public())


async def update(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference[/{task_type}]/{inference_id}/_update`."""
    _params(request, ("timeout",))
    task, inference_id = note_target(request)
    if task is not None:
        parse_task_type(task)
    body = await _json_body(request, "inference_endpoint")
    backend = request.app[STATE].backend
    endpoint = update_endpoint(backend.get(inference_id), task, body.data)
    return json_response(request, backend.replace(endpoint).public())


async def delete_endpoint(request: web.Request) -> web.StreamResponse:
    """`DELETE /_inference[/{task_type}]/{inference_id}` with `force` and `dry_run`."""
    _params(request, ("force", "dry_run"))
    task, inference_id = note_target(request)
    task_type = parse_task_type(task) if task is not None else None
    deleted = request.app[STATE].backend.delete(
        inference_id, task_type, force=_flag(request, "force"), dry_run=_flag(request, "dry_run")
    )
    return json_response(request, {"acknowledged": deleted, "pipelines": [], "indexes": []})


def _lookup(request: web.Request, task: str | None, inference_id: str) -> Endpoint:
    requested = parse_task_type(task) if task is not None else None
    if requested is TaskType.CHAT_COMPLETION:
        request[OPENAI_ERRORS] = True
    endpoint = request.app[STATE].backend.get(inference_id)
    if endpoint.task_type is TaskType.CHAT_COMPLETION:
        request[OPENAI_ERRORS] = True
    require_task(requested, endpoint.task_type, inference_id)
    return endpoint


async def infer(request: web.Request) -> web.StreamResponse:
    """`POST /_inference[/{task_type}]/{inference_id}`: perform inference."""
    _params(request, ("timeout",))
    task, inference_id = note_target(request)
    if task is not None:
        parse_task_type(task)
    request[OPENAI_ERRORS] = task == TaskType.CHAT_COMPLETION.value
    raw_body = await _json_body(request, INFERENCE_PARSER)
    endpoint = _lookup(request, task, inference_id)
    responder = request.app[STATE].responder
    if endpoint.task_type is TaskType.CHAT_COMPLETION:
        reply = responder.chat(endpoint, parse_chat(raw_body))
    else:
        call = parse_inference(raw_body, endpoint.task_type)
        if endpoint.task_type is TaskType.COMPLETION:
            require_single_input(call, _completion_label(endpoint))
        reply = responder.infer(endpoint, call)
    return json_response(request, reply.body, reply.status)


def _completion_label(endpoint: Endpoint) -> str:
    spec = resolve_service(endpoint.service)
    return spec.completion_label if spec else endpoint.service


async def stream(request: web.Request) -> web.StreamResponse:
    """`POST /_inference[/{task_type}]/{inference_id}/_stream`: SSE.

    Failures found while parsing the REST request are plain JSON errors; everything after
    (unknown endpoint, task mismatch, validation) is one `event: error`, as ES's SSE listener
    writes it.
    """
    _params(request, ("timeout",))
    task, inference_id = note_target(request)
    request[STREAMED] = True
    if task is not None:
        parse_task_type(task)
    openai = task == TaskType.CHAT_COMPLETION.value
    request[OPENAI_ERRORS] = openai
    body = await _json_body(request, CHAT_PARSER if openai else INFERENCE_PARSER)
    responder = request.app[STATE].responder
    try:
        endpoint = _lookup(request, task, inference_id)
        openai = endpoint.task_type is TaskType.CHAT_COMPLETION
        if endpoint.task_type not in STREAMING_TASKS:
            raise _streaming_not_allowed(endpoint)
        if openai:
            reply = responder.stream_chat(endpoint, parse_chat(body))
        else:
            call = parse_inference(body, endpoint.task_type)
            require_single_input(call, _completion_label(endpoint))
            reply = responder.stream_completion(endpoint, call)
    except EsError as error:
        if error.error_type in _PARSE_ERRORS:
            raise
        return await stream_error(request, error, openai=openai)
    return await stream_response(request, reply)


def _streaming_not_allowed(endpoint: Endpoint) -> EsError:
    spec = resolve_service(endpoint.service)
    if spec is not None and spec.task_types & STREAMING_TASKS:
        streamable = ",".join(t.value for t in sorted(spec.task_types & STREAMING_TASKS, key=str))
        reason = (
            f"Streaming is not allowed for service [{endpoint.service}] and task "
            f"[{endpoint.task_type.value}]. Supported tasks: [{streamable}]"
        )
    else:
        reason = f"Streaming is not allowed for service [{endpoint.service}]."
    return EsError(405, "status_exception", reason)


async def get_services(request: web.Request) -> web.StreamResponse:
    """`GET /_inference/_services[/{task_type}]`: the services this cluster accepts."""
    _params(request, ())
    task = request.match_info.get("task_type")
    return json_response(request, services_document(parse_task_type(task) if task else None))


async def get_region_policy(request: web.Request) -> web.StreamResponse:
    """`GET /_inference/_region_policy`."""
    _params(request, ())
    return json_response(request, request.app[STATE].backend.region_policy())


async def put_region_policy(request: web.Request) -> web.StreamResponse:
    """`PUT /_inference/_region_policy`: exactly one of `allowed_geos` and `allowed_regions`."""
    _params(request, ("force",))
    body = (await _json_body(request, "region_policy")).data
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
    _params(request, ())
    request.app[STATE].backend.delete_region_policy()
    return json_response(request, {"acknowledged": True})


def add_routes(app: web.Application) -> None:
    """Register ES's generic `_inference` patterns; fixed suffixes before variable segments."""
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
        ("POST", two + "/_stream", stream),
        ("PUT", two + "/_update", update),
        ("GET", one, get_endpoints),
        ("PUT", one, put_endpoint),
        ("POST", one, infer),
        ("DELETE", one, delete_endpoint),
        ("GET", two, get_endpoints),
        ("PUT", two, put_endpoint),
        ("POST", two, infer),
        ("DELETE", two, delete_endpoint),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, handler)
