"""The official async client (aiohttp node) against the server, from inside a running loop."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, NotFoundError

from mockinfer import MockInferServer
from mockinfer.wire.sse import decode_events

E5 = ".multilingual-e5-small-elasticsearch"


@pytest.mark.asyncio
async def test_async_families(aes: AsyncElasticsearch) -> None:
    dense = await aes.inference.text_embedding(inference_id=E5, input=["one", "two"])
    assert len(dense["text_embedding"]) == 2
    sparse = await aes.inference.sparse_embedding(
        inference_id=".elser-2-elasticsearch", input="harbour lights"
    )
    assert sparse["sparse_embedding"][0]["embedding"]
    ranked = await aes.inference.rerank(
        inference_id=".rerank-v1-elasticsearch", query="q", input=["a", "b"]
    )
    assert len(ranked["rerank"]) == 2
    await aes.inference.put(
        inference_id="llm",
        task_type="completion",
        inference_config={
            "service": "anthropic",
            "service_settings": {"api_key": "k", "model_id": "claude"},
            "task_settings": {"max_tokens": 20},
        },
    )
    text = (await aes.inference.completion(inference_id="llm", input="hi"))["completion"][0][
        "result"
    ]
    assert 0 < len(text.split()) <= 20
    stream = await aes.perform_request(
        "POST",
        "/_inference/completion/llm/_stream",
        body={"input": "hi"},
        headers={"accept": "application/json", "content-type": "application/json"},
    )
    deltas = [e.data for e in decode_events(stream.body.encode())]
    assert deltas[-1] == "[DONE]" and len(deltas) > 2
    with pytest.raises(NotFoundError):
        await aes.inference.get(inference_id="gone")
    assert (await aes.inference.delete(inference_id="llm"))["acknowledged"]


@pytest.mark.asyncio
async def test_concurrent_requests_are_independent(
    aes: AsyncElasticsearch, server: MockInferServer
) -> None:
    texts = [f"text number {i}" for i in range(40)]
    results = await asyncio.gather(
        *(aes.inference.text_embedding(inference_id=E5, input=t) for t in texts)
    )
    batch = await aes.inference.text_embedding(inference_id=E5, input=texts)
    assert [r["text_embedding"][0] for r in results] == batch["text_embedding"]
    assert len(server.calls) == 41


@pytest.mark.asyncio
async def test_server_started_inside_running_loop() -> None:
    async with MockInferServer(seed=3) as server:
        client = AsyncElasticsearch(server.url)
        try:
            assert (await client.info())["tagline"] == "You Know, for Search"
        finally:
            await client.close()
