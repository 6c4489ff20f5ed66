"""What one test costs: mockinfer's fixtures against pytest-httpserver and vcrpy.

Each kind is a module of parametrized tests making one `text_embedding` call with the
official client. Its cost per test is the slope of `pytest`'s wall time between `--tests`
and twice as many tests, less the same slope for empty tests, so what is paid once per
session (imports, starting a server) is left out; medians of `--runs` interleaved runs:

* `mockinfer_es`: the plugin's client fixture against the synthesizing server;
* `mockinfer replay`: the same test, each replaying its own cassette (found by test name);
* `pytest-httpserver`: its `httpserver` fixture answering the same bytes, one client for the
  session (the cheapest way to use it);
* `vcrpy (pytest-recording)`: `@pytest.mark.vcr` replaying the very same cassette files
  (mockinfer writes vcrpy's format), one client for the session.

    .venv/bin/python -m benchmarks.bench_pytest [--tests 200] [--runs 5]

Needs `pip install -e ".[bench]"` (pytest-httpserver, pytest-recording).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    write,
)

E5 = ".multilingual-e5-small-elasticsearch"
PATH = f"/_inference/text_embedding/{E5}"
ANSWER = json.dumps({"text_embedding": [{"embedding": [0.25] * 384}]}, separators=(",", ":"))
HEADERS = {"X-elastic-product": "Elasticsearch", "Content-Type": "application/json"}

MODULES = {
    "empty": """
        import pytest

        @pytest.mark.parametrize("n", range(TESTS))
        def test_x(n):
            pass
    """,
    "mockinfer_es": """
        import pytest

        @pytest.mark.parametrize("n", range(TESTS))
        def test_x(mockinfer_es, n):
            mockinfer_es.inference.text_embedding(inference_id=E5, input="hello")
    """,
    "mockinfer replay": """
        import pytest

        @pytest.mark.parametrize("n", range(TESTS))
        def test_x(mockinfer_es, n):
            mockinfer_es.inference.text_embedding(inference_id=E5, input="hello")
    """,
    "pytest-httpserver": """
        import pytest
        from elasticsearch import Elasticsearch

        @pytest.fixture(scope="session")
        def client(make_httpserver):
            with Elasticsearch(make_httpserver.url_for("/")) as es:
                yield es

        @pytest.mark.parametrize("n", range(TESTS))
        def test_x(httpserver, client, n):
            httpserver.expect_request(PATH, method="POST").respond_with_data(
                ANSWER, headers=HEADERS
            )
            client.inference.text_embedding(inference_id=E5, input="hello")
    """,
    "vcrpy (pytest-recording)": """
        import pytest
        from elasticsearch import Elasticsearch

        @pytest.fixture(scope="session")
        def client():
            with Elasticsearch("http://127.0.0.1:9200") as es:
                yield es

        @pytest.mark.vcr
        @pytest.mark.parametrize("n", range(TESTS))
        def test_x(client, n):
            client.inference.text_embedding(inference_id=E5, input="hello")
    """,
}
#: Which plugins each module runs with: the others are kept out of its way.
PLUGINS = {
    "empty": ["-p", "no:mockinfer", "-p", "no:recording", "-p", "no:pytest_httpserver"],
    "mockinfer_es": ["-p", "no:recording", "-p", "no:pytest_httpserver"],
    "mockinfer replay": ["-p", "no:recording", "-p", "no:pytest_httpserver"],
    "pytest-httpserver": ["-p", "no:mockinfer", "-p", "no:recording"],
    "vcrpy (pytest-recording)": [
        "-p",
        "no:mockinfer",
        "-p",
        "no:pytest_httpserver",
        "--record-mode=none",
    ],
}


def cassette() -> CassetteData:
    request = RecordedRequest(
        "POST", "http://127.0.0.1:9200" + PATH, b'{"input":"hello"}', (("Content-Type", "x"),)
    )
    response = RecordedResponse(200, tuple(HEADERS.items()), ANSWER.encode())
    return CassetteData([Interaction(request, response)])


def project(folder: Path, tests: int) -> dict[str, Path]:
    """One folder per kind, with its module and (for replays) a cassette per test."""
    folders = {}
    data = cassette()
    for number, (kind, source) in enumerate(MODULES.items()):
        where = folder / f"kind{number}"
        where.mkdir(parents=True)
        module = where / f"test_kind{number}.py"
        header = f"TESTS = {tests}\nE5 = {E5!r}\nPATH = {PATH!r}\nANSWER = {ANSWER!r}\n"
        module.write_text(header + f"HEADERS = {HEADERS!r}\n" + textwrap.dedent(source))
        if kind in ("mockinfer replay", "vcrpy (pytest-recording)"):
            for n in range(tests):
                write(where / "cassettes" / module.stem / f"test_x[{n}].yaml", data)
        folders[kind] = where
    return folders


def wall(folder: Path, kind: str) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGINS[kind]]
    started = time.perf_counter()
    result = subprocess.run([*command, str(folder)], capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = (args.tests, 2 * args.tests)
    with tempfile.TemporaryDirectory() as folder:
        projects = {size: project(Path(folder) / str(size), size) for size in sizes}
        times: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.runs):
            for size in sizes:
                for kind, where in projects[size].items():
                    times.setdefault((kind, size), []).append(wall(where, kind))

    def slope(kind: str) -> float:
        small, large = (statistics.median(times[kind, size]) for size in sizes)
        return (large - small) / args.tests

    empty = slope("empty")
    print(f"{sizes[0]} and {sizes[1]} tests per run, medians of {args.runs} interleaved runs")
    print(f"{'per test, over an empty test':<32}{'ms':>8}")
    for kind in MODULES:
        if kind != "empty":
            print(f"{kind:<32}{(slope(kind) - empty) * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
