"""Inputs and situations that must never reach a client as a 500 or fail the wrong test."""

from __future__ import annotations

import gzip
import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch

from mockinfer import MockInferServer
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"


def test_a_client_hanging_up_mid_stream_is_not_a_fault(
    server: MockInferServer, es: Elasticsearch
) -> None:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", deltas=["a"] * 20, gaps=[0.0] + [0.05] * 20)
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    body = b'{"input":"x"}'
    with socket.create_connection((host or "127.0.0.1", port or 80)) as sock:
        sock.sendall(
            b"POST /_inference/completion/llm/_stream HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 5
    while (
        not server.calls.filter(path="/_inference/completion/llm/_stream")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    (call,) = server.calls.filter(path="/_inference/completion/llm/_stream")
    assert call.status == 200 and call.streamed
    assert server.take_failures() == []
    assert es.inference.text_embedding(inference_id=E5, input="still serving")["text_embedding"]


def test_the_status_line_goes_out_with_the_first_event(
    server: MockInferServer, es: Elasticsearch
) -> None:
    put_openai(es, "llm", "completion")
    server.stub(inference_id="llm", deltas=["late"], gaps=[0.3])
    started = time.monotonic()
    conn_url = urlsplit(server.url)
    with socket.create_connection((conn_url.hostname or "127.0.0.1", conn_url.port or 80)) as sock:
        body = b'{"input":"x"}'
        sock.sendall(
            b"POST /_inference/completion/llm/_stream HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        sock.recv(1)
        assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/_inference/text_embedding/a",
            {
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "m"},
                "chunking_settings": {"strategy": ["word"]},
            },
        ),
        (
            "/_inference/text_embedding/b",
            {
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "m"},
                "chunking_settings": {"strategy": "word", "max_chunk_size": 20, "overlap": "5"},
            },
        ),
    ],
)
def test_malformed_settings_are_validation_errors(
    server: MockInferServer, path: str, body: Any
) -> None:
    resp = raw_request(server.url, "PUT", path, json.dumps(body).encode(), JSON)
    assert resp.status == 400
    assert resp.json()["error"]["type"] == "validation_exception"


def test_odd_task_settings_and_tool_schemas_still_answer(
    server: MockInferServer, es: Elasticsearch
) -> None:
    body = {"input": "x", "task_settings": {"input_type": {"not": "a string"}}}
    assert (
        raw_request(server.url, "POST", f"/_inference/{E5}", json.dumps(body).encode(), JSON).status
        == 200
    )
    put_openai(es, "chat", "chat_completion")
    for schema in (
        {"anyOf": []},
        {"type": "string", "minLength": 5, "maxLength": 2},
        {"type": "string", "minLength": "3"},
        {"type": "string", "minLength": 400_000},
        {"$ref": "#"},
    ):
        tool = {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {"a": schema}, "required": ["a"]},
            },
        }
        request = {
            "messages": [{"role": "user", "content": "call f"}],
            "tools": [tool],
            "tool_choice": "required",
        }
        started = time.monotonic()
        resp = raw_request(
            server.url,
            "POST",
            "/_inference/chat_completion/chat",
            json.dumps(request).encode(),
            JSON,
        )
        assert resp.status == 200, (schema, resp.body[:200])
        assert time.monotonic() - started < 1.0
        assert resp.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "f"
    assert server.take_failures() == []


def test_text_stubs_do_not_answer_embeddings(server: MockInferServer, es: Elasticsearch) -> None:
    server.stub(text="a completion")
    resp = es.inference.text_embedding(inference_id=E5, input="x")
    assert len(resp["text_embedding"][0]["embedding"]) == 384
    ranked = es.inference.rerank(inference_id=".rerank-v1-elasticsearch", query="q", input=["a"])
    assert ranked["rerank"][0]["index"] == 0


@pytest.mark.parametrize("version", ["7", "99"])
def test_unsupported_compatible_with_in_accept_is_refused(
    server: MockInferServer, version: str
) -> None:
    resp = raw_request(
        server.url,
        "GET",
        "/_inference",
        headers={"Accept": f"application/vnd.elasticsearch+json; compatible-with={version}"},
    )
    assert resp.status == 400
    assert resp.json()["error"]["type"] == "media_type_header_exception"
    assert resp.header("Content-Type") == "application/json"


def test_media_types_are_checked_on_every_request(server: MockInferServer) -> None:
    def status_with(accept: str, content_type: str) -> int:
        headers = {"Accept": accept, "Content-Type": content_type}
        return raw_request(
            server.url, "POST", f"/_inference/{E5}", b'{"input":"x"}', headers
        ).status

    good = "application/vnd.elasticsearch+json; compatible-with=9"
    old = "application/vnd.elasticsearch+json; compatible-with=7"
    statuses = [
        status_with(accept, content_type)
        for accept, content_type in [
            (good, good),
            (old, good),
            (good, good),
            (old, good),
            (good, "text/plain"),
            (good, good),
            (good, "text/plain"),
            (good, old),
            (good, old),
        ]
    ]
    assert statuses == [200, 400, 200, 400, 406, 200, 406, 400, 400]


def test_truncated_gzip_body_is_refused(server: MockInferServer) -> None:
    truncated = gzip.compress(b'{"input":"x"}')[:-8]
    resp = raw_request(
        server.url, "POST", f"/_inference/{E5}", truncated, {**JSON, "Content-Encoding": "gzip"}
    )
    assert resp.status == 400
    assert "truncated" in resp.json()["error"]["reason"]


def test_services_are_listed(server: MockInferServer) -> None:
    every = raw_request(server.url, "GET", "/_inference/_services").json()
    assert {s["service"] for s in every} >= {"openai", "cohere", "elasticsearch", "anthropic"}
    openai = next(s for s in every if s["service"] == "openai")
    assert openai["configurations"]["model_id"]["required"] is True
    assert openai["configurations"]["api_key"]["sensitive"] is True
    rerankers = raw_request(server.url, "GET", "/_inference/_services/rerank").json()
    assert all("rerank" in s["task_types"] for s in rerankers) and len(rerankers) < len(every)
    bad = raw_request(server.url, "GET", "/_inference/_services/nope")
    assert bad.status == 400 and bad.json()["error"]["reason"] == "Unknown task_type [nope]"


@pytest.mark.parametrize("depth", [201, 600, 5000])
def test_json_nested_too_deep_is_a_400_and_stores_nothing(
    server: MockInferServer, depth: int
) -> None:
    # Built as text: Python's own json module cannot write JSON this deep.
    nested = b'{"a":' * (depth - 3) + b"{}" + b"}" * (depth - 3)
    body = (
        b'{"service": "openai", "service_settings": {"api_key": "k", "model_id": "m"}, '
        b'"task_settings": {"user": ' + nested + b"}}"
    )
    resp = raw_request(server.url, "PUT", "/_inference/completion/deep", body, JSON)
    assert resp.status == 400
    assert resp.json()["error"]["reason"] == (
        f"[1:1] Document nesting depth ({depth}) exceeds the maximum allowed (200)"
    )
    assert not server.backend.has("deep")
    assert raw_request(server.url, "GET", "/_inference").status == 200


def test_deep_json_with_a_cassette_and_faults_in_use_is_a_400(
    server: MockInferServer, tmp_path: Path
) -> None:
    deep = b'{"input": "x", "x": ' + b"[" * 800 + b"]" * 800 + b"}"
    path = "/_inference/text_embedding/.multilingual-e5-small-elasticsearch"
    server.fault(input="never", status=500)
    with server.use_cassette(tmp_path / "deep.yaml", fallback="synthesize"):
        resp = raw_request(server.url, "POST", path, deep, JSON)
    assert resp.status == 400
    assert "nesting depth (801)" in resp.json()["error"]["reason"]
    assert server.take_failures() == []
