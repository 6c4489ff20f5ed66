"""HTTP as ES does it: filter_path, gzip responses, compatibility and serverless headers."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from mockinfer import MockInferServer
from mockinfer.server.filtering import filter_path
from tests.server.http import JSON, raw_request

E5 = ".multilingual-e5-small-elasticsearch"
DOCUMENT: dict[str, Any] = {
    "endpoints": [
        {
            "inference_id": "a",
            "task_type": "rerank",
            "service_settings": {"model_id": "m", "num_threads": 1},
        },
        {"inference_id": "b", "task_type": "completion", "service_settings": {"model_id": "n"}},
    ]
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("endpoints.inference_id", {"endpoints": [{"inference_id": "a"}, {"inference_id": "b"}]}),
        ("endpoints.*_id", {"endpoints": [{"inference_id": "a"}, {"inference_id": "b"}]}),
        (
            "**.model_id",
            {
                "endpoints": [
                    {"service_settings": {"model_id": "m"}},
                    {"service_settings": {"model_id": "n"}},
                ]
            },
        ),
        (
            "endpoints.service_settings.num_threads",
            {"endpoints": [{"service_settings": {"num_threads": 1}}]},
        ),
        (
            "-endpoints.service_settings,-endpoints.task_type",
            {"endpoints": [{"inference_id": "a"}, {"inference_id": "b"}]},
        ),
        ("nothing.here", {}),
    ],
)
def test_filter_path(spec: str, expected: Any) -> None:
    assert filter_path(DOCUMENT, spec) == expected


def test_json_is_gzipped_when_asked(server: MockInferServer) -> None:
    headers = {**JSON, "Accept-Encoding": "gzip, deflate"}
    resp = raw_request(server.url, "POST", f"/_inference/{E5}", b'{"input":"zip"}', headers)
    assert resp.header("Content-Encoding") == "gzip"
    assert len(json.loads(gzip.decompress(resp.body))["text_embedding"][0]["embedding"]) == 384
    plain = raw_request(server.url, "POST", f"/_inference/{E5}", b'{"input":"zip"}', JSON)
    assert plain.header("Content-Encoding") is None
    assert plain.json() == json.loads(gzip.decompress(resp.body))


@pytest.mark.parametrize(
    ("headers", "content_type"),
    [
        (
            {
                "Content-Type": "application/vnd.elasticsearch+json; compatible-with=9",
                "Accept": "application/vnd.elasticsearch+json; compatible-with=9",
            },
            "application/vnd.elasticsearch+json;compatible-with=9",
        ),
        (
            {
                "Content-Type": "application/vnd.elasticsearch+json; compatible-with=8",
                "Accept": "application/vnd.elasticsearch+json; compatible-with=8",
            },
            "application/vnd.elasticsearch+json;compatible-with=8",
        ),
        (
            {
                "Content-Type": "application/json",
                "Accept": "application/vnd.elasticsearch+json; compatible-with=9,text/plain",
            },
            "application/vnd.elasticsearch+json;compatible-with=9",
        ),
        (
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "elastic-api-version": "2023-10-31",
            },
            "application/json",
        ),
        ({"Content-Type": "application/json", "Accept": "text/event-stream"}, "application/json"),
    ],
)
def test_media_types_are_accepted_and_mirrored(
    server: MockInferServer, headers: dict[str, str], content_type: str
) -> None:
    resp = raw_request(server.url, "POST", f"/_inference/{E5}", b'{"input":"x"}', headers)
    assert resp.status == 200
    assert resp.header("Content-Type") == content_type


def test_serverless_mode_client(server: MockInferServer) -> None:
    with Elasticsearch(server.url, server_mode="serverless") as client:
        assert client.inference.text_embedding(inference_id=E5, input="serverless")[
            "text_embedding"
        ]


def test_head_root_and_product_header_on_errors(server: MockInferServer) -> None:
    head = raw_request(server.url, "HEAD", "/")
    assert head.status == 200 and head.body == b""
    assert head.header("X-elastic-product") == "Elasticsearch"
    missing = raw_request(server.url, "GET", "/_inference/none")
    assert missing.header("X-elastic-product") == "Elasticsearch"


def test_pretty_output(server: MockInferServer) -> None:
    resp = raw_request(
        server.url, "GET", f"/_inference/{E5}?pretty&filter_path=endpoints.task_type"
    )
    assert (
        resp.body.decode()
        == '{\n  "endpoints" : [\n    {\n      "task_type" : "text_embedding"\n    }\n  ]\n}\n'
    )
