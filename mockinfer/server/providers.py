"""The model providers' own routes: OpenAI's, Cohere's and Hugging Face's APIs.

A cluster whose `openai`, `cohere`, `hugging_face` or `custom` endpoints point their `url` here
gets deterministic answers from the same chain as `/_inference`: faults, stubs (the model stands
where the inference id would), cassettes and synthesis. Each route parses its body into the
same inference call `/_inference` makes (`mockinfer.wire.openai`, `.cohere`, `.hugging_face`)
and answers in its provider's dialect, which is set before the chain runs so that every failure
is worded as that provider words it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from mockinfer.dialects import Dialect
from mockinfer.dialects.cohere import CohereDialect
from mockinfer.dialects.hugging_face import HUGGING_FACE
from mockinfer.dialects.openai import CREATED, OpenAiDialect
from mockinfer.generators.text import count_tokens
from mockinfer.server.body import read_body
from mockinfer.server.render import json_response, synthesize
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire import cohere, hugging_face, openai
from mockinfer.wire.errors import ProviderError
from mockinfer.wire.requests import InferenceCall, check_depth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: What a route makes of its request: the call, and the dialect instance that writes its answer.
Parse = Callable[[web.Request, Any], tuple[InferenceCall, Dialect]]


@dataclass(frozen=True)
class ProviderRoute:
    """One provider route: how it reads its body and which dialect answers it."""

    dialect: Dialect
    body_object: Callable[[Any], dict[str, Any]]
    invalid_json: Callable[[], ProviderError]
    parse: Parse


#: The route of each provider handler, for the chain and the application.
ROUTES: dict[Handler, ProviderRoute] = {}


def route_of(request: web.Request) -> ProviderRoute | None:
    """The provider route a request matched, if it matched one."""
    return ROUTES.get(request.match_info.handler)


def request_id(request: web.Request) -> str:
    """The id this request's answer carries: a function of the server seed, the request and
    how many identical requests came before it, so that requests a cluster sends in parallel
    get the same ids in every run."""
    exchange = request[EXCHANGE]
    if exchange.request_id is None:
        state = request.app[STATE]
        digest = hashlib.blake2b(digest_size=16)
        for part in (str(state.synthesizer.seed), request.method, request.path_qs):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(exchange.raw_body or b"")
        digest.update(str(state.request_numbers.next(digest.digest())).encode())
        exchange.request_id = "req_" + digest.hexdigest()
    return exchange.request_id


def check_key(request: web.Request) -> None:
    """Refuse a request without the provider key the server was given, as the provider would."""
    expected = request.app[STATE].provider_api_key
    if expected is None:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(_bytes(given.strip()), _bytes(expected)):
        return
    dialect = dialect_of(request)
    provider = dialect.provider if dialect is not None else None
    if provider == "openai" and not given:
        raise ProviderError(
            401,
            openai.INVALID_REQUEST,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if provider == "openai":
        raise ProviderError(
            401,
            openai.INVALID_REQUEST,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if provider == "cohere":
        raise ProviderError(401, "unauthorized", "invalid api token")
    raise ProviderError(401, "Unauthorized", "Invalid credentials in Authorization header")


def _bytes(text: str) -> bytes:
    # Headers arrive decoded as Latin-1 or with escaped bytes: compare whatever came.
    return text.encode("utf-8", "surrogateescape")


async def provider_call(request: web.Request) -> InferenceCall:
    """The validated call of a provider request, parsed once; its dialect is set on the way."""
    exchange = request[EXCHANGE]
    if exchange.call is not None:
        return exchange.call
    route = ROUTES[request.match_info.handler]
    raw = await read_body(request)
    check_depth(raw)
    try:
        # orjson refuses what no answer could carry back: lone surrogates, NaN, Infinity.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        exchange.note_body(raw.decode("utf-8", "replace"))
        raise route.invalid_json() from None
    exchange.note_body(data)
    call, dialect = route.parse(request, route.body_object(data))
    endpoint = call.endpoint
    exchange.call, exchange.dialect = call, dialect
    exchange.inference_id, exchange.task_type = endpoint.inference_id, endpoint.task_type.value
    exchange.streamed = call.stream
    return call


async def perform(request: web.Request) -> web.StreamResponse:
    """Answer a provider's inference request by synthesis: the last link of the chain."""
    call = await provider_call(request)
    return await synthesize(request, call)


def _texts_tokens(texts: tuple[str, ...]) -> int:
    return sum(count_tokens(text) for text in texts)


def _openai_embeddings(request: web.Request, data: Any) -> tuple[InferenceCall, Dialect]:
    parsed = openai.parse_embeddings(data)
    assert parsed.call.input is not None
    tokens = parsed.tokens
    if tokens is None:
        tokens = _texts_tokens(parsed.call.input.inputs)
    return parsed.call, OpenAiDialect(parsed.model, parsed.base64, prompt_tokens=tokens)


def _openai_chat(request: web.Request, data: Any) -> tuple[InferenceCall, Dialect]:
    # Hugging Face's OpenAI-compatible route serves the model its path names.
    parsed = openai.parse_chat_completion(data, request.match_info.get("model"))
    return parsed.call, OpenAiDialect(include_usage=parsed.include_usage)


def _cohere_embed(version: int) -> Parse:
    def parse(request: web.Request, data: Any) -> tuple[InferenceCall, Dialect]:
        parsed = cohere.parse_embed(data, version)
        assert parsed.call.input is not None
        texts = parsed.call.input.inputs
        dialect = CohereDialect(
            version, request_id(request), texts, parsed.embedding_type, _texts_tokens(texts)
        )
        return parsed.call, dialect

    return parse


def _cohere_rerank(version: int) -> Parse:
    def parse(request: web.Request, data: Any) -> tuple[InferenceCall, Dialect]:
        return cohere.parse_rerank(data, version), CohereDialect(version, request_id(request))

    return parse


def _hugging_face(kind: str) -> Parse:
    def parse(request: web.Request, data: Any) -> tuple[InferenceCall, Dialect]:
        model = request.match_info["model"]
        if kind == "rerank":
            return hugging_face.parse_rerank(data, model), HUGGING_FACE
        return hugging_face.parse_embed(data, model, kind), HUGGING_FACE

    return parse


async def list_models(request: web.Request) -> web.StreamResponse:
    """`GET /v1/models`: the well-known models (every other name is served too)."""
    models = [_model_entry(name) for name in openai.LISTED_MODELS]
    return json_response(request, {"object": "list", "data": models})


async def get_model(request: web.Request) -> web.StreamResponse:
    """`GET /v1/models/{model}`: any model exists here."""
    return json_response(request, _model_entry(request.match_info["model"]))


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}


def _perform(route: ProviderRoute) -> Handler:
    """A handler of its own for each route: the chain finds the route by its handler."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await perform(request)

    ROUTES[handle] = route
    return handle


_OPENAI = OpenAiDialect()


def _openai(parse: Parse) -> Handler:
    return _perform(ProviderRoute(_OPENAI, openai.body_object, openai.invalid_json, parse))


def _cohere(parse: Parse, version: int) -> Handler:
    dialect = CohereDialect(version)
    return _perform(ProviderRoute(dialect, cohere.body_object, cohere.invalid_json, parse))


def _hf(kind: str) -> Handler:
    parse = _hugging_face(kind)
    return _perform(
        ProviderRoute(HUGGING_FACE, hugging_face.body_object, hugging_face.invalid_json, parse)
    )


def dialect_of(request: web.Request) -> Dialect | None:
    """The provider dialect of the route a request matched; None off the provider routes."""
    handler = request.match_info.handler
    route = ROUTES.get(handler)
    if route is not None:
        return route.dialect
    return _OPENAI if handler in (list_models, get_model) else None


#: Built once: a handler is its route's key in `ROUTES`.
_TABLE: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/v1/embeddings", _openai(_openai_embeddings)),
    ("POST", "/v1/chat/completions", _openai(_openai_chat)),
    ("GET", "/v1/models", list_models),
    ("GET", "/v1/models/{model:.+}", get_model),
    *(("POST", f"/v{v}/embed", _cohere(_cohere_embed(v), v)) for v in (1, 2)),
    *(("POST", f"/v{v}/rerank", _cohere(_cohere_rerank(v), v)) for v in (1, 2)),
    *(
        ("POST", f"{hugging_face.PREFIX}{{model:.+}}/{kind}", _hf(kind))
        for kind in hugging_face.KINDS
    ),
    ("POST", f"{hugging_face.PREFIX}{{model:.+}}/v1/chat/completions", _openai(_openai_chat)),
)


def add_routes(app: web.Application) -> None:
    """Register the providers' routes."""
    for method, path, handler in _TABLE:
        app.router.add_route(method, path, handler)
