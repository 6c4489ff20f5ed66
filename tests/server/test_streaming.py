"""SSE byte for byte as ES writes it, through raw HTTP and through the official clients."""

from __future__ import annotations

import json
import time

import pytest
from elasticsearch import Elasticsearch

from mockinfer import MockInferServer, TimingProfile
from mockinfer.wire.sse import BOM, decode_events
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

DONE = BOM + b"event: message\ndata: [DONE]\n\n"


@pytest.fixture
def llm(es: Elasticsearch) -> str:
    put_openai(es, "llm", "completion")
    return "llm"


@pytest.fixture
def chat(es: Elasticsearch) -> str:
    put_openai(es, "chat", "chat_completion")
    return "chat"


def test_completion_stream_bytes(server: MockInferServer, es: Elasticsearch, llm: str) -> None:
    resp = raw_request(
        server.url, "POST", f"/_inference/completion/{llm}/_stream", b'{"input":"hi"}', JSON
    )
    assert resp.status == 200
    assert resp.header("Content-Type") == "text/event-stream"
    assert resp.header("X-elastic-product") == "Elasticsearch"
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.header("Content-Encoding") is None
    assert resp.body.endswith(DONE)
    frames = resp.body.split(b"\n\n")[:-1]
    assert all(f.startswith(BOM + b"event: message\ndata: ") for f in frames)
    deltas = [json.loads(e.data)["completion"][0]["delta"] for e in decode_events(resp.body)[:-1]]
    assert len(deltas) > 1
    full = es.inference.completion(inference_id=llm, input="hi")["completion"][0]["result"]
    assert "".join(deltas) == full


def test_stream_routes_without_task_type(server: MockInferServer, llm: str) -> None:
    short = raw_request(server.url, "POST", f"/_inference/{llm}/_stream", b'{"input":"hi"}', JSON)
    long = raw_request(
        server.url, "POST", f"/_inference/completion/{llm}/_stream", b'{"input":"hi"}', JSON
    )
    assert short.status == 200 and short.body == long.body


def test_stream_not_gzipped_even_when_asked(server: MockInferServer, llm: str) -> None:
    resp = raw_request(
        server.url,
        "POST",
        f"/_inference/{llm}/_stream",
        b'{"input":"hi"}',
        {**JSON, "Accept-Encoding": "gzip"},
    )
    assert resp.header("Content-Encoding") is None
    assert resp.body.startswith(BOM + b"event: message")


def test_chat_stream_chunks(server: MockInferServer, chat: str) -> None:
    body = {"messages": [{"role": "user", "content": "Say hello"}], "model": "gpt-4o"}
    resp = raw_request(
        server.url,
        "POST",
        f"/_inference/chat_completion/{chat}/_stream",
        json.dumps(body).encode(),
        JSON,
    )
    assert resp.status == 200 and resp.body.endswith(DONE)
    chunks = [json.loads(e.data) for e in decode_events(resp.body)[:-1]]
    assert all(
        list(c)[:2] == ["id", "choices"] and c["object"] == "chat.completion.chunk" for c in chunks
    )
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and set(chunks[-1]["usage"]) >= {
        "completion_tokens",
        "prompt_tokens",
        "total_tokens",
    }
    assert any(c["choices"] and c["choices"][0].get("finish_reason") == "stop" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content


def test_chat_stream_tool_call(server: MockInferServer, chat: str) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city", "unit"],
            },
        },
    }
    body = {
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [tool],
        "tool_choice": "required",
    }
    resp = raw_request(
        server.url,
        "POST",
        f"/_inference/chat_completion/{chat}/_stream",
        json.dumps(body).encode(),
        JSON,
    )
    chunks = [json.loads(e.data) for e in decode_events(resp.body)[:-1]]
    calls = [
        tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert calls[0]["function"]["name"] == "get_weather"
    arguments = json.loads("".join(tc["function"].get("arguments", "") for tc in calls))
    assert isinstance(arguments["city"], str) and arguments["unit"] in ("c", "f")
    assert any(
        c["choices"] and c["choices"][0].get("finish_reason") == "tool_calls" for c in chunks
    )


def test_error_before_stream_is_error_event(server: MockInferServer) -> None:
    resp = raw_request(
        server.url, "POST", "/_inference/completion/missing/_stream", b'{"input":"hi"}', JSON
    )
    assert resp.status == 404
    assert resp.header("Content-Type") == "text/event-stream"
    assert resp.body.startswith(BOM + b"event: error\ndata: ")
    assert b"[DONE]" not in resp.body
    (event,) = decode_events(resp.body)
    assert json.loads(event.data) == {
        "error": {
            "root_cause": [
                {
                    "type": "resource_not_found_exception",
                    "reason": "Inference endpoint not found [missing]",
                }
            ],
            "type": "resource_not_found_exception",
            "reason": "Inference endpoint not found [missing]",
        },
        "status": 404,
    }


def test_stream_on_non_streaming_task_is_405(server: MockInferServer) -> None:
    resp = raw_request(
        server.url, "POST", "/_inference/.elser-2-elasticsearch/_stream", b'{"input":"hi"}', JSON
    )
    assert resp.status == 405
    (event,) = decode_events(resp.body)
    assert event.event == "error"
    assert (
        json.loads(event.data)["error"]["reason"]
        == "Streaming is not allowed for service [elasticsearch]."
    )


def test_chat_stream_error_is_openai_shaped(server: MockInferServer) -> None:
    resp = raw_request(
        server.url,
        "POST",
        "/_inference/chat_completion/missing/_stream",
        b'{"messages":[{"role":"user","content":"x"}]}',
        JSON,
    )
    (event,) = decode_events(resp.body)
    assert event.event == "error"
    assert json.loads(event.data) == {
        "error": {
            "code": "not_found",
            "message": "Inference endpoint not found [missing]",
            "type": "resource_not_found_exception",
        }
    }


def test_stream_through_official_client(es: Elasticsearch, llm: str) -> None:
    resp = es.perform_request(
        "POST",
        f"/_inference/completion/{llm}/_stream",
        body={"input": "hi"},
        headers={"accept": "application/json", "content-type": "application/json"},
    )
    assert resp.meta.status == 200
    assert resp.meta.headers["content-type"] == "text/event-stream"
    events = decode_events(resp.body.encode())
    assert events[-1].data == "[DONE]"
    assert all(json.loads(e.data)["completion"] for e in events[:-1])


def test_a_timing_profile_paces_synthesized_streams() -> None:
    profile = TimingProfile(first_event=0.2, per_event=0.01)
    with MockInferServer(timing=profile) as paced, Elasticsearch(paced.url) as client:
        put_openai(client, "llm", "completion")
        started = time.monotonic()
        resp = raw_request(
            paced.url, "POST", "/_inference/completion/llm/_stream", b'{"input":"hi"}', JSON
        )
        elapsed = time.monotonic() - started
        events = decode_events(resp.body)
        assert elapsed >= 0.2 + 0.01 * (len(events) - 2)
    with MockInferServer() as instant, Elasticsearch(instant.url) as client:
        put_openai(client, "llm", "completion")
        again = raw_request(
            instant.url, "POST", "/_inference/completion/llm/_stream", b'{"input":"hi"}', JSON
        )
        assert again.body == resp.body
