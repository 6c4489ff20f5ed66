"""Record a session with OpenAI through mockinfer's provider routes, then replay it offline.

The provider's key, the account its answers name and its cookie stay out of the cassette; the
replay serves the recorded bytes with the recorded rhythm of the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from mockinfer import MockInferServer
from mockinfer.cassette.format import read
from tests.cassettes.provider_standin import (
    COOKIE,
    OPENAI_KEY,
    ORGANIZATION,
    PROJECT,
    ProviderStandIn,
)
from tests.cassettes.standin import assert_paced, timed_request

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "lights?"}]}


@pytest.fixture
def provider() -> Iterator[ProviderStandIn]:
    with ProviderStandIn() as standin:
        yield standin


def _client(server: MockInferServer, key: str = OPENAI_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def test_an_openai_session_is_recorded_without_its_secrets_and_replayed_offline(
    server: MockInferServer, provider: ProviderStandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "openai.yaml"
    with server.use_cassette(cassette, record_mode="once", upstream=provider.url):
        client = _client(server)
        embedded = client.embeddings.create(
            model="text-embedding-3-small", input=["harbour", "lights"], encoding_format="float"
        )
        chat = client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(**CHAT, stream=True)  # type: ignore[call-overload]
        )
        with pytest.raises(openai.AuthenticationError):
            _client(server, "sk-proj-WrongKeyWrongKeyWrongKey0000").embeddings.create(
                model="text-embedding-3-small", input="x"
            )
    # A stream is kept once relayed, after its client has read it: count what was saved.
    assert len(read(cassette).interactions) == 4
    # Forwarded as the client sent it, its key included.
    assert provider.received[0].headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    assert streamed == chat.choices[0].message.content == "The harbour lights are on."
    text = cassette.read_text()
    for secret in (OPENAI_KEY, ORGANIZATION, PROJECT, COOKIE.split(";")[0], "WrongKeyWrongKey"):
        assert secret not in text
    provider.stop()

    with server.use_cassette(cassette, timing="instant") as replaying:
        client = _client(server)
        raw = client.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input=["harbour", "lights"], encoding_format="float"
        )
        replayed = raw.parse()
        again = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(**CHAT, stream=True)  # type: ignore[call-overload]
        )
        assert client.chat.completions.create(**CHAT).choices[0].message.content == streamed  # type: ignore[call-overload]
    assert [d.embedding for d in replayed.data] == [d.embedding for d in embedded.data]
    assert again == streamed
    # A replay keeps the provider's own request id, and adds no cluster header.
    assert raw.headers["x-request-id"] == "req_0123456789abcdef"
    assert "x-elastic-product" not in raw.headers
    assert replaying.recorded == 0


@pytest.mark.asyncio
async def test_a_provider_stream_replays_with_its_recorded_rhythm(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "rhythm.yaml"
    body = {**CHAT, "stream": True}
    headers = {"Authorization": f"Bearer {OPENAI_KEY}"}
    with (
        ProviderStandIn() as provider,
        server.use_cassette(cassette, record_mode="once", upstream=provider.url),
    ):
        live = await timed_request(server.url, "/v1/chat/completions", body, headers)
    events = read(cassette).interactions[0].response.events
    assert events is not None and len(events) == 7  # six chunks and [DONE]
    offsets = [e.offset for e in events]
    assert b"".join(e.raw for e in events) == live.body
    with server.use_cassette(cassette, timing="recorded"):
        replay = await asyncio.wait_for(
            timed_request(server.url, "/v1/chat/completions", body, headers), 30
        )
    assert replay.body == live.body
    assert_paced(replay.arrivals, offsets)


def test_the_upstream_key_goes_to_a_provider_as_a_bearer_token(
    server: MockInferServer, provider: ProviderStandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "upstream-key.yaml"
    with server.use_cassette(
        cassette, record_mode="once", upstream=provider.url, upstream_api_key=OPENAI_KEY
    ):
        answer = _client(server, "sk-client-key-not-for-upstream").embeddings.create(
            model="text-embedding-3-small", input="x", encoding_format="float"
        )
    assert answer.data
    assert provider.received[0].headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    text = cassette.read_text()
    assert OPENAI_KEY not in text and "sk-client-key-not-for-upstream" not in text
