"""Faults and the journal from pytest: the marker, the fixture, and `wait_for` under xdist."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

E5 = ".multilingual-e5-small-elasticsearch"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_marker_and_fixture_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        from elasticsearch import ApiError

        pytestmark = pytest.mark.mockinfer(faults=[{{"inference_id": "{E5}", "delay": 0.01}}])

        @pytest.mark.mockinfer(faults=[{{"inference_id": "{E5}", "status": 503, "times": 2}}])
        def test_marker_faults_add_up(mockinfer, mockinfer_es):
            resp = mockinfer_es.inference.text_embedding(inference_id="{E5}", input="x")
            assert resp["text_embedding"]
            assert [c.status for c in mockinfer.calls] == [503, 503, 200]
            assert [f.rule.as_dict() for f in mockinfer.faults] == [
                {{"inference_id": "{E5}", "delay": 0.01}},
                {{"inference_id": "{E5}", "status": 503, "times": 2}},
            ]

        def test_faults_are_reset_between_tests(mockinfer, mockinfer_es):
            assert len(mockinfer.faults) == 1
            fault = mockinfer.fault(inference_id="{E5}", status=429)
            with pytest.raises(ApiError):
                mockinfer_es.options(max_retries=0).inference.text_embedding(
                    inference_id="{E5}", input="x")
            assert fault.hits == 1

        @pytest.mark.mockinfer(faults=[{{"status": 700}}])
        def test_a_bad_marker_rule_fails_the_test(mockinfer):
            pass
        """
    )
    result = _run(pytester, "-q")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*mockinfer: mockinfer marker: fault 1: status must be an HTTP error status (400-599)*"]
    )


def test_wait_for_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import threading
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_background_calls(mockinfer, mockinfer_es, n):
            def call():
                for i in range(3):
                    mockinfer_es.inference.text_embedding(inference_id="{E5}", input=f"{{n}}-{{i}}")
            worker = threading.Thread(target=call)
            worker.start()
            calls = mockinfer.calls.wait_for(3, timeout=30, inference_id="{E5}")
            worker.join()
            assert [c.body["input"] for c in calls] == [f"{{n}}-{{i}}" for i in range(3)]
            assert all(c.complete and c.source == "synthesis" for c in calls)
        """
    )
    result = _run(pytester, "-q", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=6)


def test_a_stub_with_a_bad_argument_fails_where_it_is_made(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bad_error_stub(mockinfer):
            mockinfer.stub(error=(429, "x"))
        """
    )
    result = _run(pytester, "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ConfigurationError: stub error must be (status 400-599, error type, reason)*"]
    )
