"""The call journal: every call there once its response began, complete once its body ended."""

from __future__ import annotations

import json
import threading
import time

import pytest
from elasticsearch import ApiError, Elasticsearch

from mockinfer import CallJournal, CallTimeout, MockInferServer
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"


def test_a_stream_read_to_its_end_is_always_in_the_journal_complete(
    es: Elasticsearch, server: MockInferServer
) -> None:
    put_openai(es, "llm", "completion")
    path = "/_inference/completion/llm/_stream"
    for attempt in range(40):
        server.calls.clear()
        resp = raw_request(
            server.url, "POST", path, json.dumps({"input": str(attempt)}).encode(), JSON
        )
        assert resp.body.endswith(b"data: [DONE]\n\n")
        (call,) = server.calls
        assert (call.path, call.streamed, call.complete, call.ending) == (path, True, True, "done")


def test_calls_say_what_answered_them(es: Elasticsearch, server: MockInferServer) -> None:
    server.stub(inference_id=E5, match="stubbed", result=[0.25] * 384)
    es.inference.text_embedding(inference_id=E5, input="stubbed")
    es.inference.text_embedding(inference_id=E5, input="generated")
    server.fault(inference_id=E5, status=500, times=1)
    with pytest.raises(ApiError):
        es.inference.text_embedding(inference_id=E5, input="faulted")
    assert [c.source for c in server.calls] == ["stub", "synthesis", "fault"]
    assert server.calls.filter(source="stub")[0].body == {"input": "stubbed"}
    with pytest.raises(ValueError, match="source must be one of fault, stub, cassette"):
        server.calls.filter(source="stubs")


def test_wait_for_returns_once_enough_calls_completed(
    es: Elasticsearch, server: MockInferServer
) -> None:
    def later() -> None:
        time.sleep(0.2)
        for text in ("a", "b"):
            es.inference.text_embedding(inference_id=E5, input=text)

    worker = threading.Thread(target=later)
    worker.start()
    calls = server.calls.wait_for(2, timeout=10, inference_id=E5)
    worker.join()
    assert [c.body for c in calls] == [{"input": "a"}, {"input": "b"}]


def test_wait_for_times_out_with_the_calls_it_saw(
    es: Elasticsearch, server: MockInferServer
) -> None:
    es.inference.text_embedding(inference_id=E5, input="only one")
    with pytest.raises(CallTimeout, match=r"expected 2 complete call\(s\).*got 1") as info:
        server.calls.wait_for(2, timeout=0.2)
    assert f"POST /_inference/text_embedding/{E5} -> 200" in str(info.value)
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(TypeError, match="unknown criteria: colour"):
        server.calls.wait_for(1, colour="blue")


def test_admin_requests_are_never_journaled(server: MockInferServer) -> None:
    raw_request(server.url, "GET", "/_mockinfer/calls")
    raw_request(server.url, "GET", "/_mockinfer/faults")
    assert len(server.calls) == 0


def test_a_bounded_journal_keeps_the_newest_calls_and_no_large_body() -> None:
    journal = CallJournal(limit=3, body_limit=1024)
    with MockInferServer(journal=journal) as bounded, Elasticsearch(bounded.url) as client:
        for text in ("a", "b", "c", "d"):
            client.inference.text_embedding(inference_id=E5, input=text)
        client.inference.text_embedding(inference_id=E5, input="x" * 4000)
        kept = [c.body for c in bounded.calls]
    assert kept[:2] == [{"input": "c"}, {"input": "d"}]
    assert kept[2] == "<4012 bytes, not kept>"
    assert all(c.complete for c in bounded.calls)
