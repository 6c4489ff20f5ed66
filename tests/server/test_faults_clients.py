"""Every kind of fault through the official Python client, sync and async.

The client has no streaming methods: `_stream` goes through `perform_request`, which reads the
whole SSE text. Connection faults meet the client's own retries.
"""

from __future__ import annotations

import pytest
from elasticsearch import (
    AsyncElasticsearch,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
)

from mockinfer import MockInferServer
from mockinfer.wire.sse import decode_events
from tests.server.endpoints import put_openai

E5 = ".multilingual-e5-small-elasticsearch"
STREAM = "/_inference/completion/llm/_stream"
HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


@pytest.fixture
def llm(es: Elasticsearch, server: MockInferServer) -> str:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", deltas=["a", " b", " c"])
    server.calls.clear()
    return "llm"


def kinds(text: str) -> list[str]:
    return [e.event for e in decode_events(text.encode())]


def test_sync_stream_faults(es: Elasticsearch, server: MockInferServer, llm: str) -> None:
    server.fault(inference_id=llm, error_after=1, times=1)
    server.fault(inference_id=llm, truncate_after=2, times=1)
    truncated = es.perform_request("POST", STREAM, body={"input": "x"}, headers=HEADERS)
    errored = es.perform_request("POST", STREAM, body={"input": "x"}, headers=HEADERS)
    whole = es.perform_request("POST", STREAM, body={"input": "x"}, headers=HEADERS)
    assert kinds(truncated.body) == ["message", "message"]
    assert kinds(errored.body) == ["message", "error"]
    assert kinds(whole.body) == ["message"] * 4 and whole.body.endswith("data: [DONE]\n\n")
    assert [c.ending for c in server.calls] == ["truncated", "error", "done"]


@pytest.mark.asyncio
async def test_async_stream_faults(
    es: Elasticsearch, aes: AsyncElasticsearch, server: MockInferServer
) -> None:
    put_openai(es, "llm", "completion")
    server.fault(inference_id="llm", error_after=2, status=503)
    resp = await aes.perform_request("POST", STREAM, body={"input": "x"}, headers=HEADERS)
    events = decode_events(resp.body.encode())
    assert [e.event for e in events] == ["message", "message", "error"]
    assert '"status":503' in events[-1].data


def test_a_reset_connection_is_retried_by_the_client(
    es: Elasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, disconnect=True, times=1)
    assert es.inference.text_embedding(inference_id=E5, input="x")["text_embedding"]
    assert [(c.status, c.source) for c in server.calls] == [(None, "fault"), (200, "synthesis")]


@pytest.mark.asyncio
async def test_the_async_client_retries_a_reset_too(
    aes: AsyncElasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, disconnect=True, times=2)
    assert (await aes.inference.text_embedding(inference_id=E5, input="x"))["text_embedding"]
    assert [c.status for c in server.calls] == [None, None, 200]


def test_resets_past_the_retries_are_a_connection_error(
    es: Elasticsearch, server: MockInferServer, llm: str
) -> None:
    server.fault(inference_id=E5, disconnect=True)
    with pytest.raises(ConnectionError):
        es.options(max_retries=1).inference.text_embedding(inference_id=E5, input="x")
    server.fault(inference_id=llm, disconnect_after=1)
    with pytest.raises(ConnectionError):
        es.options(max_retries=0).perform_request(
            "POST", STREAM, body={"input": "x"}, headers=HEADERS
        )
    assert [c.ending for c in server.calls] == ["disconnected"] * 3


@pytest.mark.asyncio
async def test_async_delay_past_the_request_timeout(
    aes: AsyncElasticsearch, server: MockInferServer
) -> None:
    server.fault(inference_id=E5, delay=1.0, times=1)
    with pytest.raises(ConnectionTimeout):
        await aes.options(request_timeout=0.2, max_retries=0).inference.text_embedding(
            inference_id=E5, input="x"
        )
