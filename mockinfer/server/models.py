"""The trained-model routes: `_infer`, and the model and stats documents clients check.

`POST /_ml/trained_models/{model_id}/_infer` is how langchain's and llama-index's
Elasticsearch embeddings reach a model; it is answered by the same synthesis as `/_inference`
on an endpoint that runs the model, rendered in the trained-model dialect.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from mockinfer.dialects import ML
from mockinfer.server.body import read_body
from mockinfer.server.calls import check_params, flag, note_request_target
from mockinfer.server.render import json_response, synthesize
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError
from mockinfer.wire.models import (
    INFER_PARSER,
    TrainedModel,
    model_not_found,
    not_deployed,
    parse_infer,
    unknown_models,
)
from mockinfer.wire.requests import Body, InferenceCall, InferenceInput

_ALL = ("_all", "*")
_GET_PARAMS = (
    "allow_no_match",
    "decompress_definition",
    "exclude_generated",
    "from",
    "include",
    "include_model_definition",
    "size",
    "tags",
)


async def infer(request: web.Request) -> web.StreamResponse:
    """`POST /_ml/trained_models/{model_id}/_infer`."""
    check_params(request, ("timeout",))
    request[EXCHANGE].dialect = ML
    model_id = request.match_info["model_id"]
    note_request_target(request)
    model = request.app[STATE].backend.model(model_id)
    raw = await read_body(request)
    body = Body.from_bytes(raw, INFER_PARSER) if raw else None
    request[EXCHANGE].note_body(body.data if body is not None else None)
    # As in ES, the REST layer checks the body before the model is looked up.
    parsed = parse_infer(body)
    if model is None:
        raise model_not_found(model_id)
    if not model.deployed:
        raise not_deployed(model_id)
    texts, similarity = parsed.texts(model), parsed.similarity_text(model)
    call = InferenceCall(model.endpoint(), input=InferenceInput(inputs=texts, query=similarity))
    return await synthesize(request, call)


def _selected(request: web.Request) -> list[TrainedModel]:
    """The models an id expression names (ids, `*` wildcards, `_all`; comma-separated), paged
    by `from` and `size` as ES pages them."""
    models = request.app[STATE].backend.models()
    expression = request.match_info.get("model_id", "_all")
    allow_no_match = "allow_no_match" not in request.query or flag(request, "allow_no_match")
    chosen: dict[str, TrainedModel] = {}
    missing = []
    for part in (p for p in expression.split(",") if p):
        if part in _ALL:
            chosen.update((m.model_id, m) for m in models)
            continue
        # ES expands `*` only: every other character stands for itself.
        pattern = re.compile(".*".join(re.escape(piece) for piece in part.split("*")))
        matched = [m for m in models if pattern.fullmatch(m.model_id)]
        if not matched and ("*" not in part or not allow_no_match):
            missing.append(part)
        chosen.update((m.model_id, m) for m in matched)
    if missing:
        raise unknown_models(missing)
    start, size = _count(request, "from", 0), _count(request, "size", 100)
    return [chosen[k] for k in sorted(chosen)][start : start + size]


def _count(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]+", value):
        raise EsError(
            400,
            "illegal_argument_exception",
            f"Failed to parse int parameter [{name}] with value [{value}]",
        )
    return int(value)


async def get_models(request: web.Request) -> web.StreamResponse:
    """`GET /_ml/trained_models[/{model_id}]`."""
    check_params(request, _GET_PARAMS)
    include = request.query.get("include", "")
    configs = [
        m.config(definition_status="definition_status" in include) for m in _selected(request)
    ]
    return json_response(request, {"count": len(configs), "trained_model_configs": configs})


async def get_stats(request: web.Request) -> web.StreamResponse:
    """`GET /_ml/trained_models[/{model_id}]/_stats`."""
    check_params(request, ("allow_no_match", "from", "size"))
    stats: list[dict[str, Any]] = [m.stats() for m in _selected(request)]
    return json_response(request, {"count": len(stats), "trained_model_stats": stats})


def add_routes(app: web.Application) -> None:
    """Register the trained-model routes."""
    app.router.add_route("POST", "/_ml/trained_models/{model_id}/_infer", infer)
    app.router.add_route("GET", "/_ml/trained_models/_stats", get_stats)
    app.router.add_route("GET", "/_ml/trained_models/{model_id}/_stats", get_stats)
    app.router.add_route("GET", "/_ml/trained_models", get_models)
    app.router.add_route("GET", "/_ml/trained_models/{model_id}", get_models)
