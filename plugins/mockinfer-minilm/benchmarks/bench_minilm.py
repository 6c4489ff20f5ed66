"""How fast the minilm generator embeds, how long it takes to start, and how much memory it holds.

    python benchmarks/bench_minilm.py [--singles 200] [--texts 800]

Needs the weights (`mockinfer-minilm install`). Prints embeddings per second for single texts
and for batches of 32 sentences of 10 to 30 words, the import time of the plugin (in a fresh
interpreter), the time of the first call (which loads the model), and the peak RSS after the
load and after the embeddings. BLAS threading matters: compare with OPENBLAS_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time

from mockinfer.plugins import EmbeddingRequest, Target

from mockinfer_minilm.generator import MiniLM

SUBJECTS = (
    "the search team",
    "our new cluster",
    "a customer in Lyon",
    "the nightly ingest job",
    "every replica shard",
    "the support engineer on call",
)
VERBS = ("indexed", "rejected", "reranked", "summarised", "retried", "compared")
OBJECTS = (
    "the product catalogue",
    "three thousand support tickets",
    "the quarterly sales report",
    "a batch of scanned invoices",
    "the release notes for version nine",
)
TAILS = (
    "before the maintenance window opened on Sunday night",
    "because the mapping of the title field had changed",
    "while the dashboard kept showing stale numbers",
    "and nobody noticed until the morning stand-up",
    "using the embeddings of the new multilingual model",
    "after the snapshot had been restored from cold storage",
)


def sentences(count: int, seed: int = 7) -> list[str]:
    """`count` sentences of 10 to 30 words."""
    rng = random.Random(seed)
    made = []
    while len(made) < count:
        parts = (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS))
        words = " ".join([*parts, *rng.sample(TAILS, rng.randint(0, 2))]).split()
        if 10 <= len(words) <= 30:
            made.append(" ".join(words).capitalize() + ".")
    return made


def request(texts: list[str]) -> EmbeddingRequest:
    target = Target("bench", "text_embedding", "elasticsearch", "all-minilm-l6-v2", 0)
    return EmbeddingRequest(target, tuple(texts), 384, "cosine", "float", None)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def import_seconds(module: str) -> float:
    probe = (
        "import time; start = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - start)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=800, help="texts embedded in batches")
    parser.add_argument("--singles", type=int, default=200, help="texts embedded one by one")
    args = parser.parse_args()
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs"
    )
    for module in ("mockinfer_minilm", "mockinfer_minilm.generator"):
        print(f"import {module}: {import_seconds(module) * 1000:.1f} ms (best of 5)")

    generator = MiniLM()
    start = time.perf_counter()
    generator.embed(request(["The first call loads the model."]))
    print(f"first call (load + one embedding): {(time.perf_counter() - start) * 1000:.0f} ms")
    print(f"peak RSS after load: {peak_rss_mb():.0f} MB")

    texts = sentences(max(args.texts, args.singles))
    start = time.perf_counter()
    for text in texts[: args.singles]:
        generator.embed(request([text]))
    elapsed = time.perf_counter() - start
    print(f"single texts: {args.singles / elapsed:.1f} embeddings/s")

    start = time.perf_counter()
    for at in range(0, args.texts, 32):
        generator.embed(request(texts[at : min(at + 32, args.texts)]))
    elapsed = time.perf_counter() - start
    print(f"batches of 32: {args.texts / elapsed:.1f} embeddings/s")
    print(f"peak RSS after {args.singles + args.texts} embeddings: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
