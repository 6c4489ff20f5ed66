"""The aiohttp application: one middleware that runs the reply chain and renders failures."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from mockinfer.server import admin, chain, models, providers
from mockinfer.server.body import check_compatible_version
from mockinfer.server.calls import is_admin
from mockinfer.server.journal import begin_call
from mockinfer.server.render import error_response
from mockinfer.server.routes import add_routes
from mockinfer.server.state import EXCHANGE, STATE, Exchange, ServerState
from mockinfer.wire.errors import EsError, EsStringError

logger = logging.getLogger("mockinfer.server")


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pass each request down the reply chain; render every failure as ES would.

    Admin requests skip the chain: they are never faulted, stubbed, recorded or journaled.
    """
    exchange = request[EXCHANGE] = Exchange()
    try:
        provider = providers.dialect_of(request)
        if provider is not None:
            exchange.dialect = provider  # before the chain: its failures are the provider's
            providers.check_key(request)
        else:
            accept = request.headers.get("Accept")
            if accept is not None and "compatible-with" in accept:
                check_compatible_version("Accept", accept)
        if is_admin(request):
            return await handler(request)
        return await chain.run(request, handler)
    except Exception as exc:
        return error_response(request, _as_es_error(request, exc))


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
    # The query may carry a key: the log names the path alone.
    logger.exception("mockinfer failed to answer %s %s", request.method, request.path)
    request.app[STATE].failures.append(exc)
    return EsError(500, "exception", f"mockinfer failed to answer the request: {exc!r}")


async def _on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """As a response's head goes out: its dialect's headers, then the journal's entry (one
    hook rather than two: it runs for every response)."""
    _dialect_headers(request, response)
    begin_call(request, response)


def _dialect_headers(request: web.Request, response: web.StreamResponse) -> None:
    """ES's product header, or a provider's request id and rate limits; a replayed
    provider answer keeps the ones it was recorded with."""
    dialect = request[EXCHANGE].dialect
    request_id = providers.request_id(request) if dialect.provider is not None else ""
    for name, value in dialect.headers(response.status, request_id).items():
        if dialect.provider is None or name not in response.headers:
            response.headers[name] = value


async def _close_helper(app: web.Application) -> None:
    app[STATE].synthesizer.close_helper()


def create_app(state: ServerState | None = None) -> web.Application:
    """A fresh application serving the inference API from `state`."""
    resolved = state or ServerState()
    app = web.Application(middlewares=[pipeline], client_max_size=resolved.max_body_bytes + 1)
    app[STATE] = resolved
    app.on_response_prepare.append(_on_response_prepare)
    app.on_cleanup.append(_close_helper)
    add_routes(app)
    models.add_routes(app)
    providers.add_routes(app)
    admin.add_routes(app)
    return app
