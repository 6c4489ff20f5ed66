"""End to end with the official sync client over a real socket: every `client.inference` family."""

from __future__ import annotations

import math
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from mockinfer import MockInferServer

E5 = ".multilingual-e5-small-elasticsearch"
ELSER = ".elser-2-elasticsearch"
RERANK = ".rerank-v1-elasticsearch"


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_info_and_ping(es: Elasticsearch) -> None:
    info = es.info()
    assert info["version"]["number"].startswith("9.")
    assert info["tagline"] == "You Know, for Search"
    assert es.ping() is True


def test_default_endpoints_listed_sorted(es: Elasticsearch) -> None:
    ids = [e["inference_id"] for e in es.inference.get()["endpoints"]]
    assert ids == [ELSER, E5, RERANK]
    rerank = es.inference.get(inference_id=RERANK)["endpoints"][0]
    assert rerank["task_settings"] == {"return_documents": True}
    assert rerank["service_settings"]["adaptive_allocations"]["max_number_of_allocations"] == 32


def test_text_embedding_default_endpoint(es: Elasticsearch) -> None:
    resp = es.inference.text_embedding(inference_id=E5, input=["a cat sat on the mat", "hello"])
    vectors = [item["embedding"] for item in resp["text_embedding"]]
    assert [len(v) for v in vectors] == [384, 384]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)
    alone = es.inference.text_embedding(inference_id=E5, input="hello")
    assert alone["text_embedding"][0]["embedding"] == vectors[1]


def test_related_texts_embed_closer(es: Elasticsearch) -> None:
    resp = es.inference.text_embedding(
        inference_id=E5,
        input=[
            "the cat sat on the mat",
            "a cat was sitting on a mat",
            "quarterly revenue grew in europe",
        ],
    )
    cat, kitten, revenue = (item["embedding"] for item in resp["text_embedding"])
    assert _cosine(cat, kitten) > _cosine(cat, revenue) + 0.1


def test_seed_changes_results(es: Elasticsearch, server: MockInferServer) -> None:
    first = es.inference.text_embedding(inference_id=E5, input="seeded")["text_embedding"][0]
    server.seed = 1
    second = es.inference.text_embedding(inference_id=E5, input="seeded")["text_embedding"][0]
    assert first != second


def test_put_with_task_type_in_body_then_infer_and_delete(es: Elasticsearch) -> None:
    created = es.inference.put(
        inference_id="elser_model_test",
        inference_config={
            "task_type": "sparse_embedding",
            "service": "elser",
            "service_settings": {"num_allocations": 1, "num_threads": 1},
            "task_settings": {},
        },
    )
    assert created["task_type"] == "sparse_embedding"
    assert created["inference_id"] == "elser_model_test"
    got = es.inference.get(inference_id="elser_model_test")
    assert got["endpoints"][0]["task_type"] == "sparse_embedding"
    resp = es.inference.inference(
        inference_id="elser_model_test",
        input="The sky above the port was the color of television tuned to a dead channel.",
    )
    weights = resp["sparse_embedding"][0]["embedding"]
    assert weights and "sky" in weights
    assert list(weights.values()) == sorted(weights.values(), reverse=True)
    assert es.inference.delete(inference_id="elser_model_test")["acknowledged"] is True
    with pytest.raises(NotFoundError):
        es.inference.get(inference_id="elser_model_test")


def test_put_openai_fills_defaults_and_hides_secrets(es: Elasticsearch) -> None:
    created = es.inference.put_openai(
        task_type="text_embedding",
        openai_inference_id="oa",
        service="openai",
        service_settings={
            "api_key": "sk-secret-value",
            "model_id": "text-embedding-3-small",
            "dimensions": 128,
        },
    )
    settings = created["service_settings"]
    assert "api_key" not in settings
    assert settings["dimensions"] == 128
    assert settings["similarity"] == "dot_product"
    assert settings["rate_limit"] == {"requests_per_minute": 3000}
    assert created["chunking_settings"] == {
        "strategy": "sentence",
        "max_chunk_size": 250,
        "sentence_overlap": 1,
    }
    listed = es.inference.get(task_type="text_embedding", inference_id="_all")["endpoints"]
    assert [e["inference_id"] for e in listed] == [E5, "oa"]
    assert "sk-secret-value" not in str(listed)
    vector = es.inference.text_embedding(inference_id="oa", input="x")["text_embedding"][0][
        "embedding"
    ]
    assert len(vector) == 128


@pytest.mark.parametrize(
    ("embedding_type", "key", "length"),
    [("byte", "text_embedding_bytes", 64), ("bit", "text_embedding_bits", 8)],
)
def test_element_types(es: Elasticsearch, embedding_type: str, key: str, length: int) -> None:
    es.inference.put_cohere(
        task_type="text_embedding",
        cohere_inference_id="co",
        service="cohere",
        service_settings={
            "api_key": "k",
            "model_id": "embed-english-v3.0",
            "embedding_type": embedding_type,
            "dimensions": 64,
        },
    )
    resp = es.inference.text_embedding(inference_id="co", input=["one", "two"])
    vectors = [item["embedding"] for item in resp[key]]
    assert [len(v) for v in vectors] == [length, length]
    assert all(-128 <= x <= 127 and isinstance(x, int) for v in vectors for x in v)


def test_an_endpoint_made_again_embeds_by_its_new_settings(es: Elasticsearch) -> None:
    def embed_with(dimensions: int, similarity: str) -> list[float]:
        es.inference.put(
            task_type="text_embedding",
            inference_id="remade",
            inference_config={
                "service": "openai",
                "service_settings": {
                    "api_key": "k",
                    "model_id": "text-embedding-3-small",
                    "dimensions": dimensions,
                    "similarity": similarity,
                },
            },
        )
        resp = es.inference.text_embedding(inference_id="remade", input="the same text")
        es.inference.delete(inference_id="remade")
        return list(resp["text_embedding"][0]["embedding"])

    first = embed_with(64, "dot_product")
    assert len(embed_with(96, "dot_product")) == 96
    l2 = embed_with(64, "l2_norm")
    assert len(l2) == 64 and l2 != first
    assert embed_with(64, "dot_product") == first


def test_rerank_orders_by_relevance(es: Elasticsearch) -> None:
    docs = ["stock markets fell sharply", "cats purr when they are happy", "my cat likes to purr"]
    resp = es.inference.rerank(inference_id=RERANK, query="why do cats purr", input=docs)
    ranked = resp["rerank"]
    assert {r["index"] for r in ranked[:2]} == {1, 2}
    scores = [r["relevance_score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < 1 for s in scores)
    assert ranked[0]["text"] == docs[ranked[0]["index"]]
    top = es.inference.rerank(
        inference_id=RERANK, query="cats", input=docs, top_n=1, return_documents=False
    )
    assert len(top["rerank"]) == 1 and "text" not in top["rerank"][0]


def test_completion(es: Elasticsearch) -> None:
    es.inference.put(
        inference_id="llm",
        task_type="completion",
        inference_config={
            "service": "openai",
            "service_settings": {"api_key": "k", "model_id": "gpt-4o"},
        },
    )
    first = es.inference.completion(inference_id="llm", input="Tell me about Elastic")
    text = first["completion"][0]["result"]
    assert isinstance(text, str) and len(text.split()) > 3
    assert es.inference.completion(inference_id="llm", input="Tell me about Elastic") == first
    with pytest.raises(BadRequestError) as info:
        es.inference.completion(inference_id="llm", input=["a", "b"])
    assert info.value.body["error"]["reason"] == "OpenAI completions only accepts 1 input"


@pytest.mark.filterwarnings("ignore::elasticsearch.exceptions.GeneralAvailabilityWarning")
def test_embedding_task_multimodal(es: Elasticsearch) -> None:
    es.inference.put_jinaai(
        task_type="embedding",
        jinaai_inference_id="jina",
        service="jinaai",
        service_settings={"api_key": "k", "model_id": "jina-clip-v2", "dimensions": 32},
    )
    body: dict[str, Any] = {
        "input": [
            {"content": {"type": "text", "value": "a red car"}},
            {
                "content": {
                    "type": "image",
                    "format": "base64",
                    "value": "data:image/png;base64,iVBORw0KGgo=",
                }
            },
        ]
    }
    resp = es.inference.embedding(inference_id="jina", embedding=body)
    assert [len(e["embedding"]) for e in resp["embeddings"]] == [32, 32]
    assert resp["embeddings"][0]["embedding"] != resp["embeddings"][1]["embedding"]


def test_chat_completion_non_streaming(es: Elasticsearch) -> None:
    es.inference.put(
        inference_id="chat",
        task_type="chat_completion",
        inference_config={
            "service": "openai",
            "service_settings": {"api_key": "k", "model_id": "gpt-4o"},
        },
    )
    resp = es.perform_request(
        "POST",
        "/_inference/chat_completion/chat",
        body={"messages": [{"role": "user", "content": "hello world"}]},
        headers={"accept": "application/json", "content-type": "application/json"},
    )
    assert resp["object"] == "chat.completion"
    choice = resp["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = resp["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_update_merges_settings(es: Elasticsearch) -> None:
    es.inference.put(
        inference_id="co-rerank",
        task_type="rerank",
        inference_config={
            "service": "cohere",
            "service_settings": {"api_key": "k", "model_id": "rerank-v3.5"},
        },
    )
    updated = es.inference.update(
        inference_id="co-rerank",
        inference_config={"task_settings": {"top_n": 2, "return_documents": True}},
    )
    assert updated["task_settings"] == {"top_n": 2, "return_documents": True}
    resp = es.inference.rerank(inference_id="co-rerank", query="q", input=["a", "b", "c"])
    assert len(resp["rerank"]) == 2 and "text" in resp["rerank"][0]
    with pytest.raises(BadRequestError, match="status_exception") as info:
        es.inference.update(
            inference_id="co-rerank", task_type="completion", inference_config={"task_settings": {}}
        )
    assert (
        info.value.body["error"]["reason"]
        == "Task type must match the task type of the existing endpoint"
    )


def test_delete_reserved_needs_force_and_dry_run(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as info:
        es.inference.delete(inference_id=ELSER)
    assert "Use the force=true query parameter" in info.value.body["error"]["reason"]
    dry = es.inference.delete(inference_id=ELSER, dry_run=True)
    assert dry.body == {"acknowledged": False, "pipelines": [], "indexes": []}
    assert es.inference.delete(inference_id=ELSER, force=True)["acknowledged"] is True
    assert [e["inference_id"] for e in es.inference.get()["endpoints"]] == [E5, RERANK]


def test_region_policy_lifecycle(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError):
        es.inference.get_region_policy()
    put = es.inference.put_region_policy(region_policy={"allowed_geos": ["us", "eu"]})
    assert put["region_policy"] == {"allowed_geos": ["us", "eu"]}
    assert put["created_at"].endswith("Z")
    assert es.inference.get_region_policy()["region_policy"] == {"allowed_geos": ["us", "eu"]}
    assert es.inference.delete_region_policy()["acknowledged"] is True


def test_http_compress_round_trip(server: MockInferServer) -> None:
    with Elasticsearch(server.url, http_compress=True) as client:
        resp = client.inference.text_embedding(inference_id=E5, input=["compressed " * 50])
        assert len(resp["text_embedding"][0]["embedding"]) == 384
    call = server.calls[-1]
    assert call.body == {"input": ["compressed " * 50]}


def test_common_parameters(es: Elasticsearch) -> None:
    resp = es.inference.get(
        inference_id=E5, filter_path=["endpoints.inference_id"], pretty=True, human=True
    )
    assert resp.body == {"endpoints": [{"inference_id": E5}]}
    resp = es.inference.text_embedding(inference_id=E5, input="x", timeout="45s")
    assert "text_embedding" in resp


def test_journal_records_calls(es: Elasticsearch, server: MockInferServer) -> None:
    es.inference.text_embedding(inference_id=E5, input="journal me")
    with pytest.raises(NotFoundError):
        es.inference.text_embedding(inference_id="missing", input="x")
    calls = server.calls.filter(task_type="text_embedding")
    assert [(c.inference_id, c.status) for c in calls] == [(E5, 200), ("missing", 404)]
    assert calls[0].body == {"input": "journal me"}
