"""The pytest plugin, exercised as users meet it: real pytest runs in subprocesses (pytester)."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockinfer import MockInferServer
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    read,
    write,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

E5 = ".multilingual-e5-small-elasticsearch"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.fixture
def upstream() -> Iterator[MockInferServer]:
    """A stand-in for the real cluster that the tests under pytester record from."""
    with MockInferServer(seed=42) as server:
        yield server


def test_fixtures_and_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        def test_handle(mockinfer, mockinfer_es, mockinfer_server):
            assert mockinfer.url == mockinfer_server.url
            resp = mockinfer_es.inference.text_embedding(inference_id="{E5}", input="hi")
            assert len(resp["text_embedding"][0]["embedding"]) == 384
            (call,) = mockinfer.calls
            assert (call.method, call.inference_id, call.task_type, call.status) == (
                "POST", "{E5}", "text_embedding", 200)
            assert call.body == {{"input": "hi"}}
            assert mockinfer.calls.filter(status=404) == []
            assert mockinfer.cassette is None and mockinfer.seed == 0

        def test_state_is_reset_between_tests(mockinfer, mockinfer_es):
            assert len(mockinfer.calls) == 0
            ids = [e["inference_id"] for e in mockinfer_es.inference.get()["endpoints"]]
            assert len(ids) == 3

        def test_stub(mockinfer, mockinfer_es):
            mockinfer.stub(inference_id="{E5}", match="pinned", result=[1.0] * 384)
            resp = mockinfer_es.inference.text_embedding(inference_id="{E5}", input="pinned")
            assert resp["text_embedding"][0]["embedding"] == [1.0] * 384
        """
    )
    _run(pytester).assert_outcomes(passed=3)


def test_one_client_serves_the_session_and_each_test_starts_fresh(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        clients = []

        def test_first(mockinfer_es):
            clients.append(mockinfer_es)
            mockinfer_es.inference.put(
                inference_id="mine",
                task_type="text_embedding",
                inference_config={
                    "service": "openai",
                    "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
                },
            )
            assert len(mockinfer_es.inference.get()["endpoints"]) == 4

        def test_second(mockinfer_es):
            assert clients == [mockinfer_es]
            ids = [e["inference_id"] for e in mockinfer_es.inference.get()["endpoints"]]
            assert "mine" not in ids and len(ids) == 3
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--fixtures")
    for name in ("mockinfer_server", "mockinfer_es", "mockinfer_aes"):
        assert (
            re.search(rf"^{name} \[.*scope\]", result.stdout.str(), re.M)
            or name in result.stdout.str()
        )
    result.stdout.fnmatch_lines(["mockinfer -- *", "*fake Elasticsearch inference service*"])


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_tests(pytester: pytest.Pytester, mode: str) -> None:
    marker = "@pytest.mark.asyncio" if mode == "strict" else ""
    pytester.makepyfile(
        f"""
        import pytest

        {marker}
        async def test_async(mockinfer, mockinfer_aes):
            resp = await mockinfer_aes.inference.rerank(
                inference_id=".rerank-v1-elasticsearch", query="cats", input=["cats purr", "dogs"])
            assert resp["rerank"][0]["index"] == 0
            assert len(mockinfer.calls) == 1
        """
    )
    _run(pytester, f"--asyncio-mode={mode}").assert_outcomes(passed=1)


def test_precedence_narrowest_wins(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nmockinfer_seed = 1\nmockinfer_timing = instant\n")
    pytester.makepyfile(
        """
        import pytest

        def test_seed(mockinfer, request):
            assert mockinfer.seed == int(request.config.getoption("--expected"))

        @pytest.mark.mockinfer(seed=4)
        def test_marker(mockinfer):
            assert mockinfer.seed == 4
        """
    )
    pytester.makeconftest('def pytest_addoption(parser):\n    parser.addoption("--expected")\n')
    _run(pytester, "--expected=1").assert_outcomes(passed=2)
    monkeypatch.setenv("MOCKINFER_SEED", "2")
    _run(pytester, "--expected=2").assert_outcomes(passed=2)
    _run(pytester, "--expected=3", "--mockinfer-seed=3").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "env", "ini", "message"),
    [
        (
            ["--mockinfer-record-mode=sometimes"],
            {},
            "",
            "record_mode must be one of none, once, new_episodes, all",
        ),
        (["--mockinfer-fallback=ignore"], {}, "", "fallback must be one of error, synthesize"),
        (["--mockinfer-timing=slow"], {}, "", "timing must be 'recorded', 'instant' or a factor"),
        (
            ["--mockinfer-match-on=method,colour"],
            {},
            "",
            "match_on takes matchers from method, path, query",
        ),
        ([], {"MOCKINFER_SEED": "abc"}, "", "environment: seed must be an integer"),
        (
            [],
            {},
            "mockinfer_fail_on_unplayed = maybe",
            "ini: fail_on_unplayed must be true or false",
        ),
    ],
)
def test_invalid_settings_fail_at_start_up(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    ini: str,
    message: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_record_then_replay_with_upstream_gone(
    pytester: pytest.Pytester, upstream: MockInferServer
) -> None:
    pytester.makepyfile(
        test_rag=f"""
        def test_embed_and_stream(mockinfer, mockinfer_es):
            mockinfer_es.inference.put(inference_id="llm", task_type="completion", inference_config={{
                "service": "openai", "service_settings": {{"api_key": "sk-real-secret-0123456789abcdef", "model_id": "gpt-4o"}}}})
            vector = mockinfer_es.inference.text_embedding(inference_id="{E5}", input="harbour")
            stream = mockinfer_es.perform_request("POST", "/_inference/completion/llm/_stream",
                body={{"input": "hi"}}, headers={{"accept": "application/json", "content-type": "application/json"}})
            assert stream.body.endswith("data: [DONE]\\n\\n")
            with open("seen.txt", "a") as out:
                out.write(repr(vector["text_embedding"][0]["embedding"][:4]) + stream.body + "\\n")
        """
    )
    recorded = _run(
        pytester,
        "--mockinfer-record-mode=once",
        f"--mockinfer-upstream={upstream.url}",
        "--mockinfer-timing=instant",
    )
    recorded.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_rag" / "test_embed_and_stream.yaml"
    assert cassette.exists()
    assert "sk-real-secret" not in cassette.read_text()
    upstream.stop()
    _run(pytester).assert_outcomes(passed=1)
    first, second = _halves(pytester)
    assert first == second


def _halves(pytester: pytest.Pytester) -> tuple[str, str]:
    text = Path(pytester.path, "seen.txt").read_text()
    runs = [r for r in text.split("data: [DONE]\n\n\n") if r]
    assert len(runs) == 2
    return runs[0], runs[1]


def test_a_replay_miss_fails_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_miss"
    folder.mkdir(parents=True)
    (folder / "test_misses.yaml").write_text("interactions: []\nversion: 1\n")
    pytester.makepyfile(
        test_miss=f"""
        import elasticsearch

        def test_misses(mockinfer, mockinfer_es):
            try:
                mockinfer_es.inference.text_embedding(inference_id="{E5}", input="not recorded")
            except elasticsearch.NotFoundError:
                pass

        def test_unaffected(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="synthesized")
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_misses*",
            f'*no recorded interaction matches POST /_inference/text_embedding/{E5} {{"input":"not recorded"}}*',
        ]
    )
    assert "test_unaffected" not in "".join(line for line in result.stdout.lines if "ERROR" in line)


def test_marker_cassette_names_and_paths(
    pytester: pytest.Pytester, upstream: MockInferServer, tmp_path: Path
) -> None:
    absolute = tmp_path / "elsewhere.yaml"
    pytester.makepyfile(
        test_names=f"""
        import pytest

        @pytest.mark.mockinfer("shared")
        def test_named(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="named")
            assert mockinfer.cassette.path.name == "shared.yaml"

        @pytest.mark.mockinfer(cassette=r"{absolute}")
        def test_absolute(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="absolute")
        """
    )
    _run(
        pytester, "--mockinfer-record-mode=once", f"--mockinfer-upstream={upstream.url}"
    ).assert_outcomes(passed=2)
    assert (pytester.path / "cassettes" / "test_names" / "shared.yaml").exists()
    assert absolute.exists()


def test_cassette_dir_ini_and_fail_on_unplayed(
    pytester: pytest.Pytester, upstream: MockInferServer
) -> None:
    pytester.makeini("[pytest]\nmockinfer_cassette_dir = recordings\n")
    pytester.makepyfile(
        test_unplayed=f"""
        import pytest

        def test_two_calls(mockinfer, mockinfer_es, request):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="one")
            if not request.config.getoption("--mockinfer-record-mode"):
                return
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="two")
        """
    )
    _run(
        pytester, "--mockinfer-record-mode=once", f"--mockinfer-upstream={upstream.url}"
    ).assert_outcomes(passed=1)
    assert (pytester.path / "recordings" / "test_unplayed" / "test_two_calls.yaml").exists()
    _run(pytester).assert_outcomes(passed=1)
    result = _run(pytester, "--mockinfer-fail-on-unplayed=true")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*1 recorded interaction(s) never played*", '*{"input":"two"}*'])


def test_fallback_synthesize_from_the_marker(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_fallback"
    folder.mkdir(parents=True)
    (folder / "test_falls_back.yaml").write_text("interactions: []\nversion: 1\n")
    pytester.makepyfile(
        test_fallback=f"""
        import pytest

        @pytest.mark.mockinfer(fallback="synthesize", match_on=["method", "path"])
        def test_falls_back(mockinfer, mockinfer_es):
            resp = mockinfer_es.inference.text_embedding(inference_id="{E5}", input="x")
            assert resp["text_embedding"]
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_recording_without_upstream_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(mockinfer):\n    pass\n")
    result = _run(pytester, "--mockinfer-record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no upstream is set (--mockinfer-upstream, MOCKINFER_UPSTREAM or upstream=)*"]
    )


def test_xdist_workers_each_get_a_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "\n".join(
            textwrap.dedent(
                f"""
                def test_{i}(mockinfer, mockinfer_es):
                    mockinfer_es.inference.text_embedding(inference_id="{E5}", input="{i}")
                    assert len(mockinfer.calls) == 1
                """
            )
            for i in range(6)
        )
    )
    _run(pytester, "-n", "2").assert_outcomes(passed=6)


def test_unused_plugin_costs_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys, threading

        def test_plain():
            heavy = {"aiohttp", "numpy", "faker", "yaml", "mockinfer.server"} & set(sys.modules)
            assert not heavy, heavy
            assert not [t for t in threading.enumerate() if t.name == "mockinfer-server"]
        """
    )
    # faker, a dependency, registers a pytest plugin of its own that imports faker.
    result = _run(pytester, "-p", "no:asyncio", "-p", "no:faker")
    result.assert_outcomes(passed=1)


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_block(heading: str) -> str:
    text = README.read_text()
    section = text.split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_quick_start_runs_as_written() -> None:
    exec(
        compile(_readme_block("## Quick start with the official Python client"), "README", "exec"),
        {},
    )


def test_readme_pytest_example_runs_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme=_readme_block("## In pytest"))
    _run(pytester).assert_outcomes(passed=1)


def test_markers_merge_from_module_to_function(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.mockinfer(seed=5, timing="instant")


        @pytest.mark.mockinfer(seed=7)
        class TestMerged:
            @pytest.mark.mockinfer(fallback="synthesize")
            def test_every_level_counts(self, mockinfer):
                assert mockinfer.seed == 7
                assert (mockinfer.settings.fallback, mockinfer.settings.timing) == ("synthesize", "instant")

            @pytest.mark.mockinfer(seed=9)
            def test_narrowest_wins(self, mockinfer):
                assert mockinfer.seed == 9
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_classes_name_their_cassettes_and_a_conftest_moves_the_folder(
    pytester: pytest.Pytester, upstream: MockInferServer
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def mockinfer_cassette_dir(request):
            return request.path.parent / "moved"
        """
    )
    pytester.makepyfile(
        test_classes=f"""
        class TestA:
            def test_x(self, mockinfer, mockinfer_es):
                mockinfer_es.inference.text_embedding(inference_id="{E5}", input="from a")

        class TestB:
            def test_x(self, mockinfer, mockinfer_es):
                mockinfer_es.inference.text_embedding(inference_id="{E5}", input="from b")
        """
    )
    _run(
        pytester, "--mockinfer-record-mode=once", f"--mockinfer-upstream={upstream.url}"
    ).assert_outcomes(passed=2)
    moved = pytester.path / "moved"
    assert sorted(p.name for p in moved.iterdir()) == ["TestA.test_x.yaml", "TestB.test_x.yaml"]
    assert '"from b"' in (moved / "TestB.test_x.yaml").read_text()
    upstream.stop()
    _run(pytester).assert_outcomes(passed=2)


def test_a_cassette_named_before_classes_counted_still_plays(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_old=f"""
        class TestOld:
            def test_x(self, mockinfer, mockinfer_es):
                mockinfer_es.inference.text_embedding(inference_id="{E5}", input="old")
                assert mockinfer.cassette.path.name == "test_x.yaml"
        """
    )
    folder = pytester.path / "cassettes" / "test_old"
    write(folder / "test_x.yaml", CassetteData([_embedding_interaction("old")]))
    _run(pytester).assert_outcomes(passed=1)
    assert not (folder / "TestOld.test_x.yaml").exists()


def test_rewrite_records_a_cassette_afresh(
    pytester: pytest.Pytester, upstream: MockInferServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_rewrite=f"""
        import os

        def test_x(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input=os.environ["TEXT"])

        def test_quiet(mockinfer):
            pass
        """
    )
    folder = pytester.path / "cassettes" / "test_rewrite"
    folder.mkdir(parents=True)
    (folder / "test_quiet.yaml").write_text("interactions: []\nversion: 1\n")
    options = ("--mockinfer-record-mode=rewrite", f"--mockinfer-upstream={upstream.url}")
    for text in ("first", "second"):
        monkeypatch.setenv("TEXT", text)
        _run(pytester, *options).assert_outcomes(passed=2)
    recorded = (folder / "test_x.yaml").read_text()
    assert '"second"' in recorded and '"first"' not in recorded
    assert (folder / "test_quiet.yaml").exists()  # it recorded nothing: nothing is deleted


def test_a_miss_is_explained_once_with_the_command_that_records_it_again(
    pytester: pytest.Pytester, upstream: MockInferServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_prompt=f"""
        import os

        def test_prompt(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input=os.environ["TEXT"])
        """
    )
    prompt = "Summarise the quarterly report in three bullet points. " * 3
    monkeypatch.setenv("TEXT", prompt + "Be brief.")
    _run(
        pytester, "--mockinfer-record-mode=once", f"--mockinfer-upstream={upstream.url}"
    ).assert_outcomes(passed=1)
    monkeypatch.setenv("TEXT", prompt + "Be thorough.")
    result = _run(pytester)
    result.assert_outcomes(failed=1, errors=1)
    output = result.stdout.str()
    # pytest's own summary repeats the teardown message in full when it runs on CI
    reports = output.split("short test summary info")[0]
    assert reports.count("nearest recorded:") == 1  # in the teardown report only
    assert "failure says what differs)')" in output  # the client's 404: the request only
    at = len(prompt) + 3
    assert f"body.input differs at character {at} of {at + 6} recorded" in output
    assert 'vs live ..."rt in three bullet points. Be thorough."' in output
    result.stdout.fnmatch_lines(
        [
            "*To record this test's cassette again:*",
            "*pytest test_prompt.py::test_prompt --mockinfer-record-mode=rewrite "
            "--mockinfer-upstream='<cluster-url>'*",
        ]
    )


def _embedding_interaction(text: str) -> Interaction:
    request = RecordedRequest(
        "POST",
        f"http://cluster:9200/_inference/text_embedding/{E5}",
        json.dumps({"input": text}).encode(),
    )
    answer = {"text_embedding": [{"embedding": [0.5] * 384}]}
    return Interaction(
        request,
        RecordedResponse(
            200,
            (("Content-Type", "application/json"), ("X-elastic-product", "Elasticsearch")),
            json.dumps(answer).encode(),
        ),
    )


def test_prune_drops_what_no_test_played_after_a_run_that_passed(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_prune"
    write(
        folder / "test_own.yaml", CassetteData([_embedding_interaction(t) for t in ("a", "stale")])
    )
    write(folder / "shared.yaml", CassetteData([_embedding_interaction(t) for t in ("b", "c")]))
    pytester.makepyfile(
        test_prune=f"""
        import pytest

        def test_own(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="a")

        @pytest.mark.mockinfer("shared")
        def test_b(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="b")

        @pytest.mark.mockinfer("shared")
        def test_c(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="c")
        """
    )
    result = _run(pytester, "--mockinfer-prune")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*pruned 1 unplayed interaction(s) from *test_own.yaml"])
    own, shared = read(folder / "test_own.yaml"), read(folder / "shared.yaml")
    assert own is not None and shared is not None
    assert [json.loads(i.request.body)["input"] for i in own.interactions] == ["a"]
    assert len(shared.interactions) == 2  # each half played by one of two tests
    _run(pytester).assert_outcomes(passed=3)


def test_prune_changes_nothing_when_the_run_fails_or_could_record(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_prune_fail"
    cassette = folder / "test_fails.yaml"
    write(cassette, CassetteData([_embedding_interaction(t) for t in ("a", "stale")]))
    before = cassette.read_bytes()
    pytester.makepyfile(
        test_prune_fail=f"""
        def test_fails(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="a")
            assert False
        """
    )
    result = _run(pytester, "--mockinfer-prune")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nothing pruned: the run was not whole (it failed)*"])
    assert cassette.read_bytes() == before
    partial = _run(pytester, "--mockinfer-prune", "-k", "not fails")
    partial.stdout.fnmatch_lines(["*nothing pruned: the run was not whole (1 test(s) were left*"])
    assert cassette.read_bytes() == before
    refused = _run(pytester, "--mockinfer-prune", "--mockinfer-record-mode=once")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mockinfer-prune replays only" in refused.stderr.str()


def test_drift_fails_a_replay_whose_live_answer_changed_shape(
    pytester: pytest.Pytester, upstream: MockInferServer
) -> None:
    pytester.makepyfile(
        test_drift=f"""
        def test_embed(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="harbour")
        """
    )
    options = (f"--mockinfer-upstream={upstream.url}",)
    _run(pytester, "--mockinfer-record-mode=once", *options).assert_outcomes(passed=1)
    _run(pytester, "--mockinfer-drift=true", *options).assert_outcomes(passed=1)
    upstream.stub(inference_id=E5, result=[0.5] * 768)  # the cluster now answers 768 dims
    result = _run(pytester, "--mockinfer-drift=true", *options)
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "mockinfer: the cassette has drifted from the upstream for POST /_inference/"
        f"text_embedding/{E5}: body.text_embedding[0].embedding: 384 dimensions recorded, 768 live"
    ) in result.stdout.str()
    _run(pytester).assert_outcomes(passed=1)  # without drift, the replay alone passes


def test_a_class_never_takes_the_cassette_of_a_function_of_its_name(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_twins"
    write(folder / "test_x.yaml", CassetteData([_embedding_interaction("function")]))
    pytester.makepyfile(
        test_twins="""
        def test_x(mockinfer):
            assert mockinfer.cassette.path.name == "test_x.yaml"

        class TestA:
            def test_x(self, mockinfer):
                assert mockinfer.cassette is None  # TestA.test_x.yaml does not exist yet
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_the_hint_never_shows_the_upstream_credentials(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_hint"
    write(folder / "test_miss.yaml", CassetteData([_embedding_interaction("recorded")]))
    pytester.makepyfile(
        test_hint=f"""
        def test_miss(mockinfer, mockinfer_es):
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="other")
        """
    )
    result = _run(pytester, "--mockinfer-upstream=http://elastic:hunter2@127.0.0.1:9")
    result.assert_outcomes(failed=1, errors=1)
    assert "hunter2" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*--mockinfer-upstream=http://127.0.0.1:9*"])


def test_setup_calls_are_recorded_once_and_replayed_for_every_test(
    pytester: pytest.Pytester, upstream: MockInferServer
) -> None:
    pytester.makepyfile(
        test_suite="""
        import pytest

        @pytest.fixture(autouse=True)
        def endpoint(mockinfer, mockinfer_es):
            with mockinfer.setup():
                mockinfer_es.inference.put(
                    inference_id="my-embedder",
                    task_type="text_embedding",
                    inference_config={
                        "service": "openai",
                        "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
                    },
                )

        @pytest.mark.parametrize("text", ["first", "second", "third"])
        def test_embed(mockinfer_es, text):
            answer = mockinfer_es.inference.text_embedding(inference_id="my-embedder", input=text)
            assert answer["text_embedding"][0]["embedding"]
        """
    )
    _run(
        pytester, "--mockinfer-record-mode=once", f"--mockinfer-upstream={upstream.url}"
    ).assert_outcomes(passed=3)
    folder = pytester.path / "cassettes" / "test_suite"
    setup = read(folder / "setup.yaml")
    assert setup is not None
    assert [i.request.method for i in setup.interactions] == ["PUT"]  # recorded once
    for text in ("first", "second", "third"):
        own = read(folder / f"test_embed[{text}].yaml")
        assert own is not None
        assert [i.request.method for i in own.interactions] == ["POST"]  # no set-up in it
    upstream.stop()
    _run(pytester).assert_outcomes(passed=3)  # offline: the set-up replays for every test
    _run(pytester, "--mockinfer-fail-on-unplayed=true").assert_outcomes(passed=3)


def test_setup_without_a_recording_is_synthesized_beside_a_test_cassette(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_synth_setup"
    write(folder / "test_embed.yaml", CassetteData([_embedding_interaction("recorded")]))
    pytester.makepyfile(
        test_synth_setup=f"""
        def test_embed(mockinfer, mockinfer_es):
            with mockinfer.setup():
                mockinfer_es.inference.put(
                    inference_id="mine",
                    task_type="completion",
                    inference_config={{
                        "service": "openai",
                        "service_settings": {{"api_key": "k", "model_id": "gpt-4o"}},
                    }},
                )
            mockinfer_es.inference.text_embedding(inference_id="{E5}", input="recorded")
            ids = [e["inference_id"] for e in mockinfer_es.inference.get()["endpoints"]]
            assert "mine" in ids
        """
    )
    _run(pytester, "--mockinfer-fallback=synthesize").assert_outcomes(passed=1)
    assert not (folder / "setup.yaml").exists()
