"""Redaction rules and a before_record hook from pytest: ini keys and overridable fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockinfer import MockInferServer

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def upstream() -> Iterator[MockInferServer]:
    with MockInferServer(seed=3) as cluster:
        yield cluster


def test_ini_rules_and_conftest_hooks(pytester: pytest.Pytester, upstream: MockInferServer) -> None:
    pytester.makeini(
        "[pytest]\nmockinfer_redact_headers = X-Tenant\nmockinfer_redact_fields = customer_id\n"
        "mockinfer_redact_query = human\n"
    )
    pytester.makeconftest(
        """
        import dataclasses
        import pytest
        from mockinfer import RedactionRules

        @pytest.fixture
        def mockinfer_redaction(mockinfer_redaction):
            return mockinfer_redaction | RedactionRules(body_fields=frozenset({"project"}))

        @pytest.fixture
        def mockinfer_before_record():
            def hook(interaction):
                if b"drop-me" in interaction.request.body:
                    return None
                response = dataclasses.replace(
                    interaction.response,
                    headers=(*interaction.response.headers, ("X-Note", "edited"),
                             ("X-Api-Key", "slipped-in-by-the-hook")),
                )
                return dataclasses.replace(interaction, response=response)
            return hook
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from elasticsearch import BadRequestError

        E5 = ".multilingual-e5-small-elasticsearch"

        @pytest.mark.mockinfer(record_mode="all")
        def test_record(mockinfer, mockinfer_es):
            client = mockinfer_es.options(headers={"X-Tenant": "tenant-secret-1"})
            # The cluster refuses the unknown fields; its answer is recorded all the same.
            with pytest.raises(BadRequestError):
                client.perform_request(
                    "POST", f"/_inference/text_embedding/{E5}?human=region-secret-2",
                    body={"input": "x", "customer_id": "customer-secret-3",
                          "project": "project-secret-4"},
                    headers={"Content-Type": "application/json"})
            client.perform_request(
                "POST", f"/_inference/text_embedding/{E5}", body={"input": "drop-me"},
                headers={"Content-Type": "application/json"})
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", f"--mockinfer-upstream={upstream.url}"
    )
    result.assert_outcomes(passed=1)
    (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
    text = cassette.read_text()
    for planted in ("tenant-secret-1", "region-secret-2", "customer-secret-3", "project-secret-4"):
        assert planted not in text
    assert "slipped-in-by-the-hook" not in text and "X-Note" in text
    assert "drop-me" not in text and text.count("- request:") == 1
