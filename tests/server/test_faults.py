"""Faults as applications meet them: through the official clients and raw SSE readers."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import time
from urllib.parse import urlsplit

import aiohttp
import pytest
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    AuthenticationException,
    ConnectionTimeout,
    Elasticsearch,
)

from mockinfer import ConfigurationError, MockInferServer
from mockinfer.wire.sse import decode_events
from tests.cassettes.standin import timed_request
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"
E5_PATH = f"/_inference/text_embedding/{E5}"
CHAT = {"messages": [{"role": "user", "content": "Say hello"}], "model": "gpt-4o"}


@pytest.fixture
def llm(es: Elasticsearch, server: MockInferServer) -> str:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", deltas=["one", " two", " three", " four"])
    server.calls.clear()
    return "llm"


@pytest.fixture
def chat(es: Elasticsearch) -> str:
    put_openai(es, "chat", "chat_completion")
    return "chat"


def rate_limit_reason(inference_id: str) -> str:
    return (
        f"Received a rate limit status code for request from inference entity id "
        f"[{inference_id}] status [429]. Error message: [Rate limit reached for requests]"
    )


def openai_rate_limit(inference_id: str) -> dict[str, object]:
    """The OpenAI-style body chat routes answer a rate limit with."""
    return {
        "error": {
            "code": "too_many_requests",
            "message": rate_limit_reason(inference_id),
            "type": "status_exception",
        }
    }


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_the_sync_client_retries_until_the_fault_is_used_up(
    es: Elasticsearch, server: MockInferServer, status: int
) -> None:
    fault = server.fault(inference_id=E5, status=status, times=2)
    resp = es.inference.text_embedding(inference_id=E5, input="retry me")
    assert len(resp["text_embedding"][0]["embedding"]) == 384
    calls = server.calls.filter(path=E5_PATH)
    assert [c.status for c in calls] == [status, status, 200]
    assert [c.source for c in calls] == ["fault", "fault", "synthesis"]
    assert [c.fault for c in calls] == [fault.id, fault.id, None]
    assert fault.hits == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 503])
async def test_the_async_client_retries_until_the_fault_is_used_up(
    aes: AsyncElasticsearch, server: MockInferServer, status: int
) -> None:
    server.fault(inference_id=E5, status=status, times=2)
    resp = await aes.inference.text_embedding(inference_id=E5, input="retry me")
    assert len(resp["text_embedding"][0]["embedding"]) == 384
    assert [c.status for c in server.calls.filter(path=E5_PATH)] == [status, status, 200]


def test_without_retries_the_error_carries_the_es_body_and_retry_after(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, status=429, retry_after=7)
    with pytest.raises(ApiError) as info:
        es.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    assert info.value.meta.status == 429
    assert info.value.meta.headers["retry-after"] == "7"
    reason = rate_limit_reason(E5)
    assert info.value.body == {
        "error": {
            "root_cause": [{"type": "status_exception", "reason": reason}],
            "type": "status_exception",
            "reason": reason,
        },
        "status": 429,
    }
    assert len(server.calls) == 1


@pytest.mark.asyncio
async def test_async_client_sees_the_same_error(
    aes: AsyncElasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, retry_after=2)
    with pytest.raises(ApiError) as info:
        await aes.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    assert info.value.meta.status == 429
    assert info.value.meta.headers["retry-after"] == "2"
    assert info.value.body["error"]["reason"] == rate_limit_reason(E5)


def test_provider_failures_are_worded_as_elasticsearch_words_them(
    es: Elasticsearch, server: MockInferServer
) -> None:
    prefix = f"for request from inference entity id [{E5}] status"
    server.fault(status=401, times=1)
    with pytest.raises(AuthenticationException) as auth:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert auth.value.body["error"]["reason"] == (
        f"Received an authentication error status code {prefix} [401]"
    )
    server.fault(status=500, times=1)
    with pytest.raises(ApiError) as server_error:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert server_error.value.meta.status == 500
    assert server_error.value.body["error"]["reason"] == (
        f"Received a server error status code {prefix} [500]"
    )
    server.fault(status=408, times=1)
    with pytest.raises(ApiError) as timeout:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert timeout.value.body["error"]["type"] == "timeout_exception"
    assert timeout.value.body["error"]["reason"] == (
        f"Request timed out after [30s] for inference id [{E5}]"
    )
    # 401, 500 and 408 are not retried: one request each.
    assert [c.status for c in server.calls] == [401, 500, 408]


def test_error_type_and_reason_override_the_body(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.fault(status=400, error_type="validation_exception", reason="bad model")
    with pytest.raises(ApiError) as info:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert info.value.body["error"]["root_cause"] == [
        {"type": "validation_exception", "reason": "bad model"}
    ]


def test_chat_routes_answer_the_openai_style_body(server: MockInferServer, chat: str) -> None:
    server.fault(inference_id=chat, status=429)
    resp = raw_request(
        server.url, "POST", f"/_inference/chat_completion/{chat}", json.dumps(CHAT).encode(), JSON
    )
    assert resp.status == 429
    assert resp.json() == openai_rate_limit(chat)


def test_a_delay_holds_the_response_head(es: Elasticsearch, server: MockInferServer) -> None:
    server.fault(inference_id=E5, delay=0.3)
    started = time.monotonic()
    es.inference.text_embedding(inference_id=E5, input="slow")
    assert time.monotonic() - started >= 0.3


def stream(server: MockInferServer, path: str, body: object) -> tuple[int, list[str], bytes]:
    """Read a stream to its end with http.client: status, event types, raw bytes."""
    resp = raw_request(server.url, "POST", path, json.dumps(body).encode(), JSON)
    return resp.status, [e.event for e in decode_events(resp.body)], resp.body


def test_error_after_sends_n_events_then_one_error_event(server: MockInferServer, llm: str) -> None:
    server.fault(inference_id=llm, error_after=2)
    status, kinds, body = stream(server, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    assert status == 200
    assert kinds == ["message", "message", "error"]
    error = json.loads(decode_events(body)[-1].data)
    assert error == {
        "error": {
            "root_cause": [{"type": "status_exception", "reason": error["error"]["reason"]}],
            "type": "status_exception",
            "reason": (
                f"Received an error response for request from inference entity id [{llm}]. "
                "Error message: [The server had an error while processing your request]"
            ),
        },
        "status": 500,
    }
    assert b"[DONE]" not in body
    (call,) = server.calls
    assert (call.complete, call.ending, call.source) == (True, "error", "stub")


def test_error_after_on_a_chat_stream_uses_the_openai_style_event(
    server: MockInferServer, chat: str
) -> None:
    server.fault(inference_id=chat, error_after=1, status=429)
    status, kinds, body = stream(server, f"/_inference/chat_completion/{chat}/_stream", CHAT)
    assert (status, kinds) == (200, ["message", "error"])
    assert json.loads(decode_events(body)[-1].data) == openai_rate_limit(chat)


def test_truncate_after_closes_cleanly_without_done(server: MockInferServer, llm: str) -> None:
    server.fault(inference_id=llm, truncate_after=3)
    status, kinds, body = stream(server, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    assert (status, kinds) == (200, ["message"] * 3)
    assert b"[DONE]" not in body
    assert server.calls[0].ending == "truncated"


def test_a_status_fault_on_a_stream_is_one_error_event(server: MockInferServer, llm: str) -> None:
    server.fault(inference_id=llm, status=429, retry_after=2)
    resp = raw_request(
        server.url, "POST", f"/_inference/completion/{llm}/_stream", b'{"input":"x"}', JSON
    )
    assert resp.status == 429 and resp.header("Retry-After") == "2"
    assert resp.header("Content-Type") == "text/event-stream"
    (event,) = decode_events(resp.body)
    assert event.event == "error"
    assert json.loads(event.data)["error"]["reason"] == rate_limit_reason(llm)


@pytest.mark.asyncio
async def test_disconnect_after_resets_the_connection_mid_stream(
    server: MockInferServer, llm: str
) -> None:
    server.fault(inference_id=llm, disconnect_after=2)
    received: list[bytes] = []
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.url + f"/_inference/completion/{llm}/_stream",
            data=b'{"input":"x"}',
            headers=JSON,
        ) as resp,
    ):
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            while raw := await resp.content.readuntil(b"\n\n"):
                received.append(raw)
    assert len(received) == 2
    (call,) = server.calls.wait_for(1)
    assert call.ending == "disconnected"


def test_disconnect_resets_before_any_response(es: Elasticsearch, server: MockInferServer) -> None:
    server.fault(inference_id=E5, disconnect=True)
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", E5_PATH, body=b'{"input":"x"}', headers=JSON)
        with pytest.raises(ConnectionResetError):
            conn.getresponse()
    finally:
        conn.close()
    (call,) = server.calls
    assert (call.status, call.source, call.ending) == (None, "fault", "disconnected")


@pytest.mark.asyncio
async def test_event_delay_slows_the_drip(server: MockInferServer, llm: str) -> None:
    server.fault(inference_id=llm, event_delay=0.1)
    resp = await timed_request(server.url, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    gaps = [b - a for a, b in zip(resp.arrivals, resp.arrivals[1:], strict=False)]
    assert len(resp.arrivals) == 5 and resp.body.endswith(b"data: [DONE]\n\n")
    assert all(gap >= 0.09 for gap in gaps)


def test_stream_faults_leave_unstreamed_requests_alone(
    es: Elasticsearch, server: MockInferServer, llm: str
) -> None:
    fault = server.fault(inference_id=llm, error_after=1)
    assert es.inference.completion(inference_id=llm, input="x")["completion"][0]["result"]
    assert fault.hits == 0


def test_rules_select_requests(es: Elasticsearch, server: MockInferServer) -> None:
    by_input = server.fault(input="poison", status=500)
    by_header = server.fault(header={"X-Tenant": "blue-*"}, status=500)
    by_path = server.fault(method="post", path="/_inference/rerank/*", status=500)
    by_task = server.fault(task_type="sparse_embedding", status=500)
    assert es.inference.text_embedding(inference_id=E5, input=["fine", "also fine"])
    with pytest.raises(ApiError):
        es.inference.text_embedding(inference_id=E5, input=["fine", "the poison pill"])
    with pytest.raises(ApiError):
        es.options(headers={"X-Tenant": "blue-7"}).inference.text_embedding(
            inference_id=E5, input="x"
        )
    assert es.options(headers={"X-Tenant": "red-1"}).inference.text_embedding(
        inference_id=E5, input="x"
    )
    with pytest.raises(ApiError):
        es.inference.rerank(inference_id=".rerank-v1-elasticsearch", query="q", input=["a"])
    with pytest.raises(ApiError):
        es.inference.inference(inference_id=".elser-2-elasticsearch", input="x")
    assert [f.hits for f in (by_input, by_header, by_path, by_task)] == [1, 1, 1, 1]


def test_after_lets_the_first_requests_through(es: Elasticsearch, server: MockInferServer) -> None:
    server.fault(inference_id=E5, after=2, times=1, status=500)
    es.inference.text_embedding(inference_id=E5, input="1")
    es.inference.text_embedding(inference_id=E5, input="2")
    with pytest.raises(ApiError):
        es.inference.text_embedding(inference_id=E5, input="3")
    es.inference.text_embedding(inference_id=E5, input="4")
    assert [c.status for c in server.calls] == [200, 200, 500, 200]


def _pattern(server: MockInferServer, seed: int) -> list[int]:
    server.reset()
    server.seed = seed
    server.fault(inference_id=E5, probability=0.5, status=500)
    with Elasticsearch(server.url, max_retries=0) as es:
        for i in range(24):
            with contextlib.suppress(ApiError):
                es.inference.text_embedding(inference_id=E5, input=str(i))
    return [c.status or 0 for c in server.calls]


def test_probability_is_drawn_from_the_server_seed(server: MockInferServer) -> None:
    first, again, other = _pattern(server, 1), _pattern(server, 1), _pattern(server, 2)
    assert first == again
    assert first != other
    assert 3 <= first.count(500) <= 21


def test_a_fault_wins_over_a_stub_and_handles_stop_it(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.stub(inference_id=E5, error=(404, "resource_not_found_exception", "stubbed"))
    fault = server.fault(inference_id=E5, status=503)
    with pytest.raises(ApiError) as info:
        es.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    assert info.value.meta.status == 503
    fault.remove()
    with pytest.raises(ApiError) as stubbed:
        es.inference.text_embedding(inference_id=E5, input="x")
    assert stubbed.value.meta.status == 404


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"status": 200}, "status must be an HTTP error status (400-599)"),
        ({"inference_id": E5}, "a fault needs something to do"),
        ({"status": 500, "disconnect": True}, "status goes with error_after"),
        ({"error_after": 1, "truncate_after": 2}, "a fault ends a stream one way only"),
        ({"reason": "x", "delay": 1}, "error_type and reason go with status or error_after"),
        ({"probability": 1.5, "status": 500}, "probability must be between 0 and 1"),
        ({"times": 0, "status": 500}, "times must be an integer >= 1"),
        ({"stream": False, "event_delay": 1}, "stream actions"),
        ({"retry_after": 1.5}, "retry_after must be whole seconds >= 0"),
        ({"retry_after": 1, "truncate_after": 1}, "retry_after goes with an error status"),
        ({"retry_after": 1, "disconnect": True}, "retry_after goes with an error status"),
        ({"task_type": "chat", "status": 500}, "task_type must be one of"),
        ({"statuss": 500}, "unknown field(s) statuss"),
    ],
)
def test_invalid_rules_are_refused_when_made(
    server: MockInferServer, rule: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        server.fault(**rule)
    assert len(server.faults) == 0


@pytest.mark.asyncio
async def test_faults_apply_to_concurrent_streams_independently(
    server: MockInferServer, llm: str
) -> None:
    server.fault(inference_id=llm, error_after=1, times=3)
    path = f"/_inference/completion/{llm}/_stream"
    responses = await asyncio.gather(
        *(timed_request(server.url, path, {"input": "x"}) for _ in range(6))
    )
    endings = sorted(b"event: error" in r.body for r in responses)
    assert endings == [False, False, False, True, True, True]


def test_after_counts_requests_that_other_faults_answered(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, after=1, status=500)
    server.fault(inference_id=E5, status=503, times=1)
    for text in ("a", "b", "c"):
        with pytest.raises(ApiError):
            es.options(max_retries=0).inference.text_embedding(inference_id=E5, input=text)
    assert [c.status for c in server.calls] == [503, 500, 500]


@pytest.mark.parametrize("rule", [{"truncate_after": 50}, {"error_after": 5}])
def test_a_stream_shorter_than_the_cut_ends_as_usual(
    server: MockInferServer, llm: str, rule: dict[str, int]
) -> None:
    server.fault(inference_id=llm, **rule)
    _, kinds, body = stream(server, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    assert kinds == ["message"] * 5 and body.endswith(b"data: [DONE]\n\n")


def test_error_after_as_many_events_as_the_stream_has_replaces_done(
    server: MockInferServer, llm: str
) -> None:
    server.fault(inference_id=llm, error_after=4)
    _, kinds, _ = stream(server, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    assert kinds == ["message"] * 4 + ["error"]


def test_faults_on_chat_endpoint_management_use_the_es_envelope(
    server: MockInferServer, chat: str
) -> None:
    server.fault(method="GET", status=500)
    resp = raw_request(server.url, "GET", f"/_inference/{chat}")
    assert resp.status == 500 and resp.json()["status"] == 500
    assert resp.json()["error"]["type"] == "status_exception"


def test_a_fault_off_the_inference_routes_says_what_it_answered(server: MockInferServer) -> None:
    server.fault(path="/_inference/_services", status=503)
    resp = raw_request(server.url, "GET", "/_inference/_services")
    assert resp.json()["error"]["reason"] == (
        "mockinfer fault: [GET /_inference/_services] answered with status [503]"
    )


def test_a_client_that_gives_up_during_a_delay_is_journaled(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, delay=1.0, times=1)
    with pytest.raises(ConnectionTimeout):
        es.options(request_timeout=0.2, max_retries=0).inference.text_embedding(
            inference_id=E5, input="x"
        )
    (call,) = server.calls.wait_for(1, timeout=5)
    assert (call.status, call.ending) == (None, "disconnected")
    assert call.fault is not None


def test_a_client_that_gives_up_on_a_delayed_stream_error_is_no_failure(
    server: MockInferServer, llm: str
) -> None:
    server.fault(inference_id=llm, delay=0.4, status=503)
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=0.1)
    with pytest.raises(TimeoutError):
        conn.request("POST", f"/_inference/completion/{llm}/_stream", b'{"input":"x"}', JSON)
        conn.getresponse()
    conn.close()
    (call,) = server.calls.wait_for(1, timeout=5)
    assert call.ending == "disconnected"
    assert server.take_failures() == []


def test_the_stream_field_picks_streamed_or_plain_requests(
    es: Elasticsearch, server: MockInferServer, llm: str
) -> None:
    streamed = server.fault(inference_id=llm, stream=True, status=503)
    plain = server.fault(inference_id=E5, stream=False, status=500)
    assert es.inference.completion(inference_id=llm, input="x")["completion"]
    status, kinds, _ = stream(server, f"/_inference/completion/{llm}/_stream", {"input": "x"})
    assert (status, kinds) == (503, ["error"])
    with pytest.raises(ApiError):
        es.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    assert (streamed.hits, plain.hits) == (1, 1)
