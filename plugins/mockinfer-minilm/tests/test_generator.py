"""The `minilm` generator as mockinfer sees it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points, version
from pathlib import Path

import numpy as np
import pytest
from mockinfer.plugins import ENTRY_POINT_GROUP, EmbeddingRequest, Generator, Refusal, RerankRequest

from mockinfer_minilm.generator import MiniLM
from mockinfer_minilm.model import MiniLMModel
from mockinfer_minilm.weights import HOME_ENV, WeightsMissingError

EmbeddingRequester = Callable[..., EmbeddingRequest]
RerankRequester = Callable[[str, tuple[str, ...]], RerankRequest]


def test_declares_what_mockinfer_routes_on() -> None:
    generator = MiniLM()
    assert isinstance(generator, Generator)
    assert generator.name == "minilm"
    assert generator.version == version("mockinfer-minilm")
    assert generator.tasks == {"text_embedding", "embedding", "rerank"}
    assert generator.deterministic is True
    assert "sentence-transformers__all-minilm-l6-v2" in generator.models
    assert "sentence-transformers/all-minilm-l6-v2" in generator.models
    assert generator.services == ()


def test_is_registered_under_the_entry_point_group() -> None:
    (entry_point,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "minilm"]
    assert entry_point.load() is MiniLM


def test_importing_the_plugin_loads_no_model_code() -> None:
    probe = (
        "import sys, mockinfer_minilm.generator; "
        "print(sorted(m for m in ('tokenizers', 'mockinfer_minilm.model') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_embeds_unit_float32_rows(
    model: MiniLMModel, embedding_request: EmbeddingRequester
) -> None:
    texts = ("Hello world", "A man is eating food.", "")
    rows = MiniLM().embed(embedding_request(texts))
    assert rows.dtype == np.float32
    assert rows.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    assert rows.tobytes() == model.embed(texts).tobytes()


@pytest.mark.parametrize("dimensions", [768, 1024, 128, 383])
def test_refuses_other_dimensions_as_elasticsearch_does(
    embedding_request: EmbeddingRequester, dimensions: int, tmp_path: Path
) -> None:
    # An empty home: the refusal comes before any weights are needed.
    with pytest.raises(Refusal) as refused:
        MiniLM(home=tmp_path).embed(embedding_request(("x",), dimensions, "my-e5"))
    assert refused.value.status == 400
    assert refused.value.error_type == "status_exception"
    assert refused.value.reason == (
        f"The retrieved embeddings size [384] does not match the size specified in the settings [{dimensions}]. "
        "Please recreate the [my-e5] configuration with the correct dimensions"
    )


def test_rerank_ranks_a_paraphrase_above_unrelated_text(rerank_request: RerankRequester) -> None:
    documents = (
        "The stock market fell sharply on Tuesday after the earnings reports.",
        "What is the best way to make bread in my own kitchen?",
        "Penguins live in the southern hemisphere.",
        "Baking bread at home: a step-by-step guide for beginners.",
    )
    scores = MiniLM().rerank(rerank_request("How do I bake bread at home?", documents))
    assert len(scores) == len(documents)
    assert all(0.0 < score < 1.0 for score in scores)
    assert min(scores[1], scores[3]) > max(scores[0], scores[2])


def test_rerank_scores_a_document_alike_in_any_company(rerank_request: RerankRequester) -> None:
    query = "fast vector search"
    documents = ("approximate nearest neighbours with HNSW", "a recipe for soup", query)
    together = MiniLM().rerank(rerank_request(query, documents))
    alone = [MiniLM().rerank(rerank_request(query, (d,)))[0] for d in documents]
    assert together == alone
    assert together[2] == pytest.approx(1.0, abs=1e-6)
    assert together[2] < 1.0


def test_missing_weights_say_how_to_install_them(
    embedding_request: EmbeddingRequester,
    rerank_request: RerankRequester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    with pytest.raises(WeightsMissingError) as missing:
        MiniLM().embed(embedding_request(("x",)))
    message = str(missing.value)
    assert "Run `mockinfer-minilm install`" in message
    assert str(tmp_path) in message
    assert "model.safetensors (missing)" in message
    with pytest.raises(WeightsMissingError, match="mockinfer-minilm install"):
        MiniLM().rerank(rerank_request("q", ("d",)))
