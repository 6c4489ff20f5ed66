"""The `/_mockinfer/` admin API over raw HTTP, as a client in any language uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import ApiError, Elasticsearch

from mockinfer import MockInferServer
from tests.server.endpoints import put_openai
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"


def post_fault(server: MockInferServer, rule: object) -> tuple[int, dict[str, object]]:
    resp = raw_request(server.url, "POST", "/_mockinfer/faults", json.dumps(rule).encode(), JSON)
    return resp.status, resp.json()


def test_add_list_and_delete_faults(es: Elasticsearch, server: MockInferServer) -> None:
    status, created = post_fault(server, {"inference_id": E5, "status": 503, "times": 1})
    assert status == 201
    assert created == {
        "id": created["id"],
        "hits": 0,
        "inference_id": E5,
        "status": 503,
        "times": 1,
    }
    with pytest.raises(ApiError):
        es.options(max_retries=0).inference.text_embedding(inference_id=E5, input="x")
    listed = raw_request(server.url, "GET", "/_mockinfer/faults").json()
    assert listed == {"faults": [{**created, "hits": 1}]}
    gone = raw_request(server.url, "DELETE", f"/_mockinfer/faults/{created['id']}")
    assert (gone.status, gone.json()) == (200, {"acknowledged": True})
    again = raw_request(server.url, "DELETE", f"/_mockinfer/faults/{created['id']}")
    assert again.status == 404
    assert again.json()["error"]["type"] == "resource_not_found_exception"
    post_fault(server, {"status": 500})
    post_fault(server, {"delay": 0.01})
    assert raw_request(server.url, "DELETE", "/_mockinfer/faults").status == 200
    assert len(server.faults) == 0


def test_an_invalid_rule_is_a_400_naming_the_problem(server: MockInferServer) -> None:
    status, body = post_fault(server, {"status": 500, "colour": "red"})
    assert status == 400
    error = body["error"]
    assert isinstance(error, dict) and error["type"] == "illegal_argument_exception"
    assert "unknown field(s) colour" in error["reason"]
    assert post_fault(server, [1, 2])[0] == 400
    bad_json = raw_request(server.url, "POST", "/_mockinfer/faults", b"{nope", JSON)
    assert bad_json.status == 400
    assert bad_json.json()["error"]["type"] == "x_content_parse_exception"
    assert len(server.faults) == 0


def test_calls_and_reset(es: Elasticsearch, server: MockInferServer) -> None:
    put_openai(es, "mine", "completion")
    es.inference.text_embedding(inference_id=E5, input="journal me")
    calls = raw_request(server.url, "GET", "/_mockinfer/calls").json()["calls"]
    assert [(c["method"], c["status"], c["source"], c["complete"]) for c in calls] == [
        ("PUT", 200, "synthesis", True),
        ("POST", 200, "synthesis", True),
    ]
    assert calls[1]["body"] == {"input": "journal me"}
    post_fault(server, {"status": 500})
    reset = raw_request(server.url, "POST", "/_mockinfer/reset")
    assert (reset.status, reset.json()) == (200, {"acknowledged": True})
    assert len(server.calls) == 0 and len(server.faults) == 0
    assert not server.backend.has("mine")


def test_admin_routes_are_never_faulted(server: MockInferServer) -> None:
    post_fault(server, {"path": "*", "status": 500})
    post_fault(server, {"disconnect": True})
    assert raw_request(server.url, "GET", "/_mockinfer/faults").status == 200
    assert raw_request(server.url, "GET", "/_mockinfer/calls").json() == {"calls": []}


def test_reset_keeps_the_failures_kept_for_the_test(
    server: MockInferServer, tmp_path: Path
) -> None:
    with server.use_cassette(tmp_path / "absent.yaml"):
        missed = raw_request(
            server.url, "POST", f"/_inference/text_embedding/{E5}", b'{"input":"x"}', JSON
        )
    assert missed.status == 404
    raw_request(server.url, "POST", "/_mockinfer/reset")
    (failure,) = server.take_failures()
    assert "no cassette" in str(failure).lower() or "replay" in str(failure).lower()
