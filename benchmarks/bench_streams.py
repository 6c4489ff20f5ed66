"""Many streams replayed at once with their recorded timing: gap error and the server's CPU.

A cassette holds `--streams` recordings of one streamed completion, each `--events` events
with irregular gaps of 5-40 ms. `mockinfer serve` replays it in its own process; one asyncio
client opens every stream at once and timestamps each event as it arrives. Per gap:
|replayed gap - recorded gap|. The server's CPU time (user + system, from /proc) over the
wall time of the run is its share of one core.

    .venv/bin/python -m benchmarks.bench_streams [--streams 50] [--events 100] [--runs 3]

Aim: p99 gap error <= 2 ms at <= 20 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.bench_cassettes import irregular_gaps, pairwise_gaps, percentile
from benchmarks.serve import start_serve
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedEvent,
    RecordedRequest,
    RecordedResponse,
    write,
)
from mockinfer.wire.sse import encode_event

PATH = "/_inference/completion/my-llm/_stream"
BODY = {"input": "tell me a story"}
GAP_AIM_MS = 2.0
CPU_AIM = 0.20


def stream_cassette(path: Path, streams: int, events: int) -> list[float]:
    """Write the cassette (each stream ending in `[DONE]`); the offsets of its events."""
    offsets, elapsed = [], 0.05
    for gap in irregular_gaps(events):
        offsets.append(round(elapsed, 4))
        elapsed += gap
    recorded = tuple(
        RecordedEvent(
            offset,
            encode_event(
                b"[DONE]"
                if i == events - 1
                else json.dumps({"completion": [{"delta": f"w{i} "}]}).encode()
            ),
        )
        for i, offset in enumerate(offsets)
    )
    interaction = Interaction(
        RecordedRequest("POST", "http://cluster:9200" + PATH, json.dumps(BODY).encode()),
        RecordedResponse(
            200,
            (("Content-Type", "text/event-stream"),),
            b"".join(e.raw for e in recorded),
            recorded,
        ),
    )
    write(path, CassetteData([interaction] * streams))
    return offsets


def cpu_seconds(pid: int) -> float:
    """User and system time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_stream(session: aiohttp.ClientSession, url: str) -> list[float]:
    started = time.monotonic()
    async with session.post(url + PATH, json=BODY) as response:
        arrivals = []
        while await response.content.readuntil(b"\n\n"):
            arrivals.append(time.monotonic() - started)
        return arrivals


async def replay_all(url: str, streams: int) -> list[list[float]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await asyncio.gather(*(one_stream(session, url) for _ in range(streams)))


def run(cassette: Path, streams: int) -> tuple[list[list[float]], float]:
    """Every stream's arrival times, and the server's share of a core while they ran."""
    serve, url = start_serve("--cassette", str(cassette))
    try:
        cpu_before, wall_before = cpu_seconds(serve.pid), time.monotonic()
        arrivals = asyncio.run(replay_all(url, streams))
        cpu = cpu_seconds(serve.pid) - cpu_before
        share = cpu / (time.monotonic() - wall_before)
    finally:
        serve.terminate()
        serve.wait(10)
    return arrivals, share


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        cassette = Path(folder) / "streams.yaml"
        offsets = stream_cassette(cassette, args.streams, args.events)
        recorded_gaps = pairwise_gaps(offsets)
        errors: list[float] = []
        shares: list[float] = []
        for _ in range(args.runs):
            arrivals, share = run(cassette, args.streams)
            shares.append(share)
            for stream in arrivals:
                assert len(stream) == len(offsets), "a stream lost events"
                replayed = pairwise_gaps(stream)
                errors.extend(abs(a - b) for a, b in zip(replayed, recorded_gaps, strict=True))
    ms = 1000
    p99 = percentile(errors, 99) * ms
    share = sorted(shares)[len(shares) // 2]
    print(
        f"{args.streams} streams x {args.events} events at once, {args.runs} runs, "
        f"{len(errors)} gaps; Python {sys.version.split()[0]}"
    )
    print(f"{'|replayed gap - recorded gap| (ms)':<40}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    print(
        f"{'':<40}{percentile(errors, 50) * ms:>9.3f}{percentile(errors, 90) * ms:>9.3f}"
        f"{p99:>9.3f}{max(errors) * ms:>9.3f}"
    )
    print(f"server CPU: {share:.1%} of a core (median of runs)")
    met = p99 <= GAP_AIM_MS and share <= CPU_AIM
    print(
        f"aim: p99 <= {GAP_AIM_MS} ms at <= {CPU_AIM:.0%} of a core: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
