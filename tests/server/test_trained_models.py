"""The trained-model API through the official client: `_infer` per task, errors, configs, stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
)

from mockinfer import ConfigurationError, MockInferServer
from mockinfer.cassette.format import read
from mockinfer.settings import MODEL_TASKS as MODEL_TASK_NAMES
from mockinfer.wire.models import MODEL_TASKS
from tests.server.http import JSON, raw_request

E5, ELSER, RERANK = ".multilingual-e5-small", ".elser_model_2", ".rerank-v1"


def docs(*texts: str) -> list[dict[str, str]]:
    return [{"text_field": t} for t in texts]


def reason(error: ApiError) -> str:
    return str(error.body["error"]["reason"])


def test_task_names_agree() -> None:
    assert tuple(MODEL_TASKS) == MODEL_TASK_NAMES


@pytest.mark.parametrize("model_id", [E5, f"{E5}_linux-x86_64"])
def test_text_embedding_matches_the_inference_endpoint(es: Elasticsearch, model_id: str) -> None:
    resp = es.ml.infer_trained_model(model_id=model_id, docs=docs("a cat", "a dog"))
    vectors = [r["predicted_value"] for r in resp["inference_results"]]
    endpoint = es.inference.text_embedding(
        inference_id=".multilingual-e5-small-elasticsearch", input=["a cat", "a dog"]
    )
    assert vectors == [e["embedding"] for e in endpoint["text_embedding"]]
    assert len(vectors[0]) == 384


def test_text_expansion_matches_elser(es: Elasticsearch) -> None:
    resp = es.ml.infer_trained_model(model_id=ELSER, docs=docs("the harbour lights"))
    (result,) = resp["inference_results"]
    sparse = es.inference.sparse_embedding(
        inference_id=".elser-2-elasticsearch", input="the harbour lights"
    )
    assert result == {"predicted_value": sparse["sparse_embedding"][0]["embedding"]}


def test_text_similarity_scores_each_doc_in_order(es: Elasticsearch) -> None:
    texts = ["stock markets fell", "cats purr when happy"]
    resp = es.ml.infer_trained_model(
        model_id=RERANK,
        docs=docs(*texts),
        inference_config={"text_similarity": {"text": "why do cats purr"}},
    )
    scores = [r["predicted_value"] for r in resp["inference_results"]]
    ranked = es.inference.rerank(
        inference_id=".rerank-v1-elasticsearch", query="why do cats purr", input=texts
    )["rerank"]
    assert scores == [next(r["relevance_score"] for r in ranked if r["index"] == i) for i in (0, 1)]
    assert scores[1] > scores[0]


@pytest.mark.asyncio
async def test_the_async_client(aes: AsyncElasticsearch) -> None:
    resp = await aes.ml.infer_trained_model(model_id=E5, docs=docs("async text"))
    assert len(resp["inference_results"][0]["predicted_value"]) == 384
    stats = await aes.ml.get_trained_models_stats(model_id=E5)
    assert stats["trained_model_stats"][0]["deployment_stats"]["state"] == "started"


def test_an_elasticsearch_endpoint_brings_its_model(es: Elasticsearch) -> None:
    es.inference.put(
        inference_id="my-embedder",
        task_type="text_embedding",
        inference_config={
            "service": "elasticsearch",
            "service_settings": {
                "model_id": "my-model",
                "num_threads": 1,
                "num_allocations": 1,
                "dimensions": 64,
            },
        },
    )
    model = es.ml.infer_trained_model(model_id="my-model", docs=docs("shared text"))
    endpoint = es.inference.text_embedding(inference_id="my-embedder", input="shared text")
    vector = model["inference_results"][0]["predicted_value"]
    assert len(vector) == 64 and vector == endpoint["text_embedding"][0]["embedding"]
    (config,) = es.ml.get_trained_models(model_id="my-model")["trained_model_configs"]
    assert config["inference_config"]["text_embedding"]["embedding_size"] == 64


@pytest.mark.parametrize(
    ("model_id", "body", "status", "expected"),
    [
        ("nope", {"docs": docs("x")}, 404, "Could not find trained model [nope]"),
        (
            E5,
            {"docs": [{"text": "x"}]},
            400,
            "Input field [text_field] does not exist in the source document",
        ),
        (
            E5,
            {"docs": [{"text_field": 5}]},
            400,
            "Input value [5] for field [text_field] must be a string",
        ),
        (E5, {}, 400, "[docs] must not be null."),
        (E5, {"docs": []}, 400, "Validation Failed: 1: at least one document is required ;"),
        (
            E5,
            {"docs": docs("x"), "top": 1},
            400,
            "[1:33] [cluster:internal/xpack/ml/inference/infer] unknown field [top]",
        ),
        (
            E5,
            {"docs": docs("x"), "inference_config": {"text_similarity": {"text": "q"}}},
            400,
            "Inference config of type [text_embedding] can not be updated with a inference request of type [text_similarity]",
        ),
        (
            RERANK,
            {"docs": docs("x")},
            400,
            "please provide configuration update for text_similarity task including the desired [text]",
        ),
    ],
)
def test_errors_are_worded_as_elasticsearch_words_them(
    server: MockInferServer, model_id: str, body: dict[str, Any], status: int, expected: str
) -> None:
    resp = raw_request(
        server.url,
        "POST",
        f"/_ml/trained_models/{model_id}/_infer",
        json.dumps(body).encode(),
        JSON,
    )
    assert (resp.status, resp.json()["error"]["reason"]) == (status, expected)
    assert resp.json()["status"] == status


def test_a_model_that_is_not_deployed_is_a_conflict(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.declare_model("cold-model", "text_embedding", deployed=False)
    with pytest.raises(ConflictError) as info:
        es.ml.infer_trained_model(model_id="cold-model", docs=docs("x"))
    assert reason(info.value) == (
        "Model [cold-model] must be deployed to use. Please deploy with the start trained "
        "model deployment API."
    )
    stats = es.ml.get_trained_models_stats(model_id="cold-model")["trained_model_stats"][0]
    assert "deployment_stats" not in stats
    with pytest.raises(ConfigurationError, match="task must be one of"):
        server.declare_model("bad", "embedding")


def test_a_request_without_a_body(server: MockInferServer) -> None:
    resp = raw_request(server.url, "POST", f"/_ml/trained_models/{E5}/_infer")
    assert (resp.status, resp.json()["error"]["reason"]) == (400, "requires body")


def test_model_configs_and_stats(es: Elasticsearch, server: MockInferServer) -> None:
    every = es.ml.get_trained_models()
    ids = [c["model_id"] for c in every["trained_model_configs"]]
    assert {E5, f"{E5}_linux-x86_64", ELSER, f"{ELSER}_linux-x86_64", RERANK} <= set(ids)
    assert every["count"] == len(ids)
    (elser,) = es.ml.get_trained_models(model_id=ELSER, include="definition_status")[
        "trained_model_configs"
    ]
    assert elser["input"] == {"field_names": ["text_field"]}
    assert "text_expansion" in elser["inference_config"] and elser["fully_defined"] is True
    wildcard = es.ml.get_trained_models(model_id=".multilingual*")["trained_model_configs"]
    assert [c["model_id"] for c in wildcard] == [E5, f"{E5}_linux-x86_64"]
    assert wildcard[1]["platform_architecture"] == "linux-x86_64"
    assert es.ml.get_trained_models(model_id="none*")["count"] == 0
    with pytest.raises(NotFoundError) as missing:
        es.ml.get_trained_models(model_id=f"{E5},nope,gone")
    assert reason(missing.value) == "No known trained model with model_id [nope,gone]"
    stats = es.ml.get_trained_models_stats(model_id=RERANK)["trained_model_stats"][0]
    assert stats["deployment_stats"]["allocation_status"]["state"] == "fully_allocated"


def test_faults_reach_the_trained_model_api(es: Elasticsearch, server: MockInferServer) -> None:
    server.fault(inference_id=E5, status=409, times=1)
    with pytest.raises(ConflictError):
        es.ml.infer_trained_model(model_id=E5, docs=docs("x"))
    assert es.ml.infer_trained_model(model_id=E5, docs=docs("x"))["inference_results"]
    assert [(c.inference_id, c.task_type, c.status) for c in server.calls] == [
        (E5, "text_embedding", 409),
        (E5, "text_embedding", 200),
    ]


def test_record_and_replay_the_trained_model_api(server: MockInferServer, tmp_path: Path) -> None:
    cassette = tmp_path / "ml.yaml"
    with (
        MockInferServer(seed=9) as upstream,
        server.use_cassette(cassette, record_mode="all", upstream=upstream.url),
        Elasticsearch(server.url, api_key="c2VjcmV0OmtleQ==") as es,
    ):
        recorded = es.ml.infer_trained_model(model_id=E5, docs=docs("recorded"))
    (interaction,) = read(cassette).interactions
    assert "c2VjcmV0OmtleQ" not in cassette.read_text()
    assert interaction.request.uri.endswith(f"/_ml/trained_models/{E5}/_infer")
    with server.use_cassette(cassette), Elasticsearch(server.url) as offline:
        replayed = offline.ml.infer_trained_model(model_id=E5, docs=docs("recorded"))
    assert replayed.body == recorded.body
    assert server.calls[-1].source == "cassette"
    assert {(c.inference_id, c.task_type) for c in server.calls} == {(E5, "text_embedding")}
    with pytest.raises(BadRequestError):
        Elasticsearch(server.url).ml.infer_trained_model(model_id=E5, docs=[{"x": "y"}])


@pytest.mark.parametrize(
    ("model_id", "body", "status", "expected"),
    [
        ("nope", None, 400, "requires body"),
        (
            "nope",
            {"bogus": 1},
            400,
            "[1:2] [cluster:internal/xpack/ml/inference/infer] unknown field [bogus]",
        ),
        (
            "cold-model",
            {"docs": []},
            400,
            "Validation Failed: 1: at least one document is required ;",
        ),
        (
            "cold-model",
            {"docs": docs("x")},
            409,
            "Model [cold-model] must be deployed to use. Please deploy with the start trained model deployment API.",
        ),
    ],
)
def test_the_body_is_checked_before_the_model_is_looked_up(
    server: MockInferServer, model_id: str, body: Any, status: int, expected: str
) -> None:
    server.declare_model("cold-model", "text_embedding", deployed=False)
    raw = json.dumps(body).encode() if body is not None else None
    resp = raw_request(server.url, "POST", f"/_ml/trained_models/{model_id}/_infer", raw, JSON)
    assert (resp.status, resp.json()["error"]["reason"]) == (status, expected)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"text_embedding": 5}, "failed to parse field [inference_config]"),
        ({}, "failed to parse field [inference_config]"),
        ({"text_embedding": {"bogus": 1}}, "[text_embedding] unknown field [bogus]"),
    ],
)
def test_a_malformed_inference_config_is_a_parse_error(
    server: MockInferServer, config: Any, expected: str
) -> None:
    body = json.dumps({"docs": docs("x"), "inference_config": config}).encode()
    resp = raw_request(server.url, "POST", f"/_ml/trained_models/{E5}/_infer", body, JSON)
    error = resp.json()["error"]
    assert (resp.status, error["type"]) == (400, "x_content_parse_exception")
    assert expected in error["reason"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(["a", 1], "[a, 1]"), ({"a": 1.5}, "{a=1.5}"), (True, "true"), (None, "null")],
)
def test_a_value_that_is_not_text_is_shown_as_java_shows_it(
    server: MockInferServer, value: Any, shown: str
) -> None:
    body = json.dumps({"docs": [{"text_field": value}]}).encode()
    resp = raw_request(server.url, "POST", f"/_ml/trained_models/{E5}/_infer", body, JSON)
    assert resp.json()["error"]["reason"] == (
        f"Input value [{shown}] for field [text_field] must be a string"
    )


def test_more_docs_than_the_queue_holds_is_a_429(es: Elasticsearch) -> None:
    with pytest.raises(ApiError) as info:
        es.options(max_retries=0).ml.infer_trained_model(
            model_id=E5, docs=docs(*(str(i) for i in range(1025)))
        )
    assert info.value.meta.status == 429
    assert info.value.body["error"]["type"] == "es_rejected_execution_exception"
    assert reason(info.value) == "inference process queue is full. Unable to execute command"


def test_ids_expand_only_stars_and_pages_follow_from_and_size(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError):
        es.ml.get_trained_models(model_id="[.]rerank-v1")
    trailing = es.perform_request("GET", f"/_ml/trained_models/{RERANK},")
    assert [c["model_id"] for c in trailing["trained_model_configs"]] == [RERANK]
    page = es.ml.get_trained_models(model_id="*", from_=1, size=2)["trained_model_configs"]
    every = es.ml.get_trained_models(model_id="*")["trained_model_configs"]
    assert page == every[1:3]
    with pytest.raises(BadRequestError):
        es.perform_request("GET", "/_ml/trained_models?size=abc")


def test_faults_match_the_texts_of_docs(es: Elasticsearch, server: MockInferServer) -> None:
    fault = server.fault(input="poison", status=500)
    assert es.ml.infer_trained_model(model_id=E5, docs=docs("fine"))["inference_results"]
    with pytest.raises(ApiError):
        es.ml.infer_trained_model(model_id=E5, docs=docs("fine", "the poison pill"))
    assert fault.hits == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"deployed": "false"}, "deployed must be true or false"),
        ({"input_field": 5}, "input_field must be a field name"),
        ({"dimensions": True}, "dimensions must be an integer"),
        ({"model_id": "a,b"}, "model_id must be lowercase letters"),
        ({"model_id": "_all"}, "model_id must be lowercase letters"),
    ],
)
def test_declared_models_are_checked(
    server: MockInferServer, fields: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"model_id": "m", "task": "text_embedding", **fields}
    with pytest.raises(ConfigurationError, match=message):
        server.declare_model(**arguments)
