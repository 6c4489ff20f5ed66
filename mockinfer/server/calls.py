"""Reading requests as a cluster does: query parameters, the target, and inference calls."""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from mockinfer.dialects import ES_CHAT
from mockinfer.server.body import read_body
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.durations import parse_boolean, parse_time_value
from mockinfer.wire.endpoints import Endpoint, task_filter
from mockinfer.wire.errors import EsError, request_body_required
from mockinfer.wire.requests import (
    CHAT_PARSER,
    INFERENCE_PARSER,
    Body,
    InferenceCall,
    parse_chat,
    parse_inference,
    require_single_input,
    require_task,
)
from mockinfer.wire.services import resolve_service
from mockinfer.wire.tasks import STREAMING_TASKS, TaskType

_COMMON_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path"})
#: Errors a cluster raises while parsing the REST request, before any stream can start.
PARSE_ERRORS = frozenset(
    {"x_content_parse_exception", "parse_exception", "illegal_argument_exception"}
)


ADMIN_PREFIX = "/_mockinfer/"


def is_admin(request: web.Request) -> bool:
    """Whether the request is for mockinfer's own admin API."""
    return request.path.startswith(ADMIN_PREFIX) or request.path == ADMIN_PREFIX[:-1]


def is_stream_route(request: web.Request) -> bool:
    """Whether the request asks for a streamed (SSE) answer."""
    return request.path.endswith("/_stream")


class StreamFailure(Exception):
    """A failure on a `_stream` route after the request was parsed: ES sends it as an SSE event."""

    def __init__(self, error: EsError) -> None:
        super().__init__(error.reason)
        self.error = error


def check_params(request: web.Request, allowed: Collection[str]) -> None:
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


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter, false when absent."""
    value = request.query.get(name)
    return False if value is None else parse_boolean(value, name)


def note_target(request: web.Request) -> tuple[str | None, str]:
    """(task type segment or None, inference id) from a one- or two-segment path."""
    first = request.match_info.get("first", "")
    second = request.match_info.get("second")
    task, inference_id = (None, first) if second is None else (first, second)
    exchange = request[EXCHANGE]
    exchange.inference_id, exchange.task_type = inference_id, task
    return task, inference_id


def note_request_target(request: web.Request) -> tuple[str | None, str | None]:
    """(task type, inference id or model id) of an `_inference` or `_ml` route, noted for the
    journal; the task type from the registry where the path leaves it open."""
    backend = request.app[STATE].backend
    if "first" in request.match_info:
        task, inference_id = note_target(request)
        if task_filter(task) is None and backend.has(inference_id):
            task = backend.get(inference_id).task_type.value
        return task, inference_id
    if "model_id" in request.match_info:
        model_id = request.match_info["model_id"]
        model = backend.model(model_id)
        exchange = request[EXCHANGE]
        exchange.inference_id = model_id
        exchange.task_type = model.task_type.value if model is not None else None
        return exchange.task_type, model_id
    return None, None


async def json_body(request: web.Request, parser: str) -> Body:
    """The request's JSON body, required; parse errors as ES words them."""
    raw = await read_body(request)
    if not raw:
        raise request_body_required()
    body = Body.from_bytes(raw, parser)
    request[EXCHANGE].note_body(body.data)
    return body


async def parse_call(
    request: web.Request, *, stream: bool, known_only: bool = True
) -> InferenceCall:
    """The validated inference call of a perform-inference or `_stream` request.

    Raises `EsError` for failures ES answers as plain JSON, and `StreamFailure` for those it
    sends as an SSE error event on a stream. `known_only=False` accepts an endpoint the
    registry does not hold when the path names its task type (a cassette's cluster may have
    it), so that stubs can answer it.
    """
    exchange = request[EXCHANGE]
    if exchange.call is not None:
        return exchange.call
    check_params(request, ("timeout",))
    task, inference_id = note_target(request)
    if stream:
        exchange.streamed = True
    task_filter(task)
    if task == TaskType.CHAT_COMPLETION.value:
        exchange.dialect = ES_CHAT
    body = await json_body(
        request, CHAT_PARSER if stream and task == "chat_completion" else INFERENCE_PARSER
    )
    try:
        endpoint = _lookup(request, task, inference_id, known_only)
        if stream and endpoint.task_type not in STREAMING_TASKS:
            raise _streaming_not_allowed(endpoint)
        if endpoint.task_type is TaskType.CHAT_COMPLETION:
            call = InferenceCall(endpoint, chat=parse_chat(body), stream=stream)
        else:
            parsed = parse_inference(body, endpoint.task_type)
            if endpoint.task_type is TaskType.COMPLETION:
                require_single_input(parsed, _completion_label(endpoint))
            call = InferenceCall(endpoint, input=parsed, stream=stream)
    except EsError as error:
        if stream and error.error_type not in PARSE_ERRORS:
            raise StreamFailure(error) from None
        raise
    if known_only or request.app[STATE].backend.has(inference_id):
        exchange.call = call  # a stand-in endpoint is for stubs only, never for synthesis
    return call


def _lookup(
    request: web.Request, task: str | None, inference_id: str, known_only: bool
) -> Endpoint:
    requested = task_filter(task)
    backend = request.app[STATE].backend
    if not known_only and requested is not None and not backend.has(inference_id):
        return Endpoint(inference_id, requested, "elasticsearch", {})
    endpoint = backend.get(inference_id)
    if endpoint.task_type is TaskType.CHAT_COMPLETION:
        request[EXCHANGE].dialect = ES_CHAT
    require_task(requested, endpoint.task_type, inference_id)
    return endpoint


def _completion_label(endpoint: Endpoint) -> str:
    spec = resolve_service(endpoint.service)
    return spec.completion_label if spec else endpoint.service


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
