"""Record modes, fallbacks, matchers, misses and replay timing."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockinfer import ConfigurationError, MockInferServer, ServerError
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedEvent,
    RecordedRequest,
    RecordedResponse,
    read,
    write,
)
from mockinfer.errors import ReplayMiss
from tests.cassettes.standin import AUTH, StandIn, assert_paced, sse, timed_request
from tests.server.http import JSON, RawResponse, raw_request

E5 = ".multilingual-e5-small-elasticsearch"
JSON_HEADERS = (("Content-Type", "application/json"), ("X-elastic-product", "Elasticsearch"))


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(gaps=(0.003, 0.001), first_delay=0.002) as cluster:
        yield cluster


def interaction(
    path: str,
    body: Any,
    answer: Any,
    *,
    status: int = 200,
    method: str = "POST",
    base: str = "http://recorded-cluster:9200",
    headers: tuple[tuple[str, str], ...] = (),
) -> Interaction:
    return Interaction(
        RecordedRequest(method, base + path, json.dumps(body).encode(), headers),
        RecordedResponse(status, JSON_HEADERS, json.dumps(answer).encode()),
    )


def send(url: str, path: str, body: Any, headers: dict[str, str] | None = None) -> RawResponse:
    return raw_request(url, "POST", path, json.dumps(body).encode(), {**JSON, **(headers or {})})


def assert_miss(resp: RawResponse, server: MockInferServer, kind: str) -> str:
    """The client got an ES-shaped error and the test can raise the kept `ReplayMiss`."""
    error = resp.json()
    assert resp.status >= 400 and error["status"] == resp.status
    assert error["error"]["type"] == "replay_miss_exception"
    assert error["error"]["root_cause"][0]["type"] == "replay_miss_exception"
    with pytest.raises(ServerError) as raised:
        server.raise_failures()
    miss = raised.value.__cause__
    assert isinstance(miss, ReplayMiss) and miss.kind == kind
    assert str(miss) == error["error"]["reason"]
    return str(miss)


# -- record modes ----------------------------------------------------------------------


def test_none_replays_and_never_forwards(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "none.yaml"
    write(cassette, CassetteData([interaction("/_inference/completion/my-llm", {"input": "a"}, 1)]))
    before = cassette.read_bytes()
    with server.use_cassette(cassette, upstream=standin.url, timing="instant"):
        assert send(server.url, "/_inference/completion/my-llm", {"input": "a"}).json() == 1
        other = send(server.url, "/_inference/completion/my-llm", {"input": "b"}, AUTH)
    assert_miss(other, server, "no-match")
    assert standin.count == 0 and cassette.read_bytes() == before


def test_once_records_a_new_cassette_then_only_replays(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "once.yaml"
    path = "/_inference/text_embedding/my-e5"
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url) as recording:
        first = send(server.url, path, {"input": "a"}, AUTH)
    assert recording.recorded == 0 and standin.count == 1  # saved and reset on exit
    saved = cassette.read_bytes()
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url) as replaying:
        again = send(server.url, path, {"input": "a"}, AUTH)
        new = send(server.url, path, {"input": "b"}, AUTH)
        assert not replaying.records
    assert (again.status, again.body) == (first.status, first.body)
    assert_miss(new, server, "no-match")
    assert standin.count == 1 and cassette.read_bytes() == saved


def test_new_episodes_replays_what_matches_and_records_the_rest(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "episodes.yaml"
    path = "/_inference/text_embedding/my-e5"
    write(cassette, CassetteData([interaction(path, {"input": "old"}, {"recorded": True})]))
    with server.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url):
        old = send(server.url, path, {"input": "old"}, AUTH)
        new = send(server.url, path, {"input": "new"}, AUTH)
    assert old.json() == {"recorded": True}
    assert new.status == 200 and "text_embedding" in new.json()
    assert [r.body for r in standin.received] == [b'{"input": "new"}']
    interactions = read(cassette).interactions  # type: ignore[union-attr]
    assert [json.loads(i.request.body)["input"] for i in interactions] == ["old", "new"]
    assert interactions[1].response.body == new.body


def test_all_always_records_and_replaces_the_file(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "all.yaml"
    path = "/_inference/text_embedding/my-e5"
    write(
        cassette,
        CassetteData(
            [
                interaction(path, {"input": "a"}, {"stale": True}),
                interaction(path, {"input": "gone"}, {"stale": True}),
            ]
        ),
    )
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        fresh = send(server.url, path, {"input": "a"}, AUTH)
        twice = send(server.url, path, {"input": "a"}, AUTH)
    assert "text_embedding" in fresh.json() and twice.body == fresh.body
    assert standin.count == 2
    interactions = read(cassette).interactions  # type: ignore[union-attr]
    assert len(interactions) == 2 and all(i.response.body == fresh.body for i in interactions)
    assert b"stale" not in cassette.read_bytes() and b"gone" not in cassette.read_bytes()


def test_an_unreachable_upstream_is_an_es_error_and_nothing_is_written(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "unreachable.yaml"
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        upstream = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with server.use_cassette(cassette, record_mode="once", upstream=upstream) as recording:
        resp = send(server.url, "/_inference/completion/my-llm", {"input": "a"})
        assert recording.recorded == 0
    error = resp.json()
    assert resp.status == error["status"] == 502
    assert error["error"]["type"] == "mockinfer_upstream_exception"
    assert f"could not reach the upstream {upstream}" in error["error"]["reason"]
    assert not cassette.exists()
    with pytest.raises(ServerError, match="could not reach the upstream"):
        server.raise_failures()


@pytest.mark.parametrize("mode", ["once", "new_episodes", "all"])
def test_recording_without_an_upstream_is_refused_up_front(tmp_path: Path, mode: str) -> None:
    server = MockInferServer()
    with (
        pytest.raises(ValueError, match="no upstream is set"),
        server.use_cassette(tmp_path / "x.yaml", record_mode=mode),
    ):
        pass
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"record_mode": "sometimes"}, "record_mode must be one of none, once, new_episodes, all"),
        ({"fallback": "guess"}, "fallback must be one of error, synthesize"),
        ({"timing": "slow"}, "timing must be 'recorded', 'instant' or a factor"),
        ({"timing": -1}, "timing must be 'recorded', 'instant' or a factor"),
        ({"matchers": ["method", "colour"]}, "colour"),
    ],
)
def test_invalid_settings_are_clear_errors(
    server: MockInferServer, tmp_path: Path, setting: dict[str, Any], message: str
) -> None:
    with (
        pytest.raises((ValueError, ConfigurationError), match=message),
        server.use_cassette(tmp_path / "x.yaml", **setting),
    ):
        pass
    assert server.state.cassette is None


# -- fallbacks -------------------------------------------------------------------------


@pytest.mark.parametrize("exists", [True, False])
def test_fallback_error_and_synthesize(
    server: MockInferServer, tmp_path: Path, exists: bool
) -> None:
    cassette = tmp_path / "fallback.yaml"
    if exists:
        write(
            cassette,
            CassetteData([interaction("/_inference/completion/my-llm", {"input": "a"}, 1)]),
        )
    path, body = f"/_inference/text_embedding/{E5}", {"input": "not recorded"}
    synthesized = send(server.url, path, body)  # no cassette: the server synthesizes
    assert len(synthesized.json()["text_embedding"][0]["embedding"]) == 384

    with server.use_cassette(cassette, fallback="error"):
        error = send(server.url, path, body)
    assert_miss(error, server, "no-match" if exists else "no-cassette")
    with server.use_cassette(cassette, fallback="synthesize"):
        answered = send(server.url, path, body)
    assert (answered.status, answered.body) == (200, synthesized.body)
    assert server.state.failures == []
    assert cassette.exists() == exists


# -- matching --------------------------------------------------------------------------


def test_default_matchers_ignore_host_port_headers_and_json_layout(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "match.yaml"
    recorded = interaction(
        "/_inference/rerank/r",
        {"query": "q", "input": ["a", "b"], "top_n": 1},
        {"rerank": []},
        base="https://elsewhere.example:9243",
        headers=(("Authorization", "ApiKey REDACTED"), ("X-Opaque-Id", "recorded")),
    )
    write(cassette, CassetteData([recorded, recorded]))
    spaced = b'{ "top_n" : 1,\n "input": ["a", "b"], "query": "q" }'
    headers = {**JSON, "X-Opaque-Id": "live", "Authorization": "Bearer other"}
    with server.use_cassette(cassette):
        resp = raw_request(server.url, "POST", "/_inference/rerank/r/", spaced, headers)
        assert resp.json() == {"rerank": []}
    with server.use_cassette(cassette, matchers=["method", "path", "body", "host"]):
        miss = raw_request(server.url, "POST", "/_inference/rerank/r", spaced, headers)
    assert_miss(miss, server, "no-match")


def test_query_matcher_tells_queries_apart_but_not_volatile_parameters(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "query.yaml"
    path = "/_inference/text_embedding/e"
    recorded = interaction(path + "?flavour=plain", {"input": "a"}, {"ok": 1})
    write(cassette, CassetteData([recorded, recorded]))
    with_query = ["method", "path", "query", "body"]
    with server.use_cassette(cassette):
        assert send(server.url, path, {"input": "a"}).json() == {"ok": 1}
    with server.use_cassette(cassette, matchers=with_query):
        miss = send(server.url, path + "?flavour=other", {"input": "a"})
        volatile = send(server.url, path + "?timeout=5s&flavour=plain", {"input": "a"})
    assert "; what differs: query" in assert_miss(miss, server, "no-match")
    assert volatile.json() == {"ok": 1}


def test_live_requests_are_redacted_before_matching(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "redacted.yaml"
    path = "/_inference/completion/my-llm-2"

    def put(key: str) -> RawResponse:
        config = {"service": "openai", "service_settings": {"api_key": key, "model_id": "m"}}
        return raw_request(server.url, "PUT", path, json.dumps(config).encode(), {**JSON, **AUTH})

    with server.use_cassette(cassette, record_mode="once", upstream=standin.url):
        recorded = put("sk-recorded-0123456789abcdef")
    assert b"sk-recorded" not in cassette.read_bytes()
    standin.stop()
    with server.use_cassette(cassette):
        replayed = put("sk-another-real-key-9876543210")
    assert (replayed.status, replayed.body) == (recorded.status, recorded.body)


def test_identical_requests_replay_in_recorded_order(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "order.yaml"
    path, body = "/_inference/completion/my-llm", {"input": "same"}
    write(cassette, CassetteData([interaction(path, body, {"take": n}) for n in range(3)]))
    with server.use_cassette(cassette):
        answers = [send(server.url, path, body).json() for _ in range(3)]
        extra = send(server.url, path, body)
    assert answers == [{"take": 0}, {"take": 1}, {"take": 2}]
    message = assert_miss(extra, server, "exhausted")
    assert message == (
        'all 3 recorded interaction(s) matching POST /_inference/completion/my-llm {"input": "same"} '
        "were already played"
    )


@pytest.mark.asyncio
async def test_concurrent_requests_do_not_depend_on_arrival_order(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "concurrent.yaml"
    path = "/_inference/text_embedding/e"
    write(
        cassette, CassetteData([interaction(path, {"input": f"t{n}"}, {"n": n}) for n in range(24)])
    )
    order = [n for pair in zip(range(23, 11, -1), range(12), strict=True) for n in pair]
    with server.use_cassette(cassette):
        results = await asyncio.gather(
            *(asyncio.to_thread(send, server.url, path, {"input": f"t{n}"}) for n in order)
        )
    assert [r.json() for r in results] == [{"n": n} for n in order]


# -- misses ------------------------------------------------------------------------------


def test_no_match_names_the_request_the_nearest_recording_and_what_differs(
    server: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "nearest.yaml"
    write(
        cassette,
        CassetteData(
            [
                interaction("/_inference/rerank/r", {"query": "q", "input": ["a"]}, 1),
                interaction("/_inference/completion/my-llm", {"input": "hello world"}, 2),
                interaction(
                    "/_inference/completion/my-llm", {"input": "x", "task_settings": {}}, 3
                ),
            ]
        ),
    )
    with server.use_cassette(cassette):
        resp = send(server.url, "/_inference/completion/my-llm", {"input": "hello there"})
    assert assert_miss(resp, server, "no-match") == (
        'no recorded interaction matches POST /_inference/completion/my-llm {"input": "hello there"}; '
        'nearest recorded: POST /_inference/completion/my-llm {"input": "hello world"}'
        "; what differs: body.input differs at character 6 of 11 recorded / 11 live: "
        'recorded "hello world" vs live "hello there"'
    )
    with server.use_cassette(cassette):
        other = raw_request(server.url, "PUT", "/_inference/rerank/r", b'{"query":"q"}', JSON)
    message = assert_miss(other, server, "no-match")
    assert message.startswith(
        'no recorded interaction matches PUT /_inference/rerank/r {"query":"q"}'
    )
    assert "nearest recorded: POST /_inference/rerank/r" in message
    assert "what differs: method; body.input (recorded only)" in message


def test_no_cassette_miss_is_its_own_kind(server: MockInferServer, tmp_path: Path) -> None:
    cassette = tmp_path / "never-recorded.yaml"
    with server.use_cassette(cassette):
        resp = send(server.url, "/_inference/completion/my-llm", {"input": "anything"})
    message = assert_miss(resp, server, "no-cassette")
    assert str(cassette) in message and "record_mode is 'none'" in message
    assert not cassette.exists()


def test_no_cassette_miss_names_the_request(server: MockInferServer, tmp_path: Path) -> None:
    with server.use_cassette(tmp_path / "missing.yaml"):
        resp = send(server.url, "/_inference/completion/my-llm", {"input": "which one"})
    message = assert_miss(resp, server, "no-cassette")
    assert 'POST /_inference/completion/my-llm {"input": "which one"}' in message


# -- timing ------------------------------------------------------------------------------

OFFSETS = (0.060, 0.095, 0.190, 0.215, 0.300)


@pytest.fixture
def stream_cassette(tmp_path: Path) -> Path:
    path = tmp_path / "stream.yaml"
    frames = [sse(json.dumps({"completion": [{"delta": f"w{i}"}]})) for i in range(4)]
    frames.append(sse("[DONE]"))
    events = tuple(RecordedEvent(o, f) for o, f in zip(OFFSETS, frames, strict=True))
    response = RecordedResponse(
        200, (("Content-Type", "text/event-stream"),), b"".join(frames), events
    )
    request = RecordedRequest("POST", "http://c/_inference/completion/l/_stream", b'{"input":"t"}')
    write(path, CassetteData([Interaction(request, response)]))
    return path


@pytest.mark.asyncio
@pytest.mark.parametrize(("timing", "factor"), [("recorded", 1.0), ("instant", 0.0), (0.5, 0.5)])
async def test_timing_recorded_instant_and_factor(
    server: MockInferServer, stream_cassette: Path, timing: str | float, factor: float
) -> None:
    with server.use_cassette(stream_cassette, timing=timing):
        resp = await timed_request(server.url, "/_inference/completion/l/_stream", {"input": "t"})
    assert len(resp.events) == len(OFFSETS) and resp.events[-1][1].endswith(b"data: [DONE]\n\n")
    assert_paced(resp.arrivals, [offset * factor for offset in OFFSETS])
    if factor == 0.0:
        assert resp.arrivals[-1] < OFFSETS[-1]
