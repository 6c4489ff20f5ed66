"""Shared fixtures: the model of the installed weights, the golden vectors, request makers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mockinfer.plugins import EmbeddingRequest, RerankRequest, Target

from mockinfer_minilm.model import MiniLMModel, load
from mockinfer_minilm.weights import locate

GOLDEN = Path(__file__).parent / "golden.json"


@pytest.fixture(scope="session")
def model() -> MiniLMModel:
    """The model of the default weights folder: `mockinfer-minilm install` must have run."""
    return load(locate().folder)


@pytest.fixture(scope="session")
def golden() -> dict[str, Any]:
    """Reference vectors from sentence-transformers (`scripts/make_golden.py`)."""
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def _target(task: str, inference_id: str) -> Target:
    # An `elasticsearch` service endpoint naming the model as Eland imports it.
    return Target(
        inference_id=inference_id,
        task=task,
        service="elasticsearch",
        model="sentence-transformers__all-minilm-l6-v2",
        seed=0,
    )


@pytest.fixture
def embedding_request() -> Callable[..., EmbeddingRequest]:
    """Makes a float, cosine `text_embedding` request."""

    def make(
        texts: tuple[str, ...], dimensions: int = 384, inference_id: str = "my-minilm"
    ) -> EmbeddingRequest:
        return EmbeddingRequest(
            target=_target("text_embedding", inference_id),
            texts=texts,
            dimensions=dimensions,
            similarity="cosine",
            element_type="float",
            input_type=None,
        )

    return make


@pytest.fixture
def rerank_request() -> Callable[[str, tuple[str, ...]], RerankRequest]:
    """Makes a `rerank` request."""

    def make(query: str, documents: tuple[str, ...]) -> RerankRequest:
        return RerankRequest(
            target=_target("rerank", "my-reranker"), query=query, documents=documents
        )

    return make
