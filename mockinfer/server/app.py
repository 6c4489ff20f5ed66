"""The aiohttp application: middleware, and the product header on every response."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from mockinfer.backend import Call
from mockinfer.server.body import check_compatible_version
from mockinfer.server.cassette_gate import answer_from_cassette, uses_cassette
from mockinfer.server.render import PRODUCT_HEADER, error_response
from mockinfer.server.routes import add_routes
from mockinfer.server.state import (
    BODY,
    INFERENCE_ID,
    OPENAI_ERRORS,
    STATE,
    STREAMED,
    TASK_TYPE,
    ServerState,
)
from mockinfer.wire.errors import EsError, EsStringError

logger = logging.getLogger("mockinfer.server")


@web.middleware
async def es_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as ES would, keep server faults for the test, journal each call."""
    try:
        accept = request.headers.get("Accept")
        if accept is not None and "compatible-with" in accept:
            check_compatible_version("Accept", accept)
        if uses_cassette(request):
            response: web.StreamResponse = await answer_from_cassette(request, handler)
        else:
            response = await handler(request)
    except Exception as exc:
        error = _as_es_error(request, exc)
        response = error_response(request, error, openai=request.get(OPENAI_ERRORS, False))
    _journal(request, response.status)
    return response


def _as_es_error(request: web.Request, exc: Exception) -> EsError:
    if isinstance(exc, EsError):
        return exc
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return EsStringError(
            405,
            "method_not_allowed",
            f"Incorrect HTTP method for uri [{request.path_qs}] and method [{request.method}], "
            f"allowed: [{', '.join(allowed)}]",
            headers={"Allow": ",".join(allowed)},
        )
    if isinstance(exc, web.HTTPNotFound):
        return EsStringError(
            400,
            "no_handler_found",
            f"no handler found for uri [{request.path_qs}] and method [{request.method}]",
        )
    logger.exception("mockinfer failed to answer %s %s", request.method, request.path_qs)
    request.app[STATE].faults.append(exc)
    return EsError(500, "exception", f"mockinfer failed to answer the request: {exc!r}")


def _journal(request: web.Request, status: int) -> None:
    request.app[STATE].backend.journal.record(
        Call(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            inference_id=request.get(INFERENCE_ID),
            task_type=request.get(TASK_TYPE),
            body=request.get(BODY),
            status=status,
            streamed=request.get(STREAMED, False),
        )
    )


async def _product_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[PRODUCT_HEADER[0]] = PRODUCT_HEADER[1]


def create_app(state: ServerState | None = None) -> web.Application:
    """A fresh application serving the inference API from `state`."""
    resolved = state or ServerState()
    app = web.Application(middlewares=[es_errors], client_max_size=resolved.max_body_bytes + 1)
    app[STATE] = resolved
    app.on_response_prepare.append(_product_header)
    add_routes(app)
    return app
