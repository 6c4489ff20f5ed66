"""Big cassette files: writing and loading one of many embeddings, against vcrpy and PyYAML.

The cassette holds `--interactions` `text_embedding` answers of `--dimensions` float32 values
(10,000 x 384 by default: about 57 MB, what a team's recorded RAG suite reaches). Medians of
`--runs` runs:

* mockinfer write: `format.write` (layout, YAML text, fsync, rename);
* mockinfer load: `format.read` (the file parsed, checked, bodies restored byte for byte);
* vcrpy load: `FilesystemPersister.load_cassette` with vcrpy's YAML serializer, on the same
  file (mockinfer writes vcrpy's format);
* PyYAML alone: `yaml.load` with the C safe loader, the floor of any PyYAML-based reader.

    .venv/bin/python -m benchmarks.bench_files [--interactions 10000] [--dimensions 384]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    read,
    write,
)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def embeddings(count: int, dimensions: int) -> CassetteData:
    """`count` distinct recorded embeddings, each float32 written as ES writes it."""
    rng = np.random.default_rng(1)
    interactions = []
    for i in range(count):
        vector = rng.standard_normal(dimensions).astype(np.float32)
        vector /= np.linalg.norm(vector)
        answer = json.dumps(
            {"text_embedding": [{"embedding": [float(str(x)) for x in vector]}]},
            separators=(",", ":"),
        )
        request = RecordedRequest(
            "POST",
            "http://127.0.0.1:9200/_inference/text_embedding/my-e5",
            json.dumps({"input": f"passage number {i}"}).encode(),
            (("Authorization", "ApiKey REDACTED"), ("Content-Type", "application/json")),
        )
        response = RecordedResponse(
            200,
            (("Content-Type", "application/json"), ("X-elastic-product", "Elasticsearch")),
            answer.encode(),
        )
        interactions.append(Interaction(request, response))
    return CassetteData(interactions)


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=10_000)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    data = embeddings(args.interactions, args.dimensions)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.yaml"
        writing = median_seconds(lambda: write(path, data), args.runs)
        size = path.stat().st_size / 1e6
        text = path.read_text(encoding="utf-8")
        rows = [
            ("mockinfer write", writing),
            ("mockinfer load", median_seconds(lambda: read(path), args.runs)),
            (
                "vcrpy load",
                median_seconds(
                    lambda: FilesystemPersister.load_cassette(str(path), yamlserializer),
                    args.runs,
                ),
            ),
            ("PyYAML alone (C loader)", median_seconds(lambda: yaml.load(text, _Loader), 1)),
        ]
    print(
        f"{args.interactions:,} interactions x {args.dimensions} dimensions, {size:.1f} MB, "
        f"medians of {args.runs} runs"
    )
    print(f"{'':28}{'seconds':>9}{'MB/s':>9}")
    for name, seconds in rows:
        print(f"{name:28}{seconds:>9.2f}{size / seconds:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
