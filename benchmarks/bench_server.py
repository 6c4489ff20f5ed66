"""mockinfer against a bare aiohttp server that returns the same bytes, in one run.

Both servers answer `POST /_inference/text_embedding/.multilingual-e5-small-elasticsearch`:
mockinfer synthesizes the embedding, the bare server replays the bytes and headers mockinfer
answered once. Each server runs on its own thread and loop; the clients run on the main thread.

Per server: median and p90 latency of sequential calls with the official sync client;
throughput with 32 calls in flight with `AsyncElasticsearch`; the same two with a plain
`aiohttp.ClientSession` (the floor without the official client's overhead); and the server
thread's CPU time per request in each phase.

    .venv/bin/python -m benchmarks.bench_server [--requests 2000] [--concurrency 32]
    .venv/bin/python -m benchmarks.bench_server --fresh     # a text never seen in every call
    .venv/bin/python -m benchmarks.bench_server --profile   # mockinfer's hot spots
    .venv/bin/python -m benchmarks.bench_server --fresh --paired 12   # the throughput ratio only
    .venv/bin/python -m benchmarks.bench_server --fresh --paired 10 --paired-calls 1000 --processes

`--paired N` measures only the official async client's throughput ratio, as N sandwiches of
mockinfer, the bare server, then mockinfer again, each of `--paired-calls` calls: on a machine
whose speed drifts (a shared 2-core one), a ratio taken within each sandwich holds where
totals pooled over a long run do not. It prints the median ratio and its quartiles.

`--processes` (with `--paired`) runs each server in a process of its own: `mockinfer serve`,
as clients in other languages use it, and the bare server. The client then shares no GIL
with the server, as it does with the pytest plugin's server in the test's own process. Both
answer faster then: legs of 1000 calls keep the quartiles close.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import itertools
import json
import multiprocessing
import pstats
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version

import aiohttp
from aiohttp import web
from elasticsearch import AsyncElasticsearch, Elasticsearch

from benchmarks.serve import start_serve
from mockinfer import MockInferServer

INFERENCE_ID = ".multilingual-e5-small-elasticsearch"
PATH = f"/_inference/text_embedding/{INFERENCE_ID}"
TEXT = "the quick brown fox"
BODY = b'{"input":"the quick brown fox"}'


class Texts:
    """The input of each call: always `TEXT` (inputs a suite repeats), or with `--fresh` a new
    text every call (inputs never seen, so no cache answers them)."""

    fresh = False
    _count = itertools.count()

    @classmethod
    def next(cls) -> str:
        return f"{TEXT} {next(cls._count)}" if cls.fresh else TEXT

    @classmethod
    def body(cls) -> bytes:
        return BODY if not cls.fresh else json.dumps({"input": cls.next()}).encode()


#: What the official client sends, for its major version; like it, no gzip is asked for.
MEDIA_TYPE = f"application/vnd.elasticsearch+json; compatible-with={version('elasticsearch')[0]}"
REQUEST_HEADERS = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
REPLAYED_HEADERS = ("Content-Type", "X-elastic-product")

LATENCY_AIM = 1.3  # mockinfer/bare, at most
THROUGHPUT_AIM = 0.7  # mockinfer/bare, at least
FRESH_THROUGHPUT_AIM = 0.6  # the same when every call sends a new text


def verdict(kind: str, ratio: float) -> str:
    """A mockinfer/bare `ratio` against the aim of its kind ("latency" or "throughput", the
    latter for the texts being sent); empty for a figure without an aim."""
    if kind == "latency":
        return f"<= {LATENCY_AIM} {'ok' if ratio <= LATENCY_AIM else 'MISSED'}"
    if kind == "throughput":
        aim = FRESH_THROUGHPUT_AIM if Texts.fresh else THROUGHPUT_AIM
        return f">= {aim} {'ok' if ratio >= aim else 'MISSED'}"
    return ""


#: (client, metric, kind of aim): rows of the report, in order.
ROWS: list[tuple[str, str, str]] = [
    ("official sync", "median latency (us)", "latency"),
    ("official sync", "p90 latency (us)", "latency"),
    ("official sync", "server CPU/request (us)", ""),
    ("official async", "req/s ({c} in flight)", "throughput"),
    ("official async", "server CPU/request (us)", ""),
    ("aiohttp", "median latency (us)", "latency"),
    ("aiohttp", "p90 latency (us)", "latency"),
    ("aiohttp", "req/s ({c} in flight)", "throughput"),
    ("aiohttp", "server CPU/request (us)", ""),
]
Figures = dict[tuple[str, str], float]


@dataclass(frozen=True)
class Canned:
    """The response mockinfer gave, to be replayed byte for byte."""

    status: int
    headers: dict[str, str]
    body: bytes


async def fetch(url: str) -> Canned:
    async with (
        aiohttp.ClientSession(skip_auto_headers=("Accept-Encoding",)) as session,
        session.post(url + PATH, data=BODY, headers=REQUEST_HEADERS) as resp,
    ):
        body = await resp.read()
        return Canned(resp.status, {h: resp.headers[h] for h in REPLAYED_HEADERS}, body)


class BareServer:
    """An aiohttp server with one route answering `canned`, on its own thread and loop."""

    def __init__(self, canned: Canned) -> None:
        self.canned = canned
        self.url = ""
        self.thread = threading.Thread(target=self._serve, name="bare-server", daemon=True)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

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
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> BareServer:
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the bare server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(10)


def _serve_bare(canned: Canned, urls: multiprocessing.Queue[str]) -> None:
    with BareServer(canned) as bare:
        urls.put(bare.url)
        bare.thread.join()


@contextlib.contextmanager
def bare_process(canned: Canned) -> Iterator[str]:
    """A bare server answering `canned` in a process of its own; yields its URL."""
    context = multiprocessing.get_context("spawn")
    urls: multiprocessing.Queue[str] = context.Queue()
    process = context.Process(target=_serve_bare, args=(canned, urls), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60)
    finally:
        process.terminate()
        process.join(10)


def paired_processes(args: argparse.Namespace) -> str:
    """`paired` with `mockinfer serve` and the bare server each in a process of its own."""
    serve, url = start_serve()
    try:
        canned = asyncio.run(fetch(url))
        with bare_process(canned) as bare_url:
            return paired(url, bare_url, args) + "  (each server in its own process)"
    finally:
        serve.terminate()
        serve.wait(10)


def start_server(server: MockInferServer) -> threading.Thread:
    """Start `server` and return the thread it serves on."""
    before = set(threading.enumerate())
    server.start()
    (thread,) = set(threading.enumerate()) - before
    return thread


class ThreadCpu:
    """CPU time consumed by one thread (Linux/Unix `pthread_getcpuclockid`)."""

    def __init__(self, thread: threading.Thread) -> None:
        assert thread.ident is not None
        self._clock = time.pthread_getcpuclockid(thread.ident)

    def now_us(self) -> float:
        return time.clock_gettime_ns(self._clock) / 1000


@dataclass
class Tally:
    """One target's raw measurements, pooled over rounds."""

    cpu: ThreadCpu
    samples_ns: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    timed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add_rate(self, client: str, requests: int, seconds: float) -> None:
        self.timed[client][0] += requests
        self.timed[client][1] += seconds

    def add_cpu(self, client: str, requests: int, start_us: float) -> None:
        self.cpu_us[client][0] += self.cpu.now_us() - start_us
        self.cpu_us[client][1] += requests

    def figures(self) -> Figures:
        out: Figures = {}
        for client, samples in self.samples_ns.items():
            out[client, "median latency (us)"] = statistics.median(samples) / 1000
            out[client, "p90 latency (us)"] = statistics.quantiles(samples, n=10)[-1] / 1000
        for client, (requests, seconds) in self.timed.items():
            out[client, "req/s ({c} in flight)"] = requests / seconds
        for client, (used, requests) in self.cpu_us.items():
            out[client, "server CPU/request (us)"] = used / requests
        return out


async def _in_flight(call: Callable[[], Awaitable[object]], total: int, concurrency: int) -> float:
    """Seconds taken by `total` calls with `concurrency` of them in flight."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def official_sync(url: str, requests: int, warmup: int, tally: Tally) -> None:
    """Sequential calls with the official sync client."""
    with Elasticsearch(url, request_timeout=30) as es:
        for _ in range(warmup):
            es.inference.text_embedding(inference_id=INFERENCE_ID, input=Texts.next())
        samples = tally.samples_ns["official sync"]
        cpu_start = tally.cpu.now_us()
        for _ in range(requests):
            start = time.perf_counter_ns()
            es.inference.text_embedding(inference_id=INFERENCE_ID, input=Texts.next())
            samples.append(time.perf_counter_ns() - start)
        tally.add_cpu("official sync", requests, cpu_start)


async def official_async(
    url: str, total: int, concurrency: int, warmup: int, tally: Tally | None = None
) -> float:
    """Throughput with `AsyncElasticsearch`, one connection per call in flight: the calls per
    second, also added to `tally` with the server's CPU time when given."""
    async with AsyncElasticsearch(url, connections_per_node=concurrency, request_timeout=30) as es:

        async def call() -> object:
            return await es.inference.text_embedding(inference_id=INFERENCE_ID, input=Texts.next())

        await _in_flight(call, warmup, concurrency)
        cpu_start = tally.cpu.now_us() if tally else 0.0
        seconds = await _in_flight(call, total, concurrency)
        if tally:
            tally.add_rate("official async", total, seconds)
            tally.add_cpu("official async", total, cpu_start)
        return total / seconds


async def plain_aiohttp(
    url: str, canned: Canned, requests: int, total: int, concurrency: int, warmup: int, tally: Tally
) -> None:
    """Sequential latency and throughput with a plain `aiohttp.ClientSession`."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        skip_auto_headers=("Accept-Encoding",),  # as the official client: no gzip
    ) as session:

        async def call() -> None:
            async with session.post(url + PATH, data=Texts.body(), headers=REQUEST_HEADERS) as resp:
                if await resp.read() != canned.body and not Texts.fresh:
                    raise AssertionError(f"{url} answered other bytes than the canned ones")

        for _ in range(warmup):
            await call()
        samples = tally.samples_ns["aiohttp"]
        for _ in range(requests):
            start = time.perf_counter_ns()
            await call()
            samples.append(time.perf_counter_ns() - start)
        await _in_flight(call, warmup, concurrency)
        cpu_start = tally.cpu.now_us()
        tally.add_rate("aiohttp", total, await _in_flight(call, total, concurrency))
        tally.add_cpu("aiohttp", total, cpu_start)


def paired(mock_url: str, bare_url: str, args: argparse.Namespace) -> str:
    """The official async client's throughput ratio, sandwich by sandwich."""
    ratios = []
    for _ in range(args.paired):
        before, bare, after = (
            asyncio.run(official_async(url, args.paired_calls, args.concurrency, args.warmup))
            for url in (mock_url, bare_url, mock_url)
        )
        ratios.append((before + after) / 2 / bare)
    low, median, high = statistics.quantiles(ratios, n=4)
    return (
        f"official async req/s ({args.concurrency} in flight), mockinfer/bare over "
        f"{args.paired} sandwiches of {args.paired_calls} calls: median {median:.2f} "
        f"(quartiles {low:.2f}-{high:.2f})  {verdict('throughput', median)}"
    )


def run_round(url: str, canned: Canned, args: argparse.Namespace, tally: Tally) -> None:
    """One round of every phase against one target, with `1/rounds` of the calls."""
    requests, total = args.requests // args.rounds, args.throughput_requests // args.rounds
    official_sync(url, requests, args.warmup, tally)
    asyncio.run(official_async(url, total, args.concurrency, args.warmup, tally))
    asyncio.run(plain_aiohttp(url, canned, requests, total, args.concurrency, args.warmup, tally))


def report(mock: Figures, bare: Figures, concurrency: int) -> str:
    """The figures side by side, with the mockinfer/bare ratio against its aim."""
    head = f"{'client':<15} {'metric':<24} {'mockinfer':>10} {'bare':>10} {'ratio':>6}  aim"
    lines = [head, "-" * len(head)]
    for client, metric, kind in ROWS:
        m, b = mock[client, metric], bare[client, metric]
        ratio = m / b
        label = metric.format(c=concurrency)
        judged = verdict(kind, ratio)
        lines.append(f"{client:<15} {label:<24} {m:>10.0f} {b:>10.0f} {ratio:>6.2f}  {judged}")
    return "\n".join(lines)


def profile(args: argparse.Namespace) -> None:
    """Drive mockinfer with plain aiohttp under cProfile; print its server thread's hot spots."""
    profiler = cProfile.Profile()
    server = MockInferServer(seed=0)

    def install(*_: object) -> None:
        profiler.enable()  # cProfile hooks the calling thread only: the new server thread

    threading.setprofile(install)
    try:
        thread = start_server(server)
    finally:
        threading.setprofile(None)
    try:
        canned = asyncio.run(fetch(server.url))
        tally = Tally(ThreadCpu(thread))
        asyncio.run(
            plain_aiohttp(
                server.url,
                canned,
                args.requests,
                args.throughput_requests,
                args.concurrency,
                args.warmup,
                tally,
            )
        )
    finally:
        server.stop()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential calls per target")
    parser.add_argument("--throughput-requests", type=int, default=5000, help="calls per rate")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument("--profile", action="store_true", help="profile mockinfer instead")
    parser.add_argument("--fresh", action="store_true", help="a new text in every call")
    parser.add_argument("--paired", type=int, default=0, help="sandwiches: the ratio only")
    parser.add_argument("--paired-calls", type=int, default=400, help="calls per sandwich leg")
    parser.add_argument(
        "--processes", action="store_true", help="with --paired: each server in its own process"
    )
    args = parser.parse_args(argv)
    if args.paired == 1:
        parser.error("--paired needs at least 2 sandwiches to give quartiles")
    if args.processes and not args.paired:
        parser.error("--processes takes the ratio of --paired only")
    Texts.fresh = args.fresh
    if args.processes:
        print(paired_processes(args))
        return 0
    if args.profile:
        profile(args)
        return 0
    server = MockInferServer(seed=0)
    mock_thread = start_server(server)
    try:
        canned = asyncio.run(fetch(server.url))
        if canned.status != 200 or canned.headers["X-elastic-product"] != "Elasticsearch":
            raise SystemExit(f"unexpected answer from mockinfer: {canned}")
        with BareServer(canned) as bare:
            if args.paired:
                print(paired(server.url, bare.url, args))
                return 0
            print(
                f"{len(canned.body)}-byte answer; per target {args.requests} sequential calls, "
                f"{args.throughput_requests} calls at {args.concurrency} in flight, "
                f"in {args.rounds} alternating rounds\n"
            )
            targets = [
                (server.url, Tally(ThreadCpu(mock_thread))),
                (bare.url, Tally(ThreadCpu(bare.thread))),
            ]
            for round_ in range(args.rounds):
                for url, tally in targets if round_ % 2 == 0 else targets[::-1]:
                    run_round(url, canned, args, tally)
        print(report(targets[0][1].figures(), targets[1][1].figures(), args.concurrency))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
