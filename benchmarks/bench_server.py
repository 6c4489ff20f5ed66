"""mockinfer against a bare aiohttp server that returns the same bytes, in one run.

Both servers answer `POST /_inference/text_embedding/.multilingual-e5-small-elasticsearch`:
mockinfer synthesizes the embedding, the bare server replays the bytes and headers mockinfer
answered once. Each runs on its own thread and loop; the clients run on the main thread.

Measured per server: the median and p90 latency of sequential calls with the official sync
client, and the throughput with 32 calls in flight with `AsyncElasticsearch`; then the same
with a plain `aiohttp.ClientSession`, the floor without the official client's overhead.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_server.py [--requests 2000] [--concurrency 32]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_server.py --profile   # mockinfer hot spots
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import elasticsearch
from aiohttp import web
from elasticsearch import AsyncElasticsearch, Elasticsearch

from mockinfer import MockInferServer

INFERENCE_ID = ".multilingual-e5-small-elasticsearch"
PATH = f"/_inference/text_embedding/{INFERENCE_ID}"
TEXT = "the quick brown fox"
BODY = b'{"input":"the quick brown fox"}'
#: The media type the official client sends, for its major version.
MEDIA_TYPE = (
    f"application/vnd.elasticsearch+json; compatible-with={elasticsearch.__versionstr__[0]}"
)
REQUEST_HEADERS = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
REPLAYED_HEADERS = ("Content-Type", "X-elastic-product")
LATENCY_AIM = 1.3
THROUGHPUT_AIM = 0.7


@dataclass(frozen=True)
class Canned:
    """The response mockinfer gave, to be replayed byte for byte."""

    status: int
    headers: dict[str, str]
    body: bytes


async def _fetch(url: str) -> Canned:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + PATH, data=BODY, headers=REQUEST_HEADERS) as resp,
    ):
        body = await resp.read()
        headers = {name: resp.headers[name] for name in REPLAYED_HEADERS}
        return Canned(resp.status, headers, body)


class BareServer:
    """An aiohttp server with one route answering `canned`, on its own thread and loop."""

    def __init__(self, canned: Canned) -> None:
        self.canned = canned
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="bare-server", daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            status=self.canned.status, body=self.canned.body, headers=self.canned.headers
        )

    def _serve(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> BareServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the bare server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass(frozen=True)
class Latency:
    median_us: float
    p90_us: float


def _latency(samples_ns: list[int]) -> Latency:
    deciles = statistics.quantiles(samples_ns, n=10)
    return Latency(statistics.median(samples_ns) / 1000, deciles[-1] / 1000)


def sync_client_latency(url: str, requests: int, warmup: int) -> Latency:
    """Sequential calls with the official sync client."""
    with Elasticsearch(url, request_timeout=30) as es:
        for _ in range(warmup):
            es.inference.text_embedding(inference_id=INFERENCE_ID, input=TEXT)
        samples = []
        for _ in range(requests):
            start = time.perf_counter_ns()
            es.inference.text_embedding(inference_id=INFERENCE_ID, input=TEXT)
            samples.append(time.perf_counter_ns() - start)
    return _latency(samples)


async def _in_flight(call: Callable[[], Awaitable[object]], total: int, concurrency: int) -> float:
    """Requests per second for `total` calls, `concurrency` of them in flight at any time."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start)


async def async_client_throughput(url: str, total: int, concurrency: int, warmup: int) -> float:
    """Throughput with `AsyncElasticsearch`, one connection per request in flight."""
    async with AsyncElasticsearch(url, connections_per_node=concurrency, request_timeout=30) as es:

        async def call() -> object:
            return await es.inference.text_embedding(inference_id=INFERENCE_ID, input=TEXT)

        await _in_flight(call, warmup, concurrency)
        return await _in_flight(call, total, concurrency)


async def aiohttp_figures(
    url: str, canned: Canned, requests: int, total: int, concurrency: int, warmup: int
) -> tuple[Latency, float]:
    """Sequential latency and throughput with a plain `aiohttp.ClientSession`."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> bytes:
            async with session.post(url + PATH, data=BODY, headers=REQUEST_HEADERS) as resp:
                body = await resp.read()
            if body != canned.body:
                raise AssertionError(f"{url} answered different bytes")
            return body

        for _ in range(warmup):
            await call()
        samples = []
        for _ in range(requests):
            start = time.perf_counter_ns()
            await call()
            samples.append(time.perf_counter_ns() - start)
        await _in_flight(call, warmup, concurrency)
        rate = await _in_flight(call, total, concurrency)
    return _latency(samples), rate


@dataclass(frozen=True)
class Figures:
    sync: Latency
    async_rate: float
    raw: Latency
    raw_rate: float


def measure(url: str, canned: Canned, args: argparse.Namespace) -> Figures:
    sync = sync_client_latency(url, args.requests, args.warmup)
    rate = asyncio.run(
        async_client_throughput(url, args.throughput_requests, args.concurrency, args.warmup)
    )
    raw, raw_rate = asyncio.run(
        aiohttp_figures(
            url, canned, args.requests, args.throughput_requests, args.concurrency, args.warmup
        )
    )
    return Figures(sync, rate, raw, raw_rate)


def report(mock: Figures, bare: Figures, concurrency: int) -> str:
    """The figures side by side, with mockinfer/bare ratios against the aims."""
    rows: list[tuple[str, str, float, float, bool]] = []
    for client, m, b in (("official sync", mock.sync, bare.sync), ("aiohttp", mock.raw, bare.raw)):
        rows.append((client, "median latency (us)", m.median_us, b.median_us, True))
        rows.append((client, "p90 latency (us)", m.p90_us, b.p90_us, True))
    for client, mr, br in (
        ("official async", mock.async_rate, bare.async_rate),
        ("aiohttp", mock.raw_rate, bare.raw_rate),
    ):
        rows.append((client, f"req/s, {concurrency} in flight", mr, br, False))
    head = f"{'client':<15} {'metric':<24} {'mockinfer':>10} {'bare':>10} {'ratio':>6}  aim"
    lines = [head, "-" * len(head)]
    for client, metric, m, b, is_latency in rows:
        ratio = m / b
        aim = f"<= {LATENCY_AIM}" if is_latency else f">= {THROUGHPUT_AIM}"
        ok = ratio <= LATENCY_AIM if is_latency else ratio >= THROUGHPUT_AIM
        verdict = "ok" if ok else "MISSED"
        lines.append(
            f"{client:<15} {metric:<24} {m:>10.0f} {b:>10.0f} {ratio:>6.2f}  {aim} {verdict}"
        )
    return "\n".join(lines)


@contextmanager
def profiled_threads(profiler: cProfile.Profile) -> Iterator[None]:
    """Profile every thread started inside the block (cProfile only sees its own thread)."""

    def install(*_: object) -> None:
        profiler.enable()  # replaces this hook with cProfile's own, for this thread only

    threading.setprofile(install)
    try:
        yield
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]


def profile(args: argparse.Namespace) -> None:
    """Drive mockinfer with `aiohttp` under cProfile; print its server thread's hot spots."""
    profiler = cProfile.Profile()
    server = MockInferServer(seed=0)
    with profiled_threads(profiler):
        server.start()
    try:
        canned = asyncio.run(_fetch(server.url))
        asyncio.run(
            aiohttp_figures(
                server.url, canned, args.requests, args.throughput_requests, args.concurrency, 0
            )
        )
    finally:
        server.stop()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(r"mockinfer|routes|render|app\.py", 25)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential calls per target")
    parser.add_argument("--throughput-requests", type=int, default=5000, help="calls per rate")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls before each run")
    parser.add_argument("--profile", action="store_true", help="profile mockinfer instead")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args)
        return 0
    with MockInferServer(seed=0) as server:
        canned = asyncio.run(_fetch(server.url))
        if canned.status != 200 or canned.headers.get("X-elastic-product") != "Elasticsearch":
            raise SystemExit(f"unexpected mockinfer answer: {canned}")
        with BareServer(canned) as bare:
            print(
                f"{len(canned.body)}-byte answer; {args.requests} sequential calls, "
                f"{args.throughput_requests} at {args.concurrency} in flight, per target",
                file=sys.stderr,
            )
            mock_figures = measure(server.url, canned, args)
            bare_figures = measure(bare.url, canned, args)
    print(report(mock_figures, bare_figures, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
