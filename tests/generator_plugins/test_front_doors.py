"""Generators as users plug them in: installed plugins (entry points), a `conftest.py`, the
marker, ini, command line and environment, and `mockinfer serve` / `mockinfer generators`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.server.endpoints import put_openai

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CONFTEST = """
    class Upper:
        name = "upper"
        version = "0.1"
        tasks = frozenset({"completion", "text_embedding"})
        deterministic = True
        models = ("upper-llm",)
        services = ()

        def complete(self, request):
            return request.prompt.upper()

        def embed(self, request):
            return [[float(len(t))] * request.dimensions for t in request.texts]

    def pytest_mockinfer_configure(config, generators):
        generators.register(Upper())
"""
PUT_LLM = """
def put(es, inference_id, model):
    es.inference.put(
        inference_id=inference_id,
        task_type="completion",
        inference_config={{"service": "openai",
                           "service_settings": {{"api_key": "k", "model_id": model}}}},
    )

def complete(es, inference_id):
    return es.inference.completion(inference_id=inference_id, input="quiet")["completion"][0][
        "result"]
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_a_conftest_generator_answers_the_models_it_claims(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        PUT_LLM.format()
        + """
def test_claimed(mockinfer, mockinfer_es):
    put(mockinfer_es, "llm", "upper-llm")
    assert complete(mockinfer_es, "llm") == "QUIET"

def test_unclaimed_keeps_the_core(mockinfer, mockinfer_es):
    put(mockinfer_es, "other", "gpt-4o")
    assert complete(mockinfer_es, "other") != "QUIET"
"""
    )
    _run(pytester).assert_outcomes(passed=2)


def test_marker_ini_option_and_environment_route_endpoints(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmockinfer_generators = endpoint:from-ini=upper\n")
    pytester.makepyfile(
        test_routes=PUT_LLM.format()
        + """
import pytest

def test_ini(mockinfer, mockinfer_es):
    put(mockinfer_es, "from-ini", "gpt-4o")
    assert complete(mockinfer_es, "from-ini") == "QUIET"

@pytest.mark.mockinfer(generators={"endpoint:from-marker": "upper"})
def test_marker_replaces_the_wider_settings(mockinfer, mockinfer_es):
    put(mockinfer_es, "from-marker", "gpt-4o")
    put(mockinfer_es, "from-ini", "gpt-4o")
    assert complete(mockinfer_es, "from-marker") == "QUIET"
    assert complete(mockinfer_es, "from-ini") != "QUIET"

@pytest.mark.mockinfer(generators=["model:upper-*=core"])
def test_back_to_the_core(mockinfer, mockinfer_es):
    put(mockinfer_es, "claimed", "upper-llm")
    assert complete(mockinfer_es, "claimed") != "QUIET"

def test_option(mockinfer, mockinfer_es):
    put(mockinfer_es, "from-option", "gpt-4o")
    assert complete(mockinfer_es, "from-option") == "QUIET"
"""
    )
    _run(pytester, "-k", "not test_option").assert_outcomes(passed=3)
    _run(pytester, "-k", "test_option").assert_outcomes(failed=1)
    _run(pytester, "-k", "test_option", "--mockinfer-generators=upper").assert_outcomes(passed=1)
    monkeypatch.setenv("MOCKINFER_GENERATORS", "service:openai=upper")
    _run(pytester, "-k", "test_option").assert_outcomes(passed=1)


def test_a_route_to_an_unknown_generator_fails_the_test_naming_the_known(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
import pytest

@pytest.mark.mockinfer(generators=["missing"])
def test_it(mockinfer):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*mockinfer: no generator named missing is installed or registered; known: core*upper*"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_bad_route_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(): pass")
    result = _run(pytester, "--mockinfer-generators=model:=x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*a generator route is GENERATOR or SELECTOR:GLOB=GENERATOR*"])


# -- installed plugins: a distribution on the path, found through its entry point --------------

PLUGIN = """
class Reverse:
    name = "reverse"
    version = "2.0.0"
    tasks = frozenset({"completion"})
    deterministic = True
    models = ("reverse-llm",)
    services = ()

    def complete(self, request):
        return request.prompt[::-1]
"""


def _distribution(root: Path, name: str, entry_points: str, module: str, source: str) -> Path:
    """A distribution as pip leaves it: a module and its `.dist-info` with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[mockinfer.generators]\n{entry_points}\n")
    return root


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose path holds a working and a broken plugin."""
    root = tmp_path / "site"
    root.mkdir()
    _distribution(
        root, "mockinfer_reverse", "reverse = reverse_plugin:Reverse", "reverse_plugin", PLUGIN
    )
    _distribution(
        root, "mockinfer_broken", "broken = broken_plugin:Nope", "broken_plugin", "import nowhere\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    yield env


def _mockinfer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_generators_lists_installed_plugins_and_names_a_broken_one(site: dict[str, str]) -> None:
    listed = _mockinfer(site, "generators")
    assert listed.returncode == 1
    assert "reverse 2.0.0 (reverse_plugin:Reverse from mockinfer_reverse 1.0)" in listed.stdout
    assert "tasks: completion" in listed.stdout
    assert "answers by default: reverse-llm" in listed.stdout
    assert (
        "broken: generator [broken] (broken_plugin:Nope from mockinfer_broken 1.0) failed to "
        "load: ModuleNotFoundError: No module named 'nowhere'" in listed.stdout
    )
    assert "Traceback" not in listed.stdout + listed.stderr


def test_serve_refuses_a_route_to_a_plugin_that_cannot_load(site: dict[str, str]) -> None:
    refused = _mockinfer(site, "serve", "--port", "0", "--generator", "broken")
    assert refused.returncode == 2
    assert "mockinfer: generator [broken]" in refused.stderr
    assert "failed to load: ModuleNotFoundError" in refused.stderr
    assert "Traceback" not in refused.stderr
    unknown = _mockinfer(site, "serve", "--port", "0", "--generator", "model:x=nothing")
    assert unknown.returncode == 2
    assert "no generator named nothing" in unknown.stderr and "reverse" in unknown.stderr


def test_serve_warns_of_a_broken_plugin_it_was_not_asked_for(site: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0"],
        env=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("http://")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert "mockinfer: warning: generator [broken]" in stderr
    assert "Traceback" not in stderr


def test_serve_routes_to_an_installed_plugin(site: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", "--generator", "reverse"],
        env=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        with Elasticsearch(url) as es:
            put_openai(es, "llm", "completion")
            resp = es.inference.completion(inference_id="llm", input="stressed")
            assert resp["completion"][0]["result"] == "desserts"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_broken_installed_plugin_is_reported_and_claims_nothing(
    site: dict[str, str], tmp_path: Path
) -> None:
    """One broken plugin must not break the endpoints no plugin answers; a route to it fails."""
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """
            from elasticsearch import ApiError, Elasticsearch
            from mockinfer import MockInferServer
            from mockinfer.settings import parse_route

            e5 = ".multilingual-e5-small-elasticsearch"
            with MockInferServer() as server, Elasticsearch(server.url) as es:
                print(len(es.inference.text_embedding(inference_id=e5, input="x")
                          ["text_embedding"][0]["embedding"]))
                server.generators.routes = [parse_route("endpoint:*e5*=broken")]
                try:
                    es.inference.text_embedding(inference_id=e5, input="x")
                except ApiError as exc:
                    print(exc.status_code, exc.body["error"]["reason"])
            """
        )
    )
    probe = subprocess.run(
        [sys.executable, str(script)], env=site, capture_output=True, text=True, timeout=60
    )
    lines = probe.stdout.splitlines()
    assert len(lines) == 2, probe.stderr
    assert lines[0] == "384"
    assert lines[1].startswith("500 generator [broken] (broken_plugin:Nope from mockinfer_broken")
    # The server said so when it started.
    assert "mockinfer: generator [broken]" in probe.stderr and "it answers nothing" in probe.stderr


def test_the_plugin_api_error_reaches_pytest_as_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        class Bad:
            name = "bad"
            version = "1"
            tasks = frozenset({"completion"})
            deterministic = True
            models = ("bad-llm",)
            services = ()

            def complete(self, request):
                raise KeyError("lost")

        def pytest_mockinfer_configure(config, generators):
            generators.register(Bad())
        """
    )
    pytester.makepyfile(
        PUT_LLM.format()
        + """
import pytest
from elasticsearch import ApiError

def test_it(mockinfer, mockinfer_es):
    put(mockinfer_es, "llm", "bad-llm")
    with pytest.raises(ApiError):
        complete(mockinfer_es, "llm")
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "mockinfer: generator [bad] (registered Bad) failed on completion for [llm]: "
        "KeyError: 'lost'" in result.stdout.str()
    )
