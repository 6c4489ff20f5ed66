"""A realistic local stand-in for an Elasticsearch cluster's inference API, to record from.

It is deliberately independent of mockinfer (it writes its own bytes), so that a recording
proves mockinfer relays and replays what a cluster sends, not what mockinfer would have sent:

- every request needs `Authorization: ApiKey <key>`; otherwise a 401 `security_exception`
  with one `WWW-Authenticate` header per scheme, as ES answers;
- JSON answers for text_embedding, sparse_embedding, rerank and completion, deterministic
  functions of the input;
- `_stream` completion and chat_completion with ES's exact SSE bytes (a BOM before every
  event, `event: message`, `data: [DONE]` last) and irregular gaps between events, the first
  event after `first_delay`; the HTTP head is sent with the first event, as ES does;
- errors: 404 for an unknown endpoint (as SSE `event: error` on `_stream` paths, OpenAI-style
  on chat paths), 400 for a request without `input`;
- `PUT /_inference/{task}/{id}` echoes the configuration without its secrets.

It runs on its own thread and event loop on 127.0.0.1, port 0, and records what it received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

API_KEY = "c3RhbmRpbi1rZXk6c3VwZXItc2VjcmV0LXZhbHVlLTQy"
#: Irregular gaps (seconds) between stream events, cycled; the time before the first event.
GAPS: tuple[float, ...] = (0.042, 0.118, 0.031, 0.087, 0.149, 0.055, 0.093, 0.036, 0.127, 0.064)
FIRST_DELAY = 0.075
BOM = "\ufeff".encode()
KNOWN_ENDPOINTS = frozenset({"my-e5", "my-elser", "my-rerank", "my-llm", "my-chat"})
CHAT_MODEL = "gpt-4o-2024-08-06"
WWW_AUTHENTICATE = ('Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey")
_SECRETS = frozenset(
    {"api_key", "secret_key", "access_key", "service_account_json", "client_secret"}
)


def sse(data: bytes | str, event: str = "message") -> bytes:
    """One event framed as ES frames it."""
    payload = data.encode() if isinstance(data, str) else data
    return BOM + b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


DONE = sse("[DONE]")


def compact(value: Any) -> bytes:
    """JSON as ES writes it: no whitespace, UTF-8 unescaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _score(text: str, index: int) -> float:
    """A deterministic float in (-1, 1) from a text and a position."""
    total = sum((i + 1) * ord(c) for i, c in enumerate(text)) + 7919 * (index + 1)
    return round(((total * 2654435761) % 20000) / 10000.0 - 1.0, 6)


def _inputs(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    return [value] if isinstance(value, str) else list(value)


def completion_deltas(text: str) -> list[str]:
    """The deltas a completion stream sends for `text`: one per word of the answer."""
    words = [w for w in text.split() if w] or ["ok"]
    return ["Echo:"] + [f" {w}" for w in words]


def chat_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenAI-shaped chunks: content, a tool call when tools are offered, usage last."""
    chunk_id = "chatcmpl-standin-1"
    user = next(
        (m.get("content") for m in reversed(body["messages"]) if m.get("role") == "user"), ""
    )

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"delta": delta}
        if finish is not None:
            choice["finish_reason"] = finish
        choice["index"] = 0
        return {
            "id": chunk_id,
            "choices": [choice],
            "model": CHAT_MODEL,
            "object": "chat.completion.chunk",
        }

    chunks = [chunk({"content": "Let me check", "role": "assistant"})]
    chunks.append(chunk({"content": f" {user!s}."[:40]}))
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        call = {
            "index": 0,
            "id": "call_standin_1",
            "function": {"arguments": '{"city":"Paris"}', "name": name},
            "type": "function",
        }
        chunks.append(chunk({"tool_calls": [call]}))
        chunks.append(chunk({}, "tool_calls"))
    else:
        chunks.append(chunk({}, "stop"))
    chunks.append(
        {
            "id": chunk_id,
            "choices": [],
            "model": CHAT_MODEL,
            "object": "chat.completion.chunk",
            "usage": {"completion_tokens": 11, "prompt_tokens": 16, "total_tokens": 27},
        }
    )
    return chunks


@dataclass(frozen=True)
class Received:
    """One request as the stand-in received it."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class StandIn:
    """The stand-in cluster on a background thread. Use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        gaps: Sequence[float] = GAPS,
        first_delay: float = FIRST_DELAY,
        linger: float = 0.0,
    ) -> None:
        """`linger` holds a stream open that long after its last event."""
        self.api_key = api_key
        self.linger = linger
        self.gaps = tuple(gaps)
        self.first_delay = first_delay
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` while running."""
        if self._url is None:
            raise RuntimeError("the stand-in is not running")
        return self._url

    @property
    def count(self) -> int:
        """How many requests it has received."""
        with self._changed:
            return len(self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Block until at least `count` requests have been received."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"the stand-in received {len(self.received)} of {count}")

    def offsets(self, count: int) -> list[float]:
        """The offsets (from the start of the response) of `count` stream events."""
        out, at = [], self.first_delay
        for i in range(count):
            out.append(round(at, 6))
            at += self.gaps[i % len(self.gaps)]
        return out

    def start(self) -> StandIn:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop, runner = self._loop, self._runner
        assert runner is not None
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = self._loop = self._runner = self._url = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self._runner = runner
        self._url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # -- HTTP ------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The application it serves: ES's inference routes."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("PUT", "/_inference/{task}/{id}", self._put)
        app.router.add_route("POST", "/_inference/{task}/{id}/_stream", self._stream)
        app.router.add_route("POST", "/_inference/{task}/{id}", self._infer)
        return app

    def note(self, request: web.Request, body: bytes) -> None:
        """Keep a request as it was received."""
        with self._changed:
            self.received.append(
                Received(request.method, request.path_qs, dict(request.headers), body)
            )
            self._changed.notify_all()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.note(request, await request.read())
        auth = request.headers.get("Authorization")
        if auth != f"ApiKey {self.api_key}":
            return self._unauthenticated(request, missing=auth is None)
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            response = self._json(
                request,
                {"error": f"no handler found for uri [{request.path_qs}]", "status": 400},
                400,
            )
        if not response.prepared:
            response.headers["X-elastic-product"] = "Elasticsearch"
        return response

    def _unauthenticated(self, request: web.Request, *, missing: bool) -> web.Response:
        reason = (
            f"missing authentication credentials for REST request [{request.path_qs}]"
            if missing
            else "unable to authenticate with provided credentials and anonymous access is "
            f"not allowed for this request [{request.path_qs}]"
        )
        cause = {
            "type": "security_exception",
            "reason": reason,
            "header": {"WWW-Authenticate": list(WWW_AUTHENTICATE)},
        }
        body = {"error": {"root_cause": [cause], **cause}, "status": 401}
        response = web.Response(
            status=401, body=compact(body), headers={"Content-Type": "application/json"}
        )
        for value in WWW_AUTHENTICATE:
            response.headers.add("WWW-Authenticate", value)
        # Like ES, the product header is on every REST response.
        response.headers["X-elastic-product"] = "Elasticsearch"
        return response

    @staticmethod
    def _content_type(request: web.Request) -> str:
        accept = request.headers.get("Accept", "")
        if "compatible-with=" in accept:
            major = accept.split("compatible-with=", 1)[1].strip()[:1]
            return f"application/vnd.elasticsearch+json;compatible-with={major}"
        return "application/json"

    def _json(self, request: web.Request, body: Any, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=compact(body),
            headers={"Content-Type": self._content_type(request)},
        )

    def _error(self, request: web.Request, status: int, kind: str, reason: str) -> web.Response:
        cause = {"type": kind, "reason": reason}
        return self._json(
            request, {"error": {"root_cause": [cause], **cause}, "status": status}, status
        )

    async def _put(self, request: web.Request) -> web.Response:
        task, inference_id = request.match_info["task"], request.match_info["id"]
        config = json.loads(await request.read())
        settings = {k: v for k, v in config["service_settings"].items() if k not in _SECRETS}
        echo: dict[str, Any] = {
            "inference_id": inference_id,
            "task_type": task,
            "service": config["service"],
            "service_settings": settings,
        }
        if config.get("task_settings"):
            echo["task_settings"] = config["task_settings"]
        return self._json(request, echo)

    async def _infer(self, request: web.Request) -> web.Response:
        task, inference_id = request.match_info["task"], request.match_info["id"]
        if inference_id not in KNOWN_ENDPOINTS:
            return self._error(
                request,
                404,
                "resource_not_found_exception",
                f"Inference endpoint not found [{inference_id}]",
            )
        body = json.loads(await request.read() or b"{}")
        if not body.get("input"):
            problem = "cannot be null" if body.get("input") is None else "cannot be an empty array"
            return self._error(
                request,
                400,
                "action_request_validation_exception",
                f"Validation Failed: 1: Field [input] {problem};",
            )
        texts = _inputs(body)
        result: dict[str, Any]
        if task == "text_embedding":
            result = {
                "text_embedding": [{"embedding": [_score(t, i) for i in range(8)]} for t in texts]
            }
        elif task == "sparse_embedding":
            result = {
                "sparse_embedding": [
                    {
                        "is_truncated": False,
                        "embedding": {w.lower(): abs(_score(w, 0)) + 0.5 for w in t.split()[:6]},
                    }
                    for t in texts
                ]
            }
        elif task == "rerank":
            query = body.get("query", "")
            scores = [(i, round((_score(query + t, 1) + 1) / 2, 6)) for i, t in enumerate(texts)]
            scores.sort(key=lambda s: -s[1])
            ranked = [{"index": i, "relevance_score": s, "text": texts[i]} for i, s in scores]
            result = {"rerank": ranked[: body.get("top_n") or len(ranked)]}
        elif task == "completion":
            result = {"completion": [{"result": "".join(completion_deltas(texts[0]))}]}
        else:
            return self._error(request, 400, "status_exception", f"unsupported task [{task}]")
        return self._json(request, result)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        task, inference_id = request.match_info["task"], request.match_info["id"]
        headers = {"Content-Type": "text/event-stream", "X-elastic-product": "Elasticsearch"}
        chat = task == "chat_completion"
        if inference_id not in KNOWN_ENDPOINTS:
            reason = f"Inference endpoint not found [{inference_id}]"
            error: dict[str, Any]
            if chat:
                error = {
                    "error": {
                        "code": "not_found",
                        "message": reason,
                        "type": "resource_not_found_exception",
                    }
                }
            else:
                cause = {"type": "resource_not_found_exception", "reason": reason}
                error = {"error": {"root_cause": [cause], **cause}, "status": 404}
            response = web.StreamResponse(status=404, headers=headers)
            await response.prepare(request)
            await response.write(sse(compact(error), "error"))
            await response.write_eof()
            return response
        body = json.loads(await request.read())
        if chat:
            payloads = [compact(c) for c in chat_chunks(body)]
        else:
            payloads = [
                compact({"completion": [{"delta": d}]}) for d in completion_deltas(_inputs(body)[0])
            ]
        frames = [sse(p) for p in payloads] + [DONE]
        response = web.StreamResponse(status=200, headers=headers)
        # ES answers 200 once the first chunk is ready: the head goes out with the first event.
        await asyncio.sleep(self.first_delay)
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        start = loop.time() - self.first_delay
        for i, (frame, offset) in enumerate(zip(frames, self.offsets(len(frames)), strict=True)):
            delay = start + offset - loop.time()
            if i and delay > 0:
                await asyncio.sleep(delay)
            await response.write(frame)
        await asyncio.sleep(self.linger)
        await response.write_eof()
        return response


# -- client side, shared by the tests and the benchmark ------------------------------------

AUTH = {"Authorization": f"ApiKey {API_KEY}"}


@dataclass
class TimedResponse:
    """A response read event by event, each event with its arrival time after the request."""

    status: int
    headers: list[tuple[str, str]]
    events: list[tuple[float, bytes]]

    @property
    def body(self) -> bytes:
        return b"".join(raw for _, raw in self.events)

    @property
    def arrivals(self) -> list[float]:
        return [t for t, _ in self.events]


#: How much earlier than its offset an event may be timed (clock granularity).
EARLY = 0.005
#: How much later than its offset an event may arrive on a busy machine.
LATE = 1.0


def assert_paced(arrivals: Sequence[float], offsets: Sequence[float], early: float = EARLY) -> None:
    """Each event arrived no earlier than its offset and not absurdly late.

    A sleep never ends early, so the lower bound holds under any load, and a replay that
    ignored the timing breaks it; the upper bound only catches a stall.
    """
    assert len(arrivals) == len(offsets)
    for index, (got, want) in enumerate(zip(arrivals, offsets, strict=True)):
        assert want - early <= got <= want + LATE, (
            f"event {index} came at {got:.3f} s; its offset is {want:.3f} s"
        )


async def timed_request(
    url: str, path: str, body: Any, headers: dict[str, str] | None = None, method: str = "POST"
) -> TimedResponse:
    """Send one request with a plain aiohttp client; time every SSE event as it arrives."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.request(method, url + path, data=compact(body), headers=sent) as resp:
            events: list[tuple[float, bytes]] = []
            while raw := await resp.content.readuntil(b"\n\n"):
                events.append((time.monotonic() - started, raw))
            return TimedResponse(resp.status, list(resp.headers.items()), events)
