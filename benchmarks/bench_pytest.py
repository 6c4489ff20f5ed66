"""What one test costs: mockinfer's fixtures against pytest-httpserver and vcrpy.

Each kind is a module of `--tests` parametrized tests making one `text_embedding` call with
the official client. A `conftest.py` times each test's whole protocol (set-up, call,
tear-down); a kind's cost per test is the median over its tests less the median of as many
empty tests, so what is paid once per session (imports, starting a server) is left out.
Medians over `--runs` interleaved runs:

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
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
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


#: Times every test's protocol and writes the list where `BENCH_DURATIONS` says.
CONFTEST = """
import json, os, time
import pytest

durations = []

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    durations.append(time.perf_counter() - started)

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_DURATIONS"], "w") as handle:
        json.dump(durations, handle)
"""


def project(folder: Path, tests: int) -> dict[str, Path]:
    """One folder per kind, with its module and (for replays) a cassette per test."""
    folders = {}
    data = cassette()
    for number, (kind, source) in enumerate(MODULES.items()):
        where = folder / f"kind{number}"
        where.mkdir(parents=True)
        (where / "conftest.py").write_text(CONFTEST)
        module = where / f"test_kind{number}.py"
        header = f"TESTS = {tests}\nE5 = {E5!r}\nPATH = {PATH!r}\nANSWER = {ANSWER!r}\n"
        module.write_text(header + f"HEADERS = {HEADERS!r}\n" + textwrap.dedent(source))
        if kind in ("mockinfer replay", "vcrpy (pytest-recording)"):
            for n in range(tests):
                write(where / "cassettes" / module.stem / f"test_x[{n}].yaml", data)
        folders[kind] = where
    return folders


def median_test(folder: Path, kind: str) -> float:
    """The median time of one test of a kind's module, in seconds."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGINS[kind]]
    output = folder / "durations.json"
    result = subprocess.run(
        [*command, str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "BENCH_DURATIONS": str(output)},
    )
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return float(statistics.median(json.loads(output.read_text())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folders = project(Path(folder), args.tests)
        times: dict[str, list[float]] = {kind: [] for kind in folders}
        for _ in range(args.runs):
            for kind, where in folders.items():
                times[kind].append(median_test(where, kind))
    empty = statistics.median(times["empty"])
    print(f"{args.tests} tests per run, medians over tests and over {args.runs} runs")
    print(f"{'per test, over an empty test':<32}{'ms':>8}")
    for kind in MODULES:
        if kind != "empty":
            print(f"{kind:<32}{(statistics.median(times[kind]) - empty) * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
