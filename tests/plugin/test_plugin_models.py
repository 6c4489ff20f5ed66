"""Declaring trained models from pytest: the marker, the ini key and the option."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def test_models_from_ini_option_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockinfer_models = ini-model:text_expansion\n")
    pytester.makepyfile(
        """
        import pytest
        from elasticsearch import ConflictError

        def ids(es):
            return {c["model_id"] for c in es.ml.get_trained_models()["trained_model_configs"]}

        def test_option_wins_over_ini(mockinfer_es):
            assert {"cli-model"} <= ids(mockinfer_es)
            assert "ini-model" not in ids(mockinfer_es)
            resp = mockinfer_es.ml.infer_trained_model(
                model_id="cli-model", docs=[{"text_field": "x"}])
            assert len(resp["inference_results"][0]["predicted_value"]) == 16

        @pytest.mark.mockinfer(models=[{"model_id": "cold", "task": "text_embedding",
                                        "deployed": False}])
        def test_marker_models(mockinfer_es):
            assert "cold" in ids(mockinfer_es)
            with pytest.raises(ConflictError):
                mockinfer_es.ml.infer_trained_model(model_id="cold", docs=[{"text_field": "x"}])

        def test_marker_models_are_gone_in_the_next_test(mockinfer_es):
            assert "cold" not in ids(mockinfer_es)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "--mockinfer-models=cli-model:text_embedding:16"
    )
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x:chat", "*a model is id:task*with a task from text_embedding*"),
        ("x:text_embedding:0", "*dimensions must be an integer from 1 to 8192*"),
    ],
)
def test_an_invalid_model_stops_the_run(pytester: pytest.Pytester, spec: str, message: str) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--mockinfer-models={spec}")
    assert result.ret != 0
    result.stderr.fnmatch_lines([message])


def test_over_long_parametrize_ids_get_a_short_cassette_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("text", ["a" * 300, "a" * 299 + "b"])
        @pytest.mark.mockinfer(record_mode="none", fallback="synthesize")
        def test_long(mockinfer, mockinfer_es, text):
            resp = mockinfer_es.inference.text_embedding(
                inference_id=".multilingual-e5-small-elasticsearch", input=text)
            assert resp["text_embedding"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-k", "long")
    result.assert_outcomes(passed=2)
