"""End to end: a mockinfer server answers the model's endpoints through this plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from elasticsearch import AsyncElasticsearch, BadRequestError, Elasticsearch
from mockinfer import MockInferServer

from mockinfer_minilm.model import MiniLMModel

#: An endpoint of the model as Eland imports it into a cluster.
ELAND = {
    "service": "elasticsearch",
    "service_settings": {
        "model_id": "sentence-transformers__all-minilm-l6-v2",
        "num_allocations": 1,
        "num_threads": 1,
    },
}
TEXTS = [
    "Elasticsearch stores documents in shards.",
    "A man is eating food.",
    "Café au lait, s'il vous plaît",
    "",
    "東京は日本の首都です。",
    "Order #4521 shipped on 2024-03-15",
]


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockInferServer]:
    with MockInferServer(seed=0) as server:
        yield server


@pytest.fixture(scope="module")
def es(mock_server: MockInferServer) -> Iterator[Elasticsearch]:
    with Elasticsearch(mock_server.url) as client:
        client.inference.put(
            task_type="text_embedding", inference_id="minilm-embed", inference_config=ELAND
        )
        client.inference.put(
            task_type="rerank", inference_id="minilm-rerank", inference_config=ELAND
        )
        yield client


def _rows(answer: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.array([row["embedding"] for row in answer["text_embedding"]], dtype=np.float32)


def test_an_eland_endpoint_answers_with_the_model(es: Elasticsearch, model: MiniLMModel) -> None:
    answer = es.inference.text_embedding(inference_id="minilm-embed", input=TEXTS)
    assert _rows(answer).tobytes() == model.embed(TEXTS).tobytes()


def test_a_hugging_face_endpoint_of_other_dimensions_is_refused(
    es: Elasticsearch, mock_server: MockInferServer
) -> None:
    url = f"{mock_server.url}/hf/sentence-transformers/all-MiniLM-L6-v2/embed"
    es.inference.put(
        task_type="text_embedding",
        inference_id="minilm-768",
        inference_config={
            "service": "hugging_face",
            "service_settings": {"url": url, "api_key": "k", "dimensions": 768},
        },
    )
    with pytest.raises(BadRequestError) as refused:
        es.inference.text_embedding(inference_id="minilm-768", input=["x"])
    assert refused.value.body["error"]["type"] == "status_exception"
    assert refused.value.body["error"]["reason"] == (
        "The retrieved embeddings size [384] does not match the size specified in the settings [768]. "
        "Please recreate the [minilm-768] configuration with the correct dimensions"
    )


def test_rerank_puts_the_paraphrase_first(es: Elasticsearch) -> None:
    answer = es.inference.rerank(
        inference_id="minilm-rerank",
        query="How do I bake bread at home?",
        input=["Stocks fell on Tuesday.", "Baking bread at home, step by step."],
    )
    assert [hit["index"] for hit in answer["rerank"]] == [1, 0]
    assert all(0 < hit["relevance_score"] < 1 for hit in answer["rerank"])


@pytest.mark.asyncio
async def test_concurrent_requests_get_the_bytes_of_a_text_alone(
    es: Elasticsearch, mock_server: MockInferServer, model: MiniLMModel
) -> None:
    batches = [TEXTS[i:] + TEXTS[:i] for i in range(len(TEXTS))]
    async with AsyncElasticsearch(mock_server.url) as client:
        answers = await asyncio.gather(
            *(
                client.inference.text_embedding(inference_id="minilm-embed", input=b)
                for b in batches
            )
        )
    alone = {text: model.embed([text]).tobytes() for text in TEXTS}
    for batch, answer in zip(batches, answers, strict=True):
        assert [row.tobytes() for row in _rows(answer)] == [alone[text] for text in batch]
