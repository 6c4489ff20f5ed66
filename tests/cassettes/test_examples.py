"""The example cassettes in `cassettes/`: they load, replay, and say what the contract documents."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from mockinfer import MockInferServer
from mockinfer.cassette.format import read
from mockinfer.cli import main
from mockinfer.wire.sse import BOM, decode_events
from tests.cassettes.standin import assert_paced, timed_request

EXAMPLES = Path(__file__).resolve().parents[2] / "cassettes"
NAMES = [
    "completion_stream.yaml",
    "chat_completion_stream_tool_call.yaml",
    "text_embedding.yaml",
    "sparse_embedding.yaml",
    "rerank.yaml",
]
STREAMS = NAMES[:2]
TEXT = "The sky above the port was the color of television tuned to a dead channel."
DOCS = ["luke", "like", "leia", "chewy", "r2d2", "star", "wars"]
SSE_HEADERS = {"accept": "application/json", "content-type": "application/json"}


def test_the_examples_are_all_there_and_clean() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(NAMES)
    assert main(["check", str(EXAMPLES)]) == 0


@pytest.mark.parametrize("name", NAMES)
def test_each_example_loads_with_mockinfer_and_with_vcrpy(name: str) -> None:
    path = EXAMPLES / name
    ours = read(path)
    assert ours is not None and len(ours.interactions) == 1
    interaction = ours.interactions[0]
    requests, responses = deserialize(path.read_text(), yamlserializer)
    assert [(r.method, r.uri) for r in requests] == [
        (interaction.request.method, interaction.request.uri)
    ]
    assert responses[0]["status"]["code"] == interaction.response.status == 200
    assert responses[0]["headers"]["X-elastic-product"] == ["Elasticsearch"]
    assert requests[0].headers["Authorization"] == "ApiKey REDACTED"


@pytest.mark.parametrize("name", STREAMS)
def test_stream_examples_have_realistic_irregular_gaps(name: str) -> None:
    data = read(EXAMPLES / name)
    assert data is not None
    events = data.interactions[0].response.events
    assert events is not None and len(events) >= 10
    offsets = [e.offset for e in events]
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert 0.1 < offsets[0] < 2.0  # a model takes a while to start
    assert all(0.003 <= g <= 0.3 for g in gaps) and len(set(gaps)) > len(gaps) // 2
    assert all(e.raw.startswith(BOM + b"event: message\ndata: ") for e in events)
    assert events[-1].raw == BOM + b"event: message\ndata: [DONE]\n\n"
    assert data.interactions[0].response.body == b"".join(e.raw for e in events)


def test_text_embedding_example(server: MockInferServer, es: Elasticsearch) -> None:
    with server.use_cassette(EXAMPLES / "text_embedding.yaml"):
        result = es.inference.text_embedding(inference_id="my-e5-model", input=TEXT)
    vector = result["text_embedding"][0]["embedding"]
    assert len(result["text_embedding"]) == 1 and len(vector) == 384
    assert vector[:2] == [0.018569946, -0.036895752]  # as documented
    assert math.sqrt(sum(v * v for v in vector)) == pytest.approx(1.0, abs=1e-3)


def test_sparse_embedding_example(server: MockInferServer, es: Elasticsearch) -> None:
    with server.use_cassette(EXAMPLES / "sparse_embedding.yaml"):
        result = es.inference.sparse_embedding(inference_id="my-elser-model", input=TEXT)
    (item,) = result["sparse_embedding"]
    assert list(item) == ["is_truncated", "embedding"] and item["is_truncated"] is False
    weights = item["embedding"]
    assert list(weights)[:3] == ["port", "sky", "color"] and weights["port"] == 2.1259406
    assert list(weights.values()) == sorted(weights.values(), reverse=True)


def test_rerank_example(server: MockInferServer, es: Elasticsearch) -> None:
    with server.use_cassette(EXAMPLES / "rerank.yaml"):
        result = es.inference.rerank(
            inference_id="cohere-rerank",
            query="star wars main character",
            input=DOCS,
            return_documents=True,
            top_n=3,
        )
    ranked = result["rerank"]
    assert [r["index"] for r in ranked] == [6, 5, 0]
    assert ranked[0] == {"index": 6, "relevance_score": 0.50955844, "text": "wars"}
    assert all(r["text"] == DOCS[r["index"]] for r in ranked)
    scores = [r["relevance_score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)


def test_completion_stream_example(server: MockInferServer, es: Elasticsearch) -> None:
    with server.use_cassette(EXAMPLES / "completion_stream.yaml", timing="instant"):
        resp = es.perform_request(
            "POST",
            "/_inference/completion/openai-completion/_stream",
            body={"input": "What is Elastic?"},
            headers=SSE_HEADERS,
        )
    events = decode_events(str(resp.body).encode())
    assert [e.event for e in events] == ["message"] * len(events)
    assert events[-1].data == "[DONE]"
    deltas = [json.loads(e.data)["completion"][0]["delta"] for e in events[:-1]]
    assert "".join(deltas).startswith("Elastic is a company that builds Elasticsearch")


@pytest.mark.asyncio
async def test_chat_completion_tool_call_example(server: MockInferServer) -> None:
    data = read(EXAMPLES / "chat_completion_stream_tool_call.yaml")
    assert data is not None
    interaction = data.interactions[0]
    recorded = interaction.response.events or ()
    factor = 0.25
    with server.use_cassette(EXAMPLES / "chat_completion_stream_tool_call.yaml", timing=factor):
        resp = await timed_request(
            server.url,
            "/_inference/chat_completion/openai-chat/_stream",
            json.loads(interaction.request.body),
        )
    assert resp.status == 200 and [raw for _, raw in resp.events] == [e.raw for e in recorded]
    assert_paced(resp.arrivals, [event.offset * factor for event in recorded])

    chunks: list[dict[str, Any]] = [json.loads(e.data) for e in decode_events(resp.body)[:-1]]
    for chunk in chunks:
        keys = ["id", "choices", "model", "object"] + (["usage"] if "usage" in chunk else [])
        assert list(chunk) == keys and chunk["object"] == "chat.completion.chunk"
    calls = [c["choices"][0]["delta"].get("tool_calls", []) for c in chunks if c["choices"]]
    fragments = [call for group in calls for call in group]
    assert fragments[0]["function"]["name"] == "get_current_weather"
    assert fragments[0]["id"].startswith("call_")
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    assert json.loads(arguments) == {"location": "Paris, France", "unit": "celsius"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
