"""Bad input gets the error a real cluster gives, never a 500, and the server keeps serving."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from mockinfer import MockInferServer
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"
ELSER = ".elser-2-elasticsearch"


def _error(resp: Any) -> tuple[str, str]:
    return resp.body["error"]["type"], resp.body["error"]["reason"]


def test_unknown_inference_id(es: Elasticsearch) -> None:
    with pytest.raises(NotFoundError) as info:
        es.inference.text_embedding(inference_id="nope", input="x")
    assert str(info.value) == (
        "NotFoundError(404, 'resource_not_found_exception', 'Inference endpoint not found [nope]')"
    )
    assert info.value.body["status"] == 404
    assert (
        info.value.body["error"]["root_cause"][0]["reason"] == "Inference endpoint not found [nope]"
    )


def test_unknown_task_type(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as info:
        es.inference.inference(task_type="bad", inference_id=E5, input="x")  # type: ignore[arg-type]
    assert _error(info.value) == ("status_exception", "Unknown task_type [bad]")
    with pytest.raises(BadRequestError) as info:
        es.inference.put(
            inference_id="m", inference_config={"task_type": "bad", "service": "elser"}
        )
    assert _error(info.value) == ("status_exception", "Unknown task_type [bad]")


def test_task_mismatch(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as info:
        es.inference.text_embedding(inference_id=ELSER, input="x")
    assert info.value.body["error"]["reason"] == (
        "Incompatible task_type, the requested type [text_embedding] does not match the model type "
        "[sparse_embedding]"
    )
    with pytest.raises(BadRequestError) as info:
        es.inference.rerank(inference_id=E5, query="q", input=["a"])
    assert info.value.body["error"]["reason"] == (
        "Incompatible task_type for rerank API, the inference endpoint "
        "[.multilingual-e5-small-elasticsearch] has task type [text_embedding], expected [rerank]"
    )
    with pytest.raises(BadRequestError) as info:
        es.inference.get(task_type="text_embedding", inference_id=ELSER)
    assert info.value.body["error"]["reason"] == (
        "Requested task type [text_embedding] does not match the inference endpoint's task type "
        "[sparse_embedding]"
    )


def test_reserved_and_existing_ids(es: Elasticsearch) -> None:
    config = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ".elser_model_2", "num_threads": 1, "num_allocations": 1},
    }
    with pytest.raises(BadRequestError) as info:
        es.inference.put(inference_id=ELSER, task_type="sparse_embedding", inference_config=config)
    assert _error(info.value) == (
        "status_exception",
        "[.elser-2-elasticsearch] is a reserved inference ID. Cannot create a new inference endpoint "
        "with a reserved ID.",
    )
    es.inference.put(inference_id="mine", task_type="sparse_embedding", inference_config=config)
    with pytest.raises(BadRequestError) as info:
        es.inference.put(inference_id="mine", task_type="sparse_embedding", inference_config=config)
    assert _error(info.value) == (
        "resource_already_exists_exception",
        "Inference endpoint [mine] already exists",
    )


@pytest.mark.parametrize(
    ("config", "error_type", "reason"),
    [
        (
            {"service_settings": {}},
            "status_exception",
            "Inference endpoint configuration is missing the [service] setting",
        ),
        ({"service": "nope", "service_settings": {}}, "status_exception", "Unknown service [nope]"),
        (
            {"service": "openai", "service_settings": {"api_key": "k"}},
            "validation_exception",
            "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];",
        ),
        (
            {
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "m", "extra_key": "value"},
            },
            "status_exception",
            "Model configuration contains settings [{extra_key=value}] unknown to the [openai] service",
        ),
        (
            {"service": "elser", "service_settings": {"num_threads": 1, "num_allocations": 1}},
            "status_exception",
            "The [elser] service does not support task type [text_embedding]",
        ),
    ],
)
def test_put_validation(
    es: Elasticsearch, config: dict[str, Any], error_type: str, reason: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        es.inference.put(inference_id="x", task_type="text_embedding", inference_config=config)
    assert _error(info.value) == (error_type, reason)


def test_put_task_type_conflicts(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as info:
        es.inference.put(inference_id="x", inference_config={"service": "elser"})
    assert _error(info.value) == (
        "status_exception",
        "model is missing required setting [task_type]",
    )
    with pytest.raises(BadRequestError) as info:
        es.inference.put(
            inference_id="x",
            task_type="rerank",
            inference_config={"task_type": "completion", "service": "cohere"},
        )
    assert _error(info.value) == (
        "status_exception",
        "Cannot resolve conflicting task_type parameter in the request URL [rerank] and the request body [completion]",
    )


@pytest.mark.parametrize(
    ("path", "body", "error_type", "reason"),
    [
        (
            f"/_inference/{E5}",
            {},
            "action_request_validation_exception",
            "Validation Failed: 1: Field [input] cannot be null;",
        ),
        (
            f"/_inference/{E5}",
            {"input": []},
            "action_request_validation_exception",
            "Validation Failed: 1: Field [input] cannot be an empty array;",
        ),
        (
            "/_inference/rerank/.rerank-v1-elasticsearch",
            {"input": ["a"]},
            "action_request_validation_exception",
            "Validation Failed: 1: Field [query] cannot be null for task type [rerank];",
        ),
        (
            f"/_inference/{E5}",
            {"input": "x", "foo": 1},
            "x_content_parse_exception",
            "[1:16] [cluster:internal/xpack/inference] unknown field [foo]",
        ),
        (
            f"/_inference/{E5}",
            {"input": {"a": 1}},
            "x_content_parse_exception",
            "[1:11] [cluster:internal/xpack/inference] failed to parse field [input]",
        ),
        (
            f"/_inference/{ELSER}",
            {"input": "x", "input_type": "search"},
            "action_request_validation_exception",
            "Validation Failed: 1: Field [input_type] cannot be specified for task type [sparse_embedding];",
        ),
    ],
)
def test_inference_body_validation(
    server: MockInferServer, path: str, body: Any, error_type: str, reason: str
) -> None:
    resp = raw_request(server.url, "POST", path, json.dumps(body).encode(), JSON)
    assert resp.status == 400
    assert resp.json()["error"]["type"] == error_type
    assert resp.json()["error"]["reason"] == reason
    assert resp.json()["status"] == 400


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b'{"input": ', JSON, 400, "x_content_parse_exception"),
        (b'{"input": "\xff\xfe"}', JSON, 400, "x_content_parse_exception"),
        (b"[1, 2]", JSON, 400, "Expected START_OBJECT but was: START_ARRAY"),
        (b"", JSON, 400, "request body is required"),
        (
            b'{"input": "x"}',
            {"Content-Type": "text/plain"},
            406,
            "Content-Type header [text/plain] is not supported",
        ),
        (
            b'{"input": "x"}',
            {"Content-Type": "application/vnd.elasticsearch+json; compatible-with=7"},
            400,
            "media_type_header_exception",
        ),
        (
            b"not gzip at all",
            {**JSON, "Content-Encoding": "gzip"},
            400,
            "illegal_argument_exception",
        ),
    ],
)
def test_malformed_bodies(
    server: MockInferServer, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    resp = raw_request(server.url, "POST", f"/_inference/{E5}", body, headers)
    assert resp.status == status
    assert fragment in resp.body.decode()
    assert resp.json()["status"] == status
    assert resp.header("X-elastic-product") == "Elasticsearch"


def test_body_too_large_is_413(server: MockInferServer) -> None:
    limit = server.state.max_body_bytes
    server.state.max_body_bytes = 1024
    try:
        big = json.dumps({"input": "x" * 4096}).encode()
        resp = raw_request(server.url, "POST", f"/_inference/{E5}", big, JSON)
        assert resp.status == 413
        assert resp.json()["status"] == 413
        bomb = gzip.compress(json.dumps({"input": "y" * 100_000}).encode())
        resp = raw_request(
            server.url, "POST", f"/_inference/{E5}", bomb, {**JSON, "Content-Encoding": "gzip"}
        )
        assert resp.status == 413
    finally:
        server.state.max_body_bytes = limit
    ok = raw_request(server.url, "POST", f"/_inference/{E5}", b'{"input":"still serving"}', JSON)
    assert ok.status == 200


def test_routing_errors(server: MockInferServer) -> None:
    resp = raw_request(server.url, "GET", "/_nothing_here")
    assert resp.status == 400
    assert resp.json() == {
        "error": "no handler found for uri [/_nothing_here] and method [GET]",
        "status": 400,
    }
    resp = raw_request(server.url, "PATCH", f"/_inference/{E5}")
    assert resp.status == 405
    assert resp.json()["error"].startswith(
        f"Incorrect HTTP method for uri [/_inference/{E5}] and method [PATCH], allowed: ["
    )


def test_query_parameter_errors(server: MockInferServer) -> None:
    resp = raw_request(server.url, "GET", "/_inference?bogus=1")
    assert resp.status == 400
    assert (
        resp.json()["error"]["reason"]
        == "request [/_inference] contains unrecognized parameter: [bogus]"
    )
    resp = raw_request(server.url, "DELETE", f"/_inference/{ELSER}?force=yes")
    assert (
        resp.json()["error"]["reason"]
        == "Failed to parse value [yes] as only [true] or [false] are allowed."
    )
    resp = raw_request(server.url, "POST", f"/_inference/{E5}?timeout=ten", b'{"input":"x"}', JSON)
    assert resp.json()["error"] == {
        "root_cause": [
            {
                "type": "parse_exception",
                "reason": "failed to parse setting [timeout] with value [ten] as a time value: unit is missing or unrecognized",
            }
        ],
        "type": "parse_exception",
        "reason": "failed to parse setting [timeout] with value [ten] as a time value: unit is missing or unrecognized",
    }


def test_error_trace_adds_stack_trace(server: MockInferServer) -> None:
    resp = raw_request(server.url, "GET", "/_inference/missing?error_trace=true")
    assert resp.status == 404
    assert "stack_trace" in resp.json()["error"]


def test_chat_errors_are_openai_shaped(server: MockInferServer) -> None:
    resp = raw_request(
        server.url, "POST", "/_inference/chat_completion/missing", b'{"messages":[]}', JSON
    )
    assert resp.status == 404
    assert resp.json() == {
        "error": {
            "code": "not_found",
            "message": "Inference endpoint not found [missing]",
            "type": "resource_not_found_exception",
        }
    }


def test_server_keeps_serving_after_bad_input(server: MockInferServer, es: Elasticsearch) -> None:
    for body in (
        b"\x00\x01",
        b"{" * 5000 + b"}" * 5000,
        b'{"input": [{"a": 1}]}',
        b'{"input": [null]}',
    ):
        resp = raw_request(server.url, "POST", f"/_inference/{E5}", body, JSON)
        assert 400 <= resp.status < 500, (body[:20], resp.status, resp.body[:200])
    assert es.inference.text_embedding(inference_id=E5, input="alive")["text_embedding"]
    assert not server.state.failures
