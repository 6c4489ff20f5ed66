"""The reply chain every request passes: faults, then stubs, then the cassette, then synthesis.

Each link is a module with one `answer(request, following)` coroutine: it answers the request
itself, or hands it to `following`, the rest of the chain. Synthesis, the last link, is the
route handler aiohttp matched. `/_mockinfer/` admin requests never enter the chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from mockinfer.server.chain import cassette, faults, stubs
from mockinfer.server.state import STATE

Link = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

#: The links in order; the route handler (synthesis) follows the last.
LINKS: tuple[Link, ...] = (faults.answer, stubs.answer, cassette.answer)


async def run(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pass the request down the chain, ending at `handler`."""
    state = request.app[STATE]
    if state.cassette is None and not len(state.faults) and not len(state.stubs):
        return await handler(request)  # every link would pass it on: the hot path skips them
    following: Handler = handler
    for link in reversed(LINKS):
        following = _then(link, following)
    return await following(request)


def _then(link: Link, following: Handler) -> Handler:
    async def step(request: web.Request) -> web.StreamResponse:
        return await link(request, following)

    return step
