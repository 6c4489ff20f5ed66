"""Generators answering a real server, as the official clients see them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch

from mockinfer import MockInferServer
from mockinfer.engines.plugins import GeneratorSet
from mockinfer.errors import PluginError
from mockinfer.settings import parse_route
from mockinfer.wire.sse import decode_events
from tests.generator_plugins.sample import Echo, Fickle, Gated, Picky, Wrong, unit
from tests.server.http import JSON as JSON_TYPE
from tests.server.http import raw_request

JSON = "application/json"
SETTINGS = {"num_allocations": 1, "num_threads": 1}


@pytest.fixture(scope="module")
def _plugged() -> Iterator[MockInferServer]:
    with MockInferServer(generators=GeneratorSet(discover=False)) as server:
        yield server


@pytest.fixture
def server(_plugged: MockInferServer) -> Iterator[MockInferServer]:
    """A server whose only generator is a fresh `Echo`, claiming the model `echo-model`."""
    _plugged.reset()
    _plugged.generators.register(Echo())
    _plugged.generators.routes = ()
    yield _plugged
    _plugged.take_failures()


@pytest.fixture
def es(server: MockInferServer) -> Iterator[Elasticsearch]:
    with Elasticsearch(server.url, request_timeout=30) as client:
        yield client


def echo(server: MockInferServer) -> Echo:
    generator = server.generators.load("echo").generator
    assert isinstance(generator, Echo)
    return generator


def put(es: Elasticsearch, inference_id: str, task: str, service: str, **settings: Any) -> None:
    if service == "elasticsearch":
        settings = {**SETTINGS, **settings}
    else:
        settings.setdefault("api_key", "k")
    es.inference.put(
        inference_id=inference_id,
        task_type=task,
        inference_config={"service": service, "service_settings": settings},
    )


def test_a_claimed_model_is_answered_by_its_generator(
    server: MockInferServer, es: Elasticsearch
) -> None:
    put(es, "docs", "text_embedding", "openai", model_id="echo-model", dimensions=16)
    resp = es.inference.text_embedding(inference_id="docs", input=["cat", "kitten"])
    got = [item["embedding"] for item in resp["text_embedding"]]
    expected = np.asarray([unit("cat", 16), unit("kitten", 16)], dtype=np.float32)
    assert np.array_equal(np.asarray(got, dtype=np.float32), expected)
    (target,) = echo(server).targets
    assert (target.inference_id, target.task, target.service, target.model) == (
        "docs",
        "text_embedding",
        "openai",
        "echo-model",
    )
    assert target.service_settings["dimensions"] == 16
    (call,) = server.calls.filter(inference_id="docs", method="POST")
    assert call.source == "synthesis"


def test_other_endpoints_keep_the_core_output(server: MockInferServer, es: Elasticsearch) -> None:
    e5 = ".multilingual-e5-small-elasticsearch"
    with_plugin = es.inference.text_embedding(inference_id=e5, input="cat").body
    with (
        MockInferServer(generators=GeneratorSet(discover=False)) as bare,
        Elasticsearch(bare.url) as client,
    ):
        without = client.inference.text_embedding(inference_id=e5, input="cat").body
    assert with_plugin == without
    assert echo(server).embedded == []


def test_repeated_texts_are_generated_once(server: MockInferServer, es: Elasticsearch) -> None:
    put(es, "docs", "text_embedding", "openai", model_id="echo-model", dimensions=8)
    first = es.inference.text_embedding(inference_id="docs", input=["a", "b", "a"]).body
    second = es.inference.text_embedding(inference_id="docs", input=["b"]).body
    assert echo(server).embedded == ["a", "b"]
    assert second["text_embedding"][0] == first["text_embedding"][1]


def test_a_generator_that_is_not_deterministic_is_asked_every_time(
    server: MockInferServer, es: Elasticsearch
) -> None:
    fickle = Fickle()
    server.generators.register(fickle)
    put(es, "f", "text_embedding", "openai", model_id="fickle-model", dimensions=8)
    first = es.inference.text_embedding(inference_id="f", input="same").body
    second = es.inference.text_embedding(inference_id="f", input="same").body
    assert fickle.calls == 2 and first != second


@pytest.mark.parametrize(
    ("element_type", "key"), [("byte", "text_embedding_bytes"), ("bit", "text_embedding_bits")]
)
def test_vectors_are_quantised_for_the_element_type(
    server: MockInferServer, es: Elasticsearch, element_type: str, key: str
) -> None:
    put(es, "q", "text_embedding", "cohere", model_id="echo-model", embedding_type=element_type)
    dimensions = server.backend.get("q").dimensions
    (item,) = es.inference.text_embedding(inference_id="q", input="cat")[key]
    values = np.asarray(unit("cat", dimensions))
    if element_type == "bit":
        packed = np.packbits(values > 0).view(np.int8).tolist()
        assert item["embedding"] == packed
    else:
        scaled = np.rint(values * (127 / np.abs(values).max())).astype(int).tolist()
        assert item["embedding"] == scaled


def test_sparse_rerank_completion_and_chat(server: MockInferServer, es: Elasticsearch) -> None:
    put(es, "sparse", "sparse_embedding", "elasticsearch", model_id="echo-model")
    put(es, "rank", "rerank", "cohere", model_id="ECHO-MODEL")
    put(es, "write", "completion", "openai", model_id="echo-model")
    put(es, "talk", "chat_completion", "openai", model_id="echo-model")
    sparse = es.inference.sparse_embedding(inference_id="sparse", input="big cat")
    assert sparse["sparse_embedding"][0]["embedding"] == {"big": 3.0, "cat": 3.0}
    ranked = es.inference.rerank(
        inference_id="rank",
        query="q",
        input=["mid doc", "a", "the longest document"],
        task_settings={"top_n": 2, "return_documents": True},
    )
    assert [(r["index"], r["text"]) for r in ranked["rerank"]] == [
        (2, "the longest document"),
        (0, "mid doc"),
    ]
    assert ranked["rerank"][0]["relevance_score"] == 20.0
    completion = es.inference.completion(inference_id="write", input="hello")
    assert completion["completion"][0]["result"] == "echo: hello"
    streamed = _stream(es, "/_inference/completion/write/_stream", {"input": "hello there"})
    text = "".join(i["delta"] for e in streamed for i in e["completion"])
    assert text == "echo: hello there"
    chunks = _stream(
        es,
        "/_inference/chat_completion/talk/_stream",
        {"messages": [{"role": "user", "content": "ping"}]},
    )
    content = "".join(c["delta"].get("content", "") for e in chunks for c in e["choices"])
    assert content == "echo: ping"


def _stream(es: Elasticsearch, path: str, body: dict[str, Any]) -> list[Any]:
    """The JSON events of a stream read through the official client, `[DONE]` checked."""
    resp = es.perform_request(
        "POST", path, body=body, headers={"accept": "application/json", "content-type": JSON}
    )
    events = decode_events(resp.body.encode())
    assert events[-1].data == "[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


# The openai client's model_dump warns that a base64 string is not the list its type says.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_the_provider_routes_reach_the_generator(server: MockInferServer) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
    resp = client.embeddings.create(model="Echo-Model", input=["cat"], dimensions=8)
    assert np.array_equal(
        np.asarray(resp.data[0].embedding, dtype=np.float32),
        np.asarray(unit("cat", 8), dtype=np.float32),
    )
    encoded = client.embeddings.create(
        model="Echo-Model", input="cat", dimensions=8, encoding_format="base64"
    )
    raw = base64.b64decode(encoded.model_dump()["data"][0]["embedding"])
    assert np.frombuffer(raw, dtype=np.float32).tolist() == resp.data[0].embedding
    chat = client.chat.completions.create(
        model="Echo-Model", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.choices[0].message.content == "echo: hi"


@pytest.mark.asyncio
async def test_a_slow_generator_runs_off_the_event_loop(_plugged: MockInferServer) -> None:
    _plugged.reset()
    gated = Gated()
    _plugged.generators.register(gated)
    async with AsyncElasticsearch(_plugged.url, request_timeout=60) as client:
        await client.inference.put(
            inference_id="slow",
            task_type="text_embedding",
            inference_config={
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "gated-model", "dimensions": 8},
            },
        )
        slow = asyncio.create_task(client.inference.text_embedding(inference_id="slow", input="x"))
        assert await asyncio.to_thread(gated.entered.wait, 30)
        # Answered while the generator is still busy: the loop is free.
        listed = await client.inference.get()
        assert any(e["inference_id"] == "slow" for e in listed["endpoints"])
        gated.gate.set()
        resp = await slow
        assert len(resp["text_embedding"][0]["embedding"]) == 8
    assert _plugged.take_failures() == []


def test_a_refusal_is_the_clusters_error(server: MockInferServer, es: Elasticsearch) -> None:
    server.generators.register(Picky())
    put(es, "p", "text_embedding", "openai", model_id="any", dimensions=12)
    with pytest.raises(ApiError) as caught:
        es.inference.text_embedding(inference_id="p", input="x")
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "status_exception"
    assert caught.value.body["error"]["reason"] == (
        "The retrieved embeddings size [8] does not match the size specified in the settings "
        "[12]. Please recreate the [p] configuration with the correct dimensions"
    )
    assert server.take_failures() == []


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ([[1.0, 2.0]], "an array of shape (1, 2); expected 1 vectors of 8 numbers"),
        ([[float("nan")] * 8], "NaN, or numbers beyond float32's range"),
        ([[1e39] * 8], "NaN, or numbers beyond float32's range"),
        ([[10**400] * 8], "with list; expected 1 vectors of 8 numbers"),
        ("vectors", "with str; expected 1 vectors of 8 numbers"),
        (
            RuntimeError("GPU on fire"),
            "failed on text_embedding for [w]: RuntimeError: GPU on fire",
        ),
    ],
)
def test_a_broken_answer_is_a_500_naming_the_generator(
    server: MockInferServer, es: Elasticsearch, answer: Any, said: str
) -> None:
    server.generators.register(Wrong(answer))
    put(es, "w", "text_embedding", "openai", model_id="wrong-model", dimensions=8)
    with pytest.raises(ApiError) as caught:
        es.inference.text_embedding(inference_id="w", input="x")
    reason = caught.value.body["error"]["reason"]
    assert caught.value.status_code == 500
    assert "generator [wrong] (registered Wrong)" in reason and said in reason
    assert "Traceback" not in reason
    (failure,) = server.take_failures()
    assert isinstance(failure, PluginError) and failure.generator == "wrong"


@pytest.mark.parametrize(
    ("task", "answer", "said"),
    [
        ("completion", 42, "with int; expected a string"),
        ("rerank", [0.5], "expected 2 finite scores"),
        ("sparse_embedding", [{"cat": -1.0}], "expected 1 mappings of token to a weight >= 0"),
    ],
)
def test_every_task_checks_the_shape(
    server: MockInferServer, es: Elasticsearch, task: str, answer: Any, said: str
) -> None:
    server.generators.register(Wrong(answer))
    service = {"completion": "openai", "rerank": "cohere"}.get(task, "elasticsearch")
    put(es, "w", task, service, model_id="wrong-model")
    body: dict[str, Any] = {"input": ["a", "b"] if task == "rerank" else "a"}
    if task == "rerank":
        body["query"] = "q"
    with pytest.raises(ApiError) as caught:
        es.perform_request(
            "POST",
            f"/_inference/{task}/w",
            body=body,
            headers={"content-type": "application/json", "accept": "application/json"},
        )
    assert caught.value.status_code == 500
    assert said in caught.value.body["error"]["reason"]
    assert isinstance(server.take_failures()[0], PluginError)


def test_a_stream_that_fails_in_its_generator_is_an_error_event(
    server: MockInferServer, es: Elasticsearch
) -> None:
    server.generators.register(Wrong(ValueError("no words today")))
    put(es, "w", "completion", "openai", model_id="wrong-model")
    resp = raw_request(
        server.url, "POST", "/_inference/completion/w/_stream", b'{"input": "hello"}', JSON_TYPE
    )
    (event,) = decode_events(resp.body)
    assert event.event == "error"
    error = json.loads(event.data)["error"]
    assert error["type"] == "status_exception"
    assert "generator [wrong]" in error["reason"] and "no words today" in error["reason"]


def test_a_plugin_failing_under_a_partial_stub_is_named(
    server: MockInferServer, es: Elasticsearch
) -> None:
    server.generators.register(Wrong(RuntimeError("boom")))
    put(es, "w", "text_embedding", "openai", model_id="wrong-model", dimensions=8)
    server.stub(inference_id="w", match="pinned", result=[0.5] * 8)
    with pytest.raises(ApiError) as caught:
        es.inference.text_embedding(inference_id="w", input=["pinned", "generated"])
    assert caught.value.status_code == 500
    assert caught.value.body["error"]["type"] == "status_exception"
    assert "generator [wrong] (registered Wrong) failed" in caught.value.body["error"]["reason"]
    assert isinstance(server.take_failures()[0], PluginError)


def test_a_new_generator_or_new_settings_are_never_served_from_the_cache(
    server: MockInferServer, es: Elasticsearch
) -> None:
    put(es, "docs", "text_embedding", "openai", model_id="echo-model", dimensions=8)
    first = es.inference.text_embedding(inference_id="docs", input="cat").body
    replacement = Wrong([[0.25] * 8], name="echo")
    replacement.models = ("echo-model",)
    server.generators.register(replacement)
    second = es.inference.text_embedding(inference_id="docs", input="cat").body
    assert second["text_embedding"][0]["embedding"] == [0.25] * 8 != first
    fresh = Echo()
    server.generators.register(fresh)
    es.inference.text_embedding(inference_id="docs", input="cat", task_settings={"user": "a"})
    es.inference.text_embedding(inference_id="docs", input="cat", task_settings={"user": "b"})
    assert fresh.embedded == ["cat", "cat"]
    assert [t.task_settings for t in fresh.targets] == [{"user": "a"}, {"user": "b"}]


def test_a_hugging_face_hosted_url_names_its_model(
    server: MockInferServer, es: Elasticsearch
) -> None:
    url = "https://router.huggingface.co/hf-inference/models/org/echo-model/pipeline/x"
    put(es, "hf", "text_embedding", "hugging_face", url=url, dimensions=8)
    es.inference.text_embedding(inference_id="hf", input="routed by url")
    assert echo(server).embedded == ["routed by url"]
    assert echo(server).targets[0].model == "org/echo-model"


def test_explicit_routes_come_first(server: MockInferServer, es: Elasticsearch) -> None:
    put(es, "one", "text_embedding", "openai", model_id="gpt-x", dimensions=8)
    put(es, "two", "text_embedding", "openai", model_id="echo-model", dimensions=8)
    server.generators.routes = [parse_route("endpoint:one=echo"), parse_route("model:echo-*=core")]
    es.inference.text_embedding(inference_id="one", input="routed")
    es.inference.text_embedding(inference_id="two", input="kept by the core")
    assert echo(server).embedded == ["routed"]


def test_a_route_to_a_generator_without_the_task_is_an_error(
    server: MockInferServer, es: Elasticsearch
) -> None:
    server.generators.register(Fickle())
    put(es, "c", "completion", "openai", model_id="gpt-x")
    server.generators.routes = [parse_route("endpoint:c=fickle")]
    with pytest.raises(ApiError) as caught:
        es.inference.completion(inference_id="c", input="x")
    assert caught.value.status_code == 500
    assert (
        "route endpoint:c=fickle sends [c] to generator [fickle] (registered Fickle), which "
        "serves text_embedding but not completion" in caught.value.body["error"]["reason"]
    )
