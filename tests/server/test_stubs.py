"""Stubs answer exactly what a test asks for and win over generation."""

from __future__ import annotations

import json
import re
import time

import pytest
from elasticsearch import ApiError, Elasticsearch

from mockinfer import ConfigurationError, MockInferServer, StubToolCall
from mockinfer.wire.sse import decode_events
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"


def test_embedding_stub_answers_per_input(es: Elasticsearch, server: MockInferServer) -> None:
    generated = es.inference.text_embedding(inference_id=E5, input="other")["text_embedding"][0]
    server.stub(inference_id=E5, match="pinned", result=[0.5] * 384)
    resp = es.inference.text_embedding(inference_id=E5, input=["pinned", "other"])
    assert resp["text_embedding"][0]["embedding"] == [0.5] * 384
    assert resp["text_embedding"][1] == generated


def test_sparse_stub(es: Elasticsearch, server: MockInferServer) -> None:
    server.stub(task_type="sparse_embedding", match=re.compile("harbour"), result={"harbour": 2.5})
    resp = es.inference.sparse_embedding(
        inference_id=".elser-2-elasticsearch", input="the harbour at night"
    )
    assert resp["sparse_embedding"][0] == {"is_truncated": False, "embedding": {"harbour": 2.5}}


def test_body_and_error_stubs(es: Elasticsearch, server: MockInferServer) -> None:
    body = {"rerank": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]}
    server.stub(inference_id=".rerank-v1-elasticsearch", match="which?", body=body)
    resp = es.inference.rerank(
        inference_id=".rerank-v1-elasticsearch", query="which?", input=["a", "b"]
    )
    assert resp.body == body
    server.stub(inference_id=E5, error=(408, "timeout_exception", "Request timed out"), times=1)
    with pytest.raises(ApiError) as info:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert info.value.meta.status == 408
    assert info.value.body["error"]["reason"] == "Request timed out"
    assert es.inference.text_embedding(inference_id=E5, input="x")["text_embedding"]


def test_completion_text_stub_streams_and_not(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", text="Elastic is a search company")
    resp = es.inference.completion(inference_id="llm", input="what is elastic?")
    assert resp["completion"][0]["result"] == "Elastic is a search company"
    raw = raw_request(
        server.url, "POST", "/_inference/completion/llm/_stream", b'{"input":"x"}', JSON
    )
    deltas = [json.loads(e.data)["completion"][0]["delta"] for e in decode_events(raw.body)[:-1]]
    assert "".join(deltas) == "Elastic is a search company"


def test_scripted_stream_keeps_its_gaps(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", deltas=["Hel", "lo"], gaps=[0.0, 0.2, 0.1])
    start = time.monotonic()
    raw = raw_request(
        server.url, "POST", "/_inference/completion/llm/_stream", b'{"input":"x"}', JSON
    )
    assert time.monotonic() - start >= 0.3
    events = decode_events(raw.body)
    assert [json.loads(e.data)["completion"][0]["delta"] for e in events[:-1]] == ["Hel", "lo"]


def test_chat_tool_call_stub(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "chat", "chat_completion")
    server.stub(
        inference_id="chat",
        match=lambda text: "weather" in text,
        tool_calls=[StubToolCall(name="get_weather", arguments={"city": "Paris"}, id="call_1")],
    )
    body = json.dumps({"messages": [{"role": "user", "content": "weather in Paris?"}]}).encode()
    resp = raw_request(server.url, "POST", "/_inference/chat_completion/chat", body, JSON).json()
    call = resp["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == "call_1" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert resp["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_scripted_deltas(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "chat", "chat_completion")
    server.stub(inference_id="chat", deltas=["Bon", "jour"])
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    raw = raw_request(server.url, "POST", "/_inference/chat_completion/chat/_stream", body, JSON)
    chunks = [json.loads(e.data) for e in decode_events(raw.body)[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"content": "Bon", "role": "assistant"}
    assert chunks[1]["choices"][0]["delta"] == {"content": "jour"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_unmatched_requests_fall_through(es: Elasticsearch, server: MockInferServer) -> None:
    server.stub(inference_id=E5, match="only this", result=[0.0] * 384)
    resp = es.inference.text_embedding(inference_id=E5, input="something else")
    assert any(resp["text_embedding"][0]["embedding"])


def test_a_stub_needs_one_reply(server: MockInferServer) -> None:
    with pytest.raises(ValueError, match="exactly one reply"):
        server.stub(inference_id=E5)
    with pytest.raises(ValueError, match="exactly one reply"):
        server.stub(text="a", body={})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"error": (429, "x")}, "stub error must be (status 400-599, error type, reason)"),
        ({"error": (200, "t", "r")}, "stub error must be"),
        ({"result": []}, "stub result must be a vector"),
        ({"result": ["a"]}, "stub result must be a vector"),
        ({"result": {"w": "heavy"}}, "stub result must be a vector"),
        ({"text": 5}, "stub text must be a string"),
        ({"deltas": "abc"}, "stub deltas must be a list of strings"),
        ({"deltas": ["a"], "gaps": [0.1, 0.1, 0.1]}, "stub gaps: at most one per event"),
        ({"deltas": ["a"], "gaps": [-1]}, "stub gaps must be seconds >= 0"),
        ({"text": "a", "gaps": [1]}, "stub gaps go with deltas or chunks"),
        ({"text": "a", "times": 0}, "stub times must be an integer >= 1"),
        ({"text": "a", "task_type": "rerank"}, "a stub text cannot answer task_type 'rerank'"),
        ({"text": "a", "task_type": "chat"}, "stub task_type must be one of"),
        ({"result": [1.0], "headers": {"A": "b"}}, "stub headers go with body or error"),
        ({"body": {"a": object()}}, "stub body must be JSON-serializable"),
        ({"text": "a", "match": 5}, "stub match must be a string, a compiled regex or a predicate"),
        ({"text": "a", "status": 500}, "stub status goes with body"),
    ],
)
def test_stub_arguments_are_checked_when_the_stub_is_made(
    server: MockInferServer, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        server.stub(**fields)
    assert len(server.stubs) == 0


def test_an_error_stub_can_carry_headers(es: Elasticsearch, server: MockInferServer) -> None:
    server.stub(
        inference_id=E5,
        error=(429, "status_exception", "slow down"),
        headers={"Retry-After": "4"},
        times=1,
    )
    with pytest.raises(ApiError) as info:
        es.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    assert info.value.meta.headers["retry-after"] == "4"
    assert [c.source for c in server.calls] == ["stub"]


def test_embedding_stubs_answer_only_their_kind_of_vector(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.stub(match="pinned", result=[0.1, 0.2])
    server.stub(match="pinned", result={"pinned": 3.0})
    dense = es.inference.text_embedding(inference_id=E5, input="pinned")
    sparse = es.inference.sparse_embedding(inference_id=".elser-2-elasticsearch", input="pinned")
    assert dense["text_embedding"][0]["embedding"] == [0.1, 0.2]
    assert sparse["sparse_embedding"][0]["embedding"] == {"pinned": 3.0}
    with pytest.raises(ConfigurationError, match="a stub result cannot answer task_type"):
        server.stub(task_type="sparse_embedding", result=[1.0])
