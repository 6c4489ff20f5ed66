"""Record a session from the stand-in cluster, stop it, and replay the session offline.

Replay must serve what the cluster answered: the same status and bytes, streams included,
with the recorded time before the first event and between events. Nothing secret may reach
the cassette folder.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import (
    AsyncElasticsearch,
    AuthenticationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
)

from mockinfer import MockInferServer
from mockinfer.cassette import journal
from mockinfer.cassette.format import read
from mockinfer.cassette.redact import RedactionRules
from mockinfer.cli import main
from tests.cassettes.standin import API_KEY, AUTH, StandIn, assert_paced, timed_request
from tests.server.http import JSON, RawResponse, raw_request

SERVICE_KEY = "sk-proj-Zx9TqLm4Hv2Nc8Rw6Yb1Ks3Jd5Gf7Pa0"
CHAT_BODY = {
    "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
}
#: (method, path, body, headers): every kind of answer the stand-in gives, errors included.
SESSION: list[tuple[str, str, Any, dict[str, str]]] = [
    ("POST", "/_inference/text_embedding/my-e5", {"input": ["harbour lights", "night sky"]}, AUTH),
    ("POST", "/_inference/sparse_embedding/my-elser", {"input": "port of call sky"}, AUTH),
    (
        "POST",
        "/_inference/rerank/my-rerank",
        {"query": "star wars", "input": ["luke", "leia", "wars"], "top_n": 2},
        AUTH,
    ),
    ("POST", "/_inference/completion/my-llm", {"input": "what is elastic"}, AUTH),
    (
        "PUT",
        "/_inference/completion/my-llm-2",
        {"service": "openai", "service_settings": {"api_key": SERVICE_KEY, "model_id": "gpt-4o"}},
        AUTH,
    ),
    ("POST", "/_inference/completion/my-llm/_stream", {"input": "tell me more"}, AUTH),
    ("POST", "/_inference/chat_completion/my-chat/_stream", CHAT_BODY, AUTH),
    ("POST", "/_inference/text_embedding/missing", {"input": "x"}, AUTH),
    ("POST", "/_inference/text_embedding/my-e5", {"input_type": "search"}, AUTH),
    ("POST", "/_inference/completion/missing/_stream", {"input": "x"}, AUTH),
    ("POST", "/_inference/chat_completion/missing/_stream", CHAT_BODY | {"model": "x"}, AUTH),
    ("POST", "/_inference/text_embedding/my-e5", {"input": "who am I"}, {}),
]
EXPECTED_STATUS = [200, 200, 200, 200, 200, 200, 200, 404, 400, 404, 404, 401]


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A quick cluster: short gaps, for tests where the timing is not the point."""
    with StandIn(gaps=(0.004, 0.002, 0.006), first_delay=0.003) as cluster:
        yield cluster


def _send(url: str, method: str, path: str, body: Any, headers: dict[str, str]) -> RawResponse:
    return raw_request(url, method, path, json.dumps(body).encode(), {**JSON, **headers})


def _headers(resp: RawResponse, name: str) -> list[str]:
    return [v for k, v in resp.headers if k.lower() == name.lower()]


def _all_text(folder: Path) -> str:
    return "\n".join(
        f.read_text(encoding="utf-8", errors="replace") for f in folder.rglob("*") if f.is_file()
    )


def test_record_then_replay_offline_serves_identical_bytes_and_status(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    direct = [_send(standin.url, *request) for request in SESSION]
    assert [r.status for r in direct] == EXPECTED_STATUS
    cassette = tmp_path / "session.yaml"
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url):
        recorded = [_send(server.url, *request) for request in SESSION]
    # Counted in the file: a stream is kept once relayed, after its client has read it.
    assert len(read(cassette).interactions) == len(SESSION)
    assert standin.count == 2 * len(SESSION)
    # Forwarded with method, path, query, body and credentials as the client sent them.
    direct_requests, proxied = standin.received[: len(SESSION)], standin.received[len(SESSION) :]
    for want, got in zip(direct_requests, proxied, strict=True):
        assert (got.method, got.path_qs, got.body) == (want.method, want.path_qs, want.body)
        assert got.headers.get("Authorization") == want.headers.get("Authorization")
    # While recording, the answer goes back to the client unchanged.
    assert [(r.status, r.body) for r in recorded] == [(r.status, r.body) for r in direct]
    standin.stop()

    with server.use_cassette(cassette, timing="instant") as replaying:
        replayed = [_send(server.url, *request) for request in SESSION]
        assert replaying.index.unplayed() == []
    assert [p.name for p in tmp_path.iterdir()] == ["session.yaml"]
    for request, want, got in zip(SESSION, recorded, replayed, strict=True):
        assert (got.status, got.body) == (want.status, want.body), request[:2]
        assert got.header("Content-Type") == want.header("Content-Type"), request[:2]
        assert got.header("X-elastic-product") == "Elasticsearch"
    unauthorized = replayed[-1]
    assert _headers(unauthorized, "WWW-Authenticate") == [
        'Basic realm="security", charset="UTF-8"',
        'Bearer realm="security"',
        "ApiKey",
    ]
    assert unauthorized.json()["error"]["type"] == "security_exception"
    assert replayed[5].body.startswith(b"\xef\xbb\xbfevent: message\ndata: ")
    assert replayed[5].body.endswith(b"\xef\xbb\xbfevent: message\ndata: [DONE]\n\n")
    assert replayed[9].body.startswith(b"\xef\xbb\xbfevent: error\ndata: {")


def test_official_clients_see_the_same_results_and_errors_on_replay(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "client.yaml"

    def session(es: Elasticsearch) -> list[Any]:
        out: list[Any] = [
            es.inference.text_embedding(inference_id="my-e5", input=["a", "b"]).body,
            es.inference.rerank(inference_id="my-rerank", query="q", input=["x", "y"]).body,
            es.inference.completion(inference_id="my-llm", input="hi there").body,
        ]
        for call, error in (
            (lambda: es.inference.text_embedding(inference_id="missing", input="x"), NotFoundError),
            (
                lambda: es.inference.sparse_embedding(inference_id="my-elser", input=[]),
                BadRequestError,
            ),
            (
                lambda: es.options(api_key="wrong").inference.completion(
                    inference_id="my-llm", input="z"
                ),
                AuthenticationException,
            ),
        ):
            try:
                out.append(call().body)
            except (NotFoundError, BadRequestError, AuthenticationException) as exc:
                assert isinstance(exc, error)
                out.append((type(exc).__name__, exc.meta.status, exc.body))
        return out

    with (
        server.use_cassette(cassette, record_mode="once", upstream=standin.url),
        Elasticsearch(server.url, api_key=API_KEY) as es,
    ):
        live = session(es)
    standin.stop()
    with server.use_cassette(cassette), Elasticsearch(server.url, api_key=API_KEY) as es:
        assert session(es) == live
    assert live[3][0] == "NotFoundError" and live[4][:2] == ("BadRequestError", 400)
    assert live[5][:2] == ("AuthenticationException", 401)


@pytest.mark.asyncio
async def test_replayed_gaps_and_time_to_first_event_match_the_recording(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "timing.yaml"
    path, body = "/_inference/completion/my-llm/_stream", {"input": "one two three four five six"}
    # The realistic rhythm: 30-150 ms between events; stopped before the replay.
    with (
        StandIn() as standin,
        server.use_cassette(cassette, record_mode="once", upstream=standin.url),
    ):
        live = await timed_request(server.url, path, body, AUTH)
    events = read(cassette).interactions[0].response.events  # type: ignore[union-attr]
    assert events is not None and len(events) == 8
    offsets = [e.offset for e in events]
    assert b"".join(e.raw for e in events) == live.body

    # The cassette keeps the cluster's own rhythm; a late response head may shift it a little
    # earlier, never much.
    assert_paced(offsets, standin.offsets(len(events)), early=0.1)
    # Streams pass through live: the client saw each event when the cluster sent it.
    assert_paced(live.arrivals, offsets)

    with server.use_cassette(cassette, timing="recorded"):
        replay = await timed_request(server.url, path, body, AUTH)
    assert replay.body == live.body and replay.status == 200
    assert_paced(replay.arrivals, offsets)


def test_no_secret_reaches_the_cassette_folder(
    server: MockInferServer, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cassettes"
    secrets_body = {
        "service": "amazonbedrock",
        "service_settings": {
            "access_key": "AKIAIOSFODNN7EXAMPLE",
            "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "region": "us-east-1",
        },
    }
    vertex = {
        "service": "googlevertexai",
        "service_settings": {"service_account_json": '{"private_key":"pk-material-123456"}'},
        "task_settings": {"secret_parameters": {"x": "hidden-param-987654"}},
    }
    azure = {"service": "azureopenai", "service_settings": {"client_secret": "cs-0987654321abcd"}}
    with server.use_cassette(folder / "secrets.yaml", record_mode="once", upstream=standin.url):
        for method, path, body, headers in SESSION:
            _send(server.url, method, path, body, headers)
        _send(server.url, "PUT", "/_inference/text_embedding/bedrock", secrets_body, AUTH)
        _send(server.url, "PUT", "/_inference/text_embedding/vertex", vertex, AUTH)
        _send(server.url, "PUT", "/_inference/completion/azure", azure, AUTH)
        _send(
            server.url,
            "POST",
            "/_inference/text_embedding/my-e5?api_key=query-secret-55555&timeout=30s",
            {"input": "q"},
            AUTH,
        )
    # The cluster did receive the secrets: they were forwarded, not dropped.
    assert any(SERVICE_KEY.encode() in r.body for r in standin.received)
    assert any("query-secret-55555" in r.path_qs for r in standin.received)
    text = _all_text(folder)
    assert "REDACTED" in text
    for secret in (
        API_KEY,
        SERVICE_KEY,
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "pk-material-123456",
        "hidden-param-987654",
        "cs-0987654321abcd",
        "query-secret-55555",
    ):
        assert secret not in text, secret
    assert [p.name for p in folder.iterdir()] == ["secrets.yaml"]

    assert main(["check", str(folder)]) == 0
    planted = folder / "planted.yaml"
    planted.write_text(
        (folder / "secrets.yaml")
        .read_text()
        .replace('"api_key":"REDACTED"', '"api_key":"plantedsecret12345"', 1)
    )
    capsys.readouterr()
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"{planted}:" in out and "a secret by name" in out and "secrets.yaml:" not in out


def test_check_flags_a_key_in_a_recorded_authorization_header(tmp_path: Path) -> None:
    planted = tmp_path / "header.yaml"
    planted.write_text(
        "interactions:\n- request:\n    body: null\n    headers:\n      Authorization:\n"
        f"      - ApiKey {API_KEY}\n    method: GET\n    uri: http://h/_inference\n"
        "  response:\n    body: {string: ''}\n    headers: {}\n"
        "    status: {code: 200, message: OK}\nversion: 1\n"
    )
    assert main(["check", str(planted)]) == 1


def test_user_redaction_rules_remove_more_and_still_match(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "custom.yaml"
    rules = RedactionRules(
        headers=frozenset({"X-Tenant-Token"}),
        body_fields=frozenset({"user_email"}),
        query_parameters=frozenset({"signature"}),
    )
    path = "/_inference/completion/my-llm?signature=sig-abcdef123456"
    body = {"input": "hi", "task_settings": {"user_email": "alice@example.com"}}
    headers = {**AUTH, "X-Tenant-Token": "tenant-token-777777"}
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url, redaction=[rules]):
        live = _send(server.url, "POST", path, body, headers)
    text = cassette.read_text()
    for secret in ("sig-abcdef123456", "alice@example.com", "tenant-token-777777"):
        assert secret not in text
    assert "X-Tenant-Token:\n      - REDACTED" in text
    standin.stop()

    other = {"input": "hi", "task_settings": {"user_email": "bob@example.com"}}
    with server.use_cassette(cassette, timing="instant", redaction=[rules]):
        replay = _send(server.url, "POST", path, other, headers)
    assert (replay.status, replay.body) == (live.status, live.body)
    # Without the rule the live body keeps its value and no longer matches the recording.
    with server.use_cassette(cassette, timing="instant"):
        miss = _send(server.url, "POST", path, other, headers)
    assert miss.json()["error"]["type"] == "replay_miss_exception"
    assert "body.task_settings.user_email" in miss.json()["error"]["reason"]
    with pytest.raises(Exception, match="no recorded interaction matches"):
        server.raise_failures()


def test_upstream_api_key_replaces_the_clients_credentials(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "upstream-key.yaml"
    body = {"input": "with the upstream key"}
    with server.use_cassette(
        cassette, record_mode="once", upstream=standin.url, upstream_api_key=API_KEY
    ):
        anonymous = _send(server.url, "POST", "/_inference/completion/my-llm", body, {})
        wrong = _send(
            server.url,
            "POST",
            "/_inference/completion/my-llm",
            {"input": "other"},
            {"Authorization": "ApiKey client-key-not-for-upstream"},
        )
    assert (anonymous.status, wrong.status) == (200, 200)
    assert [r.headers.get("Authorization") for r in standin.received] == [f"ApiKey {API_KEY}"] * 2
    text = cassette.read_text()
    assert API_KEY not in text and "client-key-not-for-upstream" not in text


@pytest.mark.asyncio
async def test_concurrent_requests_record_into_one_cassette(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "concurrent.yaml"
    texts = [f"concurrent text {i}" for i in range(16)]

    async def session(client: AsyncElasticsearch) -> list[Any]:
        embeddings = [client.inference.text_embedding(inference_id="my-e5", input=t) for t in texts]
        streams = [
            client.perform_request(
                "POST",
                "/_inference/completion/my-llm/_stream",
                body={"input": f"stream number {i}"},
                headers={"accept": "application/json", "content-type": "application/json"},
            )
            for i in range(4)
        ]
        return [r.body for r in await asyncio.gather(*embeddings, *streams)]

    with server.use_cassette(cassette, record_mode="once", upstream=standin.url):
        async with AsyncElasticsearch(server.url, api_key=API_KEY) as client:
            live = await session(client)
    assert standin.count == 20
    interactions = read(cassette).interactions  # type: ignore[union-attr]
    assert len(interactions) == 20
    bodies = sorted(json.loads(i.request.body)["input"] for i in interactions)
    assert bodies == sorted([*texts, *(f"stream number {i}" for i in range(4))])
    for interaction in interactions:
        text = json.loads(interaction.request.body)["input"]
        if text in texts:
            assert json.loads(interaction.response.body) == live[texts.index(text)]
    standin.stop()

    with server.use_cassette(cassette, timing="instant"):
        async with AsyncElasticsearch(server.url, api_key=API_KEY) as client:
            texts.reverse()
            replayed = await session(client)
            texts.reverse()
    assert replayed[:16] == list(reversed(live[:16])) and replayed[16:] == live[16:]


def test_a_recording_waiting_for_the_journal_lock_holds_up_no_other_request(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "locked.yaml"
    client = Elasticsearch(server.url, api_key=API_KEY, request_timeout=20, max_retries=0)
    texts = ["recorded first", "recorded second"]
    with server.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url):
        with ThreadPoolExecutor(2) as pool, journal.locked(cassette):
            # Another process saving a big cassette holds this lock for seconds.
            waiting = [
                pool.submit(client.inference.text_embedding, inference_id="my-e5", input=text)
                for text in texts
            ]
            while standin.count < 2:  # both forwarded: the first did not hold up the second
                time.sleep(0.01)
            assert client.info()["tagline"] == "You Know, for Search"
            assert not any(w.done() for w in waiting)  # journaled only once the lock is free
        assert all(w.result(timeout=20).body["text_embedding"] for w in waiting)
        journaled = [json.loads(e.interaction.request.body) for e in journal.entries(cassette)]
        assert sorted(body["input"] for body in journaled) == texts
    assert len(read(cassette).interactions) == 2  # type: ignore[union-attr]


def test_a_stream_whose_client_closes_after_the_last_event_is_kept(tmp_path: Path) -> None:
    """A client may hang up once it has read `[DONE]`, before the body's end arrives."""
    cassette = tmp_path / "closed.yaml"
    with StandIn(linger=0.3) as cluster, MockInferServer() as server:
        with server.use_cassette(cassette, record_mode="once", upstream=cluster.url):
            host, port = server.url.removeprefix("http://").split(":")
            body = json.dumps({"input": "what is elastic"}).encode()
            with socket.create_connection((host, int(port)), timeout=10) as client:
                client.sendall(
                    b"POST /_inference/completion/my-llm/_stream HTTP/1.1\r\n"
                    + f"Host: {host}\r\nAuthorization: ApiKey {API_KEY}\r\n".encode()
                    + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                received = b""
                while b"data: [DONE]" not in received:
                    chunk = client.recv(65536)
                    assert chunk, "the stream ended before [DONE]"
                    received += chunk
                # Reset, not a polite close: the relay's next write fails.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cluster.wait_for(1)
        server.raise_failures()
    (kept,) = read(cassette).interactions
    assert kept.response.events is not None
    assert kept.response.events[-1].raw.endswith(b"data: [DONE]\n\n")
