"""The stubs link: a matching stub answers the inference request here, over any cassette.

A stubbed request is answered locally and never recorded. On a provider's route (`/v1/embeddings`
and the like) the model stands where the inference id would. With a cassette in use, a stub can
answer an endpoint mockinfer does not hold when the path names its task type: the cassette's
cluster had it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from mockinfer.server import providers
from mockinfer.server.calls import StreamFailure, is_stream_route, parse_call
from mockinfer.server.render import answer as render
from mockinfer.server.render import stream_error
from mockinfer.server.routes import INFERENCE_HANDLERS
from mockinfer.server.state import EXCHANGE, STATE
from mockinfer.wire.errors import EsError


async def answer(request: web.Request, following: Handler) -> web.StreamResponse:
    """Answer from the newest matching stub, or pass on."""
    state = request.app[STATE]
    if not len(state.stubs):
        return await following(request)
    provider = providers.route_of(request) is not None
    if not provider and request.match_info.handler not in INFERENCE_HANDLERS:
        return await following(request)
    try:
        if provider:
            call = await providers.provider_call(request)
        else:
            stream = is_stream_route(request)
            call = await parse_call(request, stream=stream, known_only=state.cassette is None)
    except (EsError, StreamFailure):
        return await following(request)  # what is wrong is answered downstream, as a cluster would
    # A provider's call is complete in itself: a batch can mix stubbed and generated inputs.
    known = provider or state.backend.has(call.endpoint.inference_id)
    try:
        outcome = state.stubs.answer(call, state.synthesizer, per_input=known)
    except EsError as error:
        request[EXCHANGE].source = "stub"
        if call.stream:
            return await stream_error(request, error)
        raise
    if outcome is None:
        return await following(request)
    request[EXCHANGE].source = "stub"
    return await render(request, lambda: outcome)
