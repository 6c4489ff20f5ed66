"""The README's ways of reading a stream from a Python test, run as written there."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from mockinfer import read_events, streamed_text

LLM = {"service": "openai", "service_settings": {"api_key": "k", "model_id": "gpt-4o"}}


def test_read_a_stream_with_the_official_client(mockinfer: Any, mockinfer_es: Any) -> None:
    mockinfer_es.inference.put(inference_id="my-llm", task_type="completion", inference_config=LLM)
    response = mockinfer_es.perform_request(
        "POST",
        "/_inference/completion/my-llm/_stream",
        body={"input": "What is Elastic?"},
        headers={"accept": "text/event-stream", "content-type": "application/json"},
    )
    events = read_events(response.body)
    assert events[-1].done
    assert all(e.event == "message" for e in events)
    assert streamed_text(events).strip()
    assert events[0].json()["completion"][0]["delta"]


@pytest.mark.asyncio
async def test_read_events_as_they_arrive_with_aiohttp(mockinfer: Any) -> None:
    async with aiohttp.ClientSession() as session:
        await session.put(
            f"{mockinfer.url}/_inference/chat_completion/my-chat",
            json={"service": "openai", "service_settings": {"api_key": "k", "model_id": "gpt-4o"}},
        )
        async with session.post(
            f"{mockinfer.url}/_inference/chat_completion/my-chat/_stream",
            json={"messages": [{"role": "user", "content": "What is Elastic?"}]},
        ) as response:
            events = []
            while raw := await response.content.readuntil(b"\n\n"):
                events += read_events(raw)  # one event at a time, as it arrives
    assert events[-1].done
    assert streamed_text(events).strip()
    assert events[0].json()["object"] == "chat.completion.chunk"


def test_streamed_text_passes_over_chunks_without_text() -> None:
    from mockinfer.wire.sse import DONE_EVENT, encode_event

    stream = (
        encode_event(b'{"choices":null}')
        + encode_event(b'{"choices":[{"delta":{"content":"Hi"}}]}')
        + encode_event(b'{"completion":[{"delta":null}]}')
        + DONE_EVENT
    )
    assert streamed_text(read_events(stream)) == "Hi"
