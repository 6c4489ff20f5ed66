"""Recordings lost when a recording `mockinfer serve` is killed, and the cost of saving.

Each round starts `mockinfer serve --record-mode all` against the stand-in cluster, sends
requests one after another, kills the process with SIGKILL at a random moment, then opens
the cassette as the next run would (which folds the journal in) and counts the answered
requests whose interaction is missing. The aim is at most the one in flight: 0 lost among
the answered ones.

    .venv/bin/python -m benchmarks.bench_recording [--rounds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mockinfer.cassette.format import CassetteData, read, write
from mockinfer.cassette.store import Cassette
from tests.cassettes.standin import API_KEY, StandIn
from tests.server.http import JSON, raw_request


def one_round(cluster: StandIn, folder: Path, kill_after: float) -> tuple[int, int]:
    """(answered requests, answered requests missing from the cassette) of one killed run."""
    cassette = folder / "killed.yaml"
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockinfer.cli",
            "serve",
            "--port",
            "0",
            "--cassette",
            str(cassette),
            "--record-mode",
            "all",
            "--upstream",
            cluster.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MOCKINFER_UPSTREAM_API_KEY": API_KEY},
    )
    assert serve.stdout is not None
    url = serve.stdout.readline().strip()
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        n = 0
        while not stop.is_set():
            text = f"request {n}"
            try:
                body = json.dumps({"input": text}).encode()
                resp = raw_request(url, "POST", "/_inference/completion/my-llm", body, JSON)
            except OSError:
                return
            if resp.status == 200:
                answered.append(text)
            n += 1

    worker = threading.Thread(target=client)
    worker.start()
    time.sleep(kill_after)
    serve.send_signal(signal.SIGKILL)
    serve.wait()
    stop.set()
    worker.join()
    Cassette(cassette)  # what the next run does: fold the journal in
    data = read(cassette)
    kept = {json.loads(i.request.body)["input"] for i in (data.interactions if data else [])}
    return len(answered), len([t for t in answered if t not in kept])


def save_rate(folder: Path, interactions: int = 2000) -> float:
    """MB/s of writing a cassette of recorded embeddings."""
    cassette = folder / "rate.yaml"
    with StandIn() as cluster:
        one_round(cluster, folder, 0.5)
    data = read(folder / "killed.yaml")
    assert data is not None and data.interactions
    big = CassetteData(data.interactions * (interactions // len(data.interactions) + 1))
    started = time.perf_counter()
    write(cassette, big)
    seconds = time.perf_counter() - started
    return cassette.stat().st_size / 1e6 / seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="killed runs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments")
    args = parser.parse_args(argv)
    moments = random.Random(args.seed)
    total = lost = 0
    with StandIn(gaps=(0.001,), first_delay=0.001) as cluster:
        for number in range(args.rounds):
            with tempfile.TemporaryDirectory() as folder:
                answered, missing = one_round(cluster, Path(folder), moments.uniform(0.3, 1.5))
            total += answered
            lost += missing
            print(f"round {number + 1:2}: {answered:4} answered, {missing} lost")
    print(f"{args.rounds} rounds killed with SIGKILL: {lost} of {total} answered interactions lost")
    with tempfile.TemporaryDirectory() as folder:
        print(f"saving a cassette: {save_rate(Path(folder)):.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
