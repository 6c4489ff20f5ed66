"""A local stand-in for OpenAI's API, to record from through mockinfer's provider routes.

Independent of mockinfer (it writes its own bytes), like the cluster stand-in it extends: it
requires `Authorization: Bearer <key>`, answers embeddings and chat completions (streams in
OpenAI's framing, with irregular gaps), and names the account in headers and a cookie the way
OpenAI does, so that a recording can be searched for all of them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.cassettes.standin import StandIn, compact

OPENAI_KEY = "sk-proj-Qw8Er4Ty6Ui2Op0As9Df7Gh5Jk3Lz1Xc"
ORGANIZATION = "org-Hx7Jd2Kq9Lm4Np6Rs"
PROJECT = "proj_Vb3Nm8Qw2Er6Ty"
COOKIE = "__cf_bm=cHJvdmlkZXItY29va2llLXZhbHVl; path=/; HttpOnly"


def data(payload: Any) -> bytes:
    """One event as OpenAI frames it."""
    text = payload if isinstance(payload, str) else compact(payload).decode()
    return f"data: {text}\n\n".encode()


class ProviderStandIn(StandIn):
    """OpenAI's `/v1/embeddings` and `/v1/chat/completions`, on a background thread."""

    def __init__(self, **options: Any) -> None:
        super().__init__(api_key=OPENAI_KEY, **options)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._provider_middleware])
        app.router.add_route("POST", "/v1/embeddings", self._embeddings)
        app.router.add_route("POST", "/v1/chat/completions", self._chat)
        return app

    @web.middleware
    async def _provider_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.note(request, await request.read())
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            error = {
                "message": f"Incorrect API key provided: {request.headers.get('Authorization')}.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
            return web.Response(status=401, body=compact({"error": error}), headers=self._account())
        return await handler(request)  # type: ignore[no-any-return]

    @staticmethod
    def _account() -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "openai-organization": ORGANIZATION,
            "openai-project": PROJECT,
            "x-request-id": "req_0123456789abcdef",
            "Set-Cookie": COOKIE,
        }

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        items = [
            {"object": "embedding", "index": i, "embedding": [len(t) / 10, i / 10, 0.5]}
            for i, t in enumerate(texts)
        ]
        answer = {
            "object": "list",
            "data": items,
            "model": body["model"],
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
        }
        return web.Response(body=compact(answer), headers=self._account())

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        words = ["The", " harbour", " lights", " are", " on", "."]
        head = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words)}
            answer = {
                **head,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
            return web.Response(body=compact(answer), headers=self._account())
        response = web.StreamResponse(
            headers={**self._account(), "Content-Type": "text/event-stream"}
        )
        chunks = [
            {**head, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
            for w in words
        ]
        await asyncio.sleep(self.first_delay)
        await response.prepare(request)
        for i, chunk in enumerate(chunks):
            if i:
                await asyncio.sleep(self.gaps[(i - 1) % len(self.gaps)])
            await response.write(data(chunk))
        await response.write(data("[DONE]"))
        await response.write_eof()
        return response
