"""`any` as the task type segment, and updates of default endpoints, as Elasticsearch answers."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from mockinfer import MockInferServer
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"


def test_any_reads_deletes_and_infers(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "llm", "completion")
    got = raw_request(server.url, "GET", "/_inference/any/llm").json()
    assert [e["inference_id"] for e in got["endpoints"]] == ["llm"]
    every = raw_request(server.url, "GET", "/_inference/any/_all").json()["endpoints"]
    assert len(every) == 4
    answered = raw_request(server.url, "POST", f"/_inference/any/{E5}", b'{"input":"x"}', JSON)
    assert answered.status == 200 and len(answered.json()["text_embedding"][0]["embedding"]) == 384
    deleted = raw_request(server.url, "DELETE", "/_inference/any/llm")
    assert deleted.json()["acknowledged"] is True
    assert not server.backend.has("llm")


def test_any_in_a_put_url_takes_the_body_task_type(es: Elasticsearch) -> None:
    created = es.perform_request(
        "PUT",
        "/_inference/any/my-llm",
        body={
            "task_type": "completion",
            "service": "openai",
            "service_settings": {"api_key": "k", "model_id": "gpt-4o"},
        },
        headers={"Content-Type": "application/json"},
    )
    assert created["task_type"] == "completion"
    with pytest.raises(BadRequestError) as missing:
        es.perform_request(
            "PUT",
            "/_inference/any/other",
            body={"service": "openai", "service_settings": {"api_key": "k", "model_id": "m"}},
            headers={"Content-Type": "application/json"},
        )
    assert missing.value.body["error"]["reason"] == "model is missing required setting [task_type]"


@pytest.mark.parametrize("inference_id", [E5, ".elser-2-elasticsearch"])
def test_a_default_endpoint_cannot_be_updated(
    es: Elasticsearch, server: MockInferServer, inference_id: str
) -> None:
    before = es.inference.get(inference_id=inference_id)["endpoints"]
    with pytest.raises(BadRequestError) as info:
        es.inference.update(
            inference_id=inference_id, inference_config={"service_settings": {"num_threads": 2}}
        )
    assert info.value.body["error"] == {
        "root_cause": [
            {
                "type": "status_exception",
                "reason": f"Default endpoint [{inference_id}] cannot be updated",
            }
        ],
        "type": "status_exception",
        "reason": f"Default endpoint [{inference_id}] cannot be updated",
    }
    assert es.inference.get(inference_id=inference_id)["endpoints"] == before


def test_faults_see_the_task_behind_any(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "llm", "completion")
    fault = server.fault(task_type="completion", status=503)
    resp = raw_request(server.url, "POST", "/_inference/any/llm", b'{"input":"x"}', JSON)
    assert resp.status == 503 and fault.hits == 1
