"""The reply chain over cassettes: faults first, then stubs, then the cassette, then synthesis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import ApiError, Elasticsearch

from mockinfer import MockInferServer
from mockinfer.cassette.format import read
from mockinfer.wire.sse import decode_events
from tests.cassettes.standin import AUTH, StandIn
from tests.server.http import JSON, raw_request

LLM_PATH = "/_inference/completion/my-llm"
STREAM_PATH = LLM_PATH + "/_stream"
PUT_BODY = {"service": "openai", "service_settings": {"api_key": "sk-x", "model_id": "gpt-4o"}}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(gaps=(0.002,), first_delay=0.001) as cluster:
        yield cluster


def send(server: MockInferServer, path: str, body: object, method: str = "POST") -> bytes:
    resp = raw_request(server.url, method, path, json.dumps(body).encode(), {**JSON, **AUTH})
    assert resp.status == 200, resp.body
    return resp.body


@pytest.fixture
def recorded(server: MockInferServer, standin: StandIn, tmp_path: Path) -> Path:
    """A cassette of a completion and a completion stream, recorded from the stand-in."""
    cassette = tmp_path / "session.yaml"
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        send(server, LLM_PATH, {"input": "hello there"})
        send(server, STREAM_PATH, {"input": "one two three four"})
    server.reset()
    return cassette


def test_a_stub_wins_over_the_cassette_and_leaves_it_unplayed(
    server: MockInferServer, recorded: Path
) -> None:
    server.stub(inference_id="my-llm", text="stubbed answer")
    with server.use_cassette(recorded, timing="instant") as cassette:
        body = json.loads(send(server, LLM_PATH, {"input": "hello there"}))
        assert len(cassette.index.unplayed()) == 2
    assert body == {"completion": [{"result": "stubbed answer"}]}
    (call,) = server.calls
    assert call.source == "stub"


def test_an_unstubbed_request_still_replays(server: MockInferServer, recorded: Path) -> None:
    server.stub(inference_id="my-llm", match="something else", text="stubbed")
    with server.use_cassette(recorded, timing="instant"):
        body = json.loads(send(server, LLM_PATH, {"input": "hello there"}))
    assert body["completion"][0]["result"].startswith("Echo:")
    assert server.calls[0].source == "cassette"


def test_a_stubbed_request_is_never_recorded(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "new.yaml"
    server.stub(inference_id="my-llm", match="local", text="answered here")
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        send(server, LLM_PATH, {"input": "local"})
        send(server, LLM_PATH, {"input": "remote"})
    assert standin.count == 1
    (kept,) = read(cassette).interactions
    assert json.loads(kept.request.body) == {"input": "remote"}
    assert [c.source for c in server.calls] == ["stub", "upstream"]


@pytest.mark.parametrize(
    ("rule", "kinds", "ending"),
    [
        ({"error_after": 2}, ["message", "message", "error"], "error"),
        ({"truncate_after": 1}, ["message"], "truncated"),
        ({"event_delay": 0.01}, ["message"] * 5 + ["message"], "done"),
    ],
)
def test_faults_reshape_a_replayed_stream(
    server: MockInferServer,
    recorded: Path,
    rule: dict[str, object],
    kinds: list[str],
    ending: str,
) -> None:
    server.fault(inference_id="my-llm", **rule)
    with server.use_cassette(recorded, timing="instant"):
        body = send(server, STREAM_PATH, {"input": "one two three four"})
    events = decode_events(body)
    assert [e.event for e in events] == kinds
    assert (events[-1].data == "[DONE]") == (ending == "done")
    (call,) = server.calls
    assert (call.source, call.ending) == ("cassette", ending)
    assert call.fault is not None


def test_a_replayed_stream_without_faults_is_byte_for_byte(
    server: MockInferServer, recorded: Path
) -> None:
    (_, stream) = read(recorded).interactions
    with server.use_cassette(recorded, timing="instant"):
        assert send(server, STREAM_PATH, {"input": "one two three four"}) == stream.response.body


def test_a_fault_answers_instead_of_recording(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "faulted.yaml"
    server.fault(inference_id="my-llm", status=429, times=1)
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        first = raw_request(server.url, "POST", LLM_PATH, b'{"input":"a"}', {**JSON, **AUTH})
        send(server, LLM_PATH, {"input": "a"})
    assert first.status == 429 and standin.count == 1
    assert len(read(cassette).interactions) == 1


@pytest.mark.parametrize(
    ("rule", "kinds"),
    [
        ({"error_after": 1}, ["message", "error"]),
        ({"truncate_after": 2}, ["message", "message"]),
        ({"delay": 0.01}, ["message", "message", "message", "message"]),
    ],
)
def test_a_fault_while_recording_shapes_the_relay_and_keeps_what_the_cluster_sent(
    server: MockInferServer,
    standin: StandIn,
    tmp_path: Path,
    rule: dict[str, object],
    kinds: list[str],
) -> None:
    cassette = tmp_path / "cut.yaml"
    server.fault(inference_id="my-llm", **rule)
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url):
        recorded = send(server, STREAM_PATH, {"input": "one two"})
    assert [e.event for e in decode_events(recorded)] == kinds
    (kept,) = read(cassette).interactions
    assert kept.response.body.endswith(b"data: [DONE]\n\n")
    assert server.calls[0].source == "upstream"
    server.calls.clear()
    with server.use_cassette(cassette, record_mode="once", upstream=standin.url):
        replayed = send(server, STREAM_PATH, {"input": "one two"})
    assert replayed == recorded and standin.count == 1
    assert server.calls[0].source == "cassette"


def test_replayed_endpoint_changes_reach_the_registry(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "crud.yaml"
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        send(server, "/_inference/completion/my-llm", PUT_BODY, method="PUT")
    server.reset()
    assert not server.backend.has("my-llm")
    with server.use_cassette(cassette, fallback="synthesize"):
        send(server, "/_inference/completion/my-llm", PUT_BODY, method="PUT")
        assert server.backend.has("my-llm")
        synthesized = json.loads(send(server, LLM_PATH, {"input": "not recorded"}))
    assert synthesized["completion"][0]["result"]
    assert [c.source for c in server.calls] == ["cassette", "synthesis"]


def test_a_stub_answers_an_endpoint_only_the_recorded_cluster_had(
    server: MockInferServer, recorded: Path
) -> None:
    server.stub(inference_id="my-llm", error=(429, "status_exception", "slow down"))
    with (
        server.use_cassette(recorded),
        Elasticsearch(server.url, max_retries=0) as es,
        pytest.raises(ApiError) as info,
    ):
        es.inference.completion(inference_id="my-llm", input="hello there")
    assert info.value.meta.status == 429
    assert not server.backend.has("my-llm")


def test_a_vector_stub_does_not_answer_half_a_batch_for_a_stand_in_endpoint(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "batch.yaml"
    path = "/_inference/text_embedding/my-e5"
    with server.use_cassette(cassette, record_mode="all", upstream=standin.url):
        send(server, path, {"input": ["a", "b"]})
    server.stub(inference_id="my-e5", match="a", result=[0.5, 0.5, 0.5])
    with server.use_cassette(cassette):
        body = json.loads(send(server, path, {"input": ["a", "b"]}))
    assert all(len(item["embedding"]) == 8 for item in body["text_embedding"])
    assert server.calls[-1].source == "cassette"
    server.stub(inference_id="my-e5", match="b", result=[0.25, 0.25, 0.25])
    with server.use_cassette(cassette):
        both = json.loads(send(server, path, {"input": ["a", "b"]}))
    assert [item["embedding"] for item in both["text_embedding"]] == [[0.5] * 3, [0.25] * 3]
    assert server.calls[-1].source == "stub"


def test_a_failing_before_record_hook_is_a_failure_not_a_lost_answer(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    def broken(interaction: object) -> None:
        raise RuntimeError("hook broke")

    cassette = tmp_path / "hooked.yaml"
    with server.use_cassette(
        cassette, record_mode="all", upstream=standin.url, before_record=broken
    ):
        body = json.loads(send(server, LLM_PATH, {"input": "hello there"}))
    assert body["completion"][0]["result"].startswith("Echo:")
    (failure,) = server.take_failures()
    assert "the recording of POST /_inference/completion/my-llm was not kept" in str(failure)
    assert not cassette.exists()


def test_two_recorders_of_one_cassette_lose_nothing(standin: StandIn, tmp_path: Path) -> None:
    cassette = tmp_path / "shared.yaml"
    with (
        MockInferServer() as first,
        MockInferServer() as second,
        first.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url),
        second.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url),
    ):
        for n in range(3):
            send(first, LLM_PATH, {"input": f"first {n}"})
            send(second, LLM_PATH, {"input": f"second {n}"})
    bodies = sorted(json.loads(i.request.body)["input"] for i in read(cassette).interactions)
    assert bodies == sorted([f"first {n}" for n in range(3)] + [f"second {n}" for n in range(3)])
    assert [p.name for p in tmp_path.iterdir()] == ["shared.yaml"]


def test_the_same_exchange_recorded_by_two_recorders_is_kept_twice(
    standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "twice.yaml"
    with (
        MockInferServer() as first,
        MockInferServer() as second,
        first.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url),
        second.use_cassette(cassette, record_mode="new_episodes", upstream=standin.url),
    ):
        send(first, LLM_PATH, {"input": "same"})
        send(second, LLM_PATH, {"input": "same"})
    assert len(read(cassette).interactions) == 2


def test_a_journal_line_cut_short_spoils_nothing_else(tmp_path: Path) -> None:
    from mockinfer.cassette import journal
    from mockinfer.cassette.format import Interaction, RecordedRequest, RecordedResponse
    from mockinfer.cassette.store import Cassette

    cassette = tmp_path / "torn.yaml"

    def recorded(text: str) -> Interaction:
        request = RecordedRequest(
            "POST", "http://c" + LLM_PATH, json.dumps({"input": text}).encode()
        )
        return Interaction(request, RecordedResponse(200, (), b'{"ok":true}'))

    journal.append(cassette, recorded("before"), writer="w", record_mode="once")
    with open(journal.journal_path(cassette), "ab") as handle:
        handle.write(b'{"request": {"method": "PO')  # a full disk cut this write short
    journal.append(cassette, recorded("after"), writer="w", record_mode="once")
    inputs = [json.loads(i.request.body)["input"] for i in Cassette(cassette).interactions]
    assert inputs == ["before", "after"]
    assert [p.name for p in tmp_path.iterdir()] == ["torn.yaml"]
