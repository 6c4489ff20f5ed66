"""The cassette file: vcrpy's version-1 shape, readable and stable, safe and atomic."""

from __future__ import annotations

import difflib
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockinfer import MockInferServer
from mockinfer.cassette import format as cassette_format
from mockinfer.cassette.format import (
    CassetteData,
    CassetteError,
    Interaction,
    RecordedEvent,
    RecordedRequest,
    RecordedResponse,
    dumps,
    loads,
    read,
    write,
)
from mockinfer.cassette.store import Cassette
from tests.cassettes.standin import AUTH, StandIn, sse
from tests.server.http import JSON, raw_request

STREAM_PATH = "/_inference/completion/my-llm/_stream"
EMBED_PATH = "/_inference/text_embedding/my-e5"


@pytest.fixture
def recorded(server: MockInferServer, tmp_path: Path) -> Iterator[Path]:
    """A cassette recorded from the stand-in: a JSON answer, a stream and an error."""
    cassette = tmp_path / "recorded.yaml"
    with (
        StandIn(gaps=(0.002, 0.004), first_delay=0.003) as cluster,
        server.use_cassette(cassette, record_mode="once", upstream=cluster.url),
    ):
        for path, body in (
            (EMBED_PATH, b'{"input":["one","two"]}'),
            (STREAM_PATH, b'{"input":"a short answer"}'),
            ("/_inference/text_embedding/missing", b'{"input":"x"}'),
        ):
            raw_request(server.url, "POST", path, body, {**JSON, **AUTH})
    yield cassette


def _interaction(answer: bytes, events: tuple[RecordedEvent, ...] | None = None) -> Interaction:
    return Interaction(
        RecordedRequest("POST", "http://h:9200/_inference/completion/x", b'{"input":"i"}'),
        RecordedResponse(200, (("Content-Type", "application/json"),), answer, events),
    )


# -- shape -------------------------------------------------------------------------------


def test_the_file_has_vcrpy_version_1_shape_with_additions_only_under_response(
    recorded: Path,
) -> None:
    document = yaml.safe_load(recorded.read_text())
    assert set(document) == {"interactions", "version"} and document["version"] == 1
    assert len(document["interactions"]) == 3
    for item in document["interactions"]:
        assert set(item) == {"request", "response"}
        assert set(item["request"]) == {"body", "headers", "method", "uri"}
        assert set(item["response"]) == {"body", "headers", "status", "mockinfer"}
        assert set(item["response"]["body"]) == {"string"}
        assert set(item["response"]["status"]) == {"code", "message"}
        assert item["response"]["mockinfer"]["format"] == 1
        assert all(isinstance(v, list) for v in item["response"]["headers"].values())
    _embed, stream, missing = document["interactions"]
    assert missing["response"]["status"] == {"code": 404, "message": "Not Found"}
    assert stream["request"]["uri"].endswith(STREAM_PATH)
    assert set(stream["response"]["mockinfer"]) == {"format", "events"}
    events = stream["response"]["mockinfer"]["events"]
    assert [set(e) for e in events] == [{"offset", "event", "data"}] * len(events)
    assert events[-1]["data"] == "[DONE]"
    assert all(a["offset"] <= b["offset"] for a, b in itertools.pairwise(events))


def test_body_string_holds_the_complete_body(recorded: Path) -> None:
    document = yaml.safe_load(recorded.read_text())
    loaded = read(recorded)
    assert loaded is not None
    for item, interaction in zip(document["interactions"], loaded.interactions, strict=True):
        text = item["response"]["body"]["string"]
        response = interaction.response
        if response.events is not None:
            # A stream's body.string is the exact bytes, BOMs included.
            assert text.encode() == response.body == b"".join(e.raw for e in response.events)
            assert text.count("\ufeffevent: message\ndata: ") == len(response.events)
        else:
            # A JSON body is laid out for review; its value is the body's value.
            assert json.loads(text) == json.loads(response.body)


def test_json_bodies_are_laid_out_so_a_diff_shows_what_changed(tmp_path: Path) -> None:
    def text(value: str) -> str:
        answer = {"rerank": [{"index": 1, "relevance_score": 0.5, "text": value}], "n": [1, 2, 3]}
        return dumps(
            CassetteData([_interaction(json.dumps(answer, separators=(",", ":")).encode())])
        )

    before, after = text("old words"), text("new words")
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ['-              "text": "old words"', '+              "text": "new words"']
    assert '"n": [1, 2, 3]' in before  # a vector stays on one line


def test_output_is_stable_with_sorted_keys(recorded: Path) -> None:
    text = recorded.read_text()
    loaded = read(recorded)
    assert loaded is not None
    assert dumps(loaded) == text  # reading and writing again changes nothing
    assert dumps(loads(dumps(loaded), recorded)) == text
    document = yaml.safe_load(text)

    def sorted_everywhere(value: Any) -> bool:
        if isinstance(value, dict):
            keys = list(value)
            return keys == sorted(keys) and all(sorted_everywhere(v) for v in value.values())
        if isinstance(value, list):
            return all(sorted_everywhere(v) for v in value)
        return True

    assert sorted_everywhere(document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_json_bodies_round_trip_byte_for_byte(value: Any) -> None:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    data = loads(dumps(CassetteData([_interaction(body)])), Path("prop.yaml"))
    assert data.interactions[0].response.body == body


@settings(max_examples=100, deadline=None)
@given(
    body=st.binary(max_size=64) | st.text(max_size=64).map(str.encode),
    datas=st.lists(st.text(max_size=20).filter(lambda t: "\n" not in t), max_size=4),
    raw=st.binary(max_size=32),
)
def test_any_body_and_events_round_trip(body: bytes, datas: list[str], raw: bytes) -> None:
    events = tuple(RecordedEvent(i * 0.01, sse(d)) for i, d in enumerate(datas))
    events += (RecordedEvent(0.5, raw),)
    original = _interaction(body, events)
    data = loads(dumps(CassetteData([_interaction(body), original])), Path("prop.yaml"))
    assert data.interactions[0].response.body == body
    assert data.interactions[1].response.events == events
    assert data.interactions[1].response.body == body


# -- loading safely; problems named with the file ------------------------------------------


def test_only_safe_yaml_is_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cassette = tmp_path / "evil.yaml"
    cassette.write_text(
        f"interactions: !!python/object/apply:os.system ['touch {marker}']\nversion: 1\n"
    )
    with pytest.raises(CassetteError, match=f"cassette {cassette} is not valid YAML"):
        read(cassette)
    assert not marker.exists()


GOOD_REQUEST = "{body: null, headers: {}, method: POST, uri: 'http://h/_inference/x'}"
GOOD_RESPONSE = "body: {string: ''}, headers: {}, status: {code: 200, message: OK}"
BROKEN: dict[str, tuple[str | bytes, str]] = {
    "invalid YAML": ("interactions: [\n  - {request: \n", "is not valid YAML"),
    "not a cassette": ("just a string\n", "has no 'interactions' list"),
    "unknown vcrpy version": ("interactions: []\nversion: 2\n", "has version 2"),
    "interactions not a list": (
        "interactions: {a: 1}\nversion: 1\n",
        "'interactions' is not a list",
    ),
    "no request": (
        "interactions: [{response: {}}]\nversion: 1\n",
        "interactions[0] has no request",
    ),
    "unknown mockinfer format": (
        f"interactions:\n- request: {GOOD_REQUEST}\n  response: {{{GOOD_RESPONSE}, "
        "mockinfer: {format: 2}}\nversion: 1\n",
        "interactions[0].response.mockinfer.format is 2; this mockinfer reads format 1",
    ),
    "status not a number": (
        f"interactions:\n- request: {GOOD_REQUEST}\n  response: {{body: {{string: ''}}, "
        "headers: {}, status: {code: 'two hundred'}}\nversion: 1\n",
        "interactions[0].response.status.code is not an HTTP status (100-599)",
    ),
    "event without offset": (
        f"interactions:\n- request: {GOOD_REQUEST}\n  response: {{{GOOD_RESPONSE}, "
        "mockinfer: {format: 1, events: [{data: x}]}}\nversion: 1\n",
        "interactions[0].events[0] needs a numeric offset",
    ),
    "not UTF-8": (b"interactions: []\nversion: 1\n\xff\xfe\x00", "cannot read cassette"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_cassette_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    content, problem = BROKEN[case]
    cassette = tmp_path / "broken.yaml"
    if isinstance(content, bytes):
        cassette.write_bytes(content)
    else:
        cassette.write_text(content)
    with pytest.raises(CassetteError) as raised:
        read(cassette)
    assert str(cassette) in str(raised.value) and problem in str(raised.value)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75, 0.99])
def test_a_truncated_cassette_is_an_error_never_a_shorter_cassette(
    recorded: Path, tmp_path: Path, fraction: float
) -> None:
    text = recorded.read_text()
    truncated = tmp_path / "truncated.yaml"
    truncated.write_text(text[: int(len(text) * fraction)])
    with pytest.raises(CassetteError, match=str(truncated)):
        read(truncated)


@pytest.mark.parametrize("mode", ["none", "once", "new_episodes", "all"])
def test_a_broken_cassette_is_never_overwritten(
    server: MockInferServer, tmp_path: Path, mode: str
) -> None:
    cassette = tmp_path / "broken.yaml"
    cassette.write_text("interactions: []\nversion: 7\n")
    before = cassette.read_bytes()
    with (
        pytest.raises(CassetteError, match=f"cassette {cassette} has version 7"),
        server.use_cassette(cassette, record_mode=mode, upstream="http://127.0.0.1:9"),
    ):
        pass
    assert cassette.read_bytes() == before and server.state.cassette is None


# -- writing atomically --------------------------------------------------------------------


def _boom(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    "target",
    [
        (cassette_format, "dumps"),  # before anything is written
        (os, "fsync"),  # after the new content went to the temporary file
        (os, "replace"),  # at the rename
    ],
    ids=["dumps", "fsync", "replace"],
)
def test_a_failed_save_leaves_the_previous_cassette_intact(
    server: MockInferServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: tuple[object, str],
) -> None:
    cassette = tmp_path / "kept.yaml"
    with StandIn() as cluster:
        with server.use_cassette(cassette, record_mode="once", upstream=cluster.url):
            raw_request(server.url, "POST", EMBED_PATH, b'{"input":"first"}', {**JSON, **AUTH})
        before = cassette.read_bytes()
        with (
            pytest.raises(CassetteError, match="No space left on device; what was recorded stays"),
            server.use_cassette(
                cassette, record_mode="new_episodes", upstream=cluster.url
            ) as episodes,
        ):
            raw_request(server.url, "POST", EMBED_PATH, b'{"input":"second"}', {**JSON, **AUTH})
            assert episodes.recorded == 1
            monkeypatch.setattr(*target, _boom)
    monkeypatch.undo()
    assert cassette.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kept.yaml.journal", "kept.yaml"]
    reopened = Cassette(cassette)  # nothing recorded is lost: the journal is folded in
    assert [i.request.body for i in reopened.interactions] == [
        b'{"input":"first"}',
        b'{"input":"second"}',
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["kept.yaml"]


def test_replaying_writes_nothing(recorded: Path, server: MockInferServer) -> None:
    before = recorded.stat().st_mtime_ns, recorded.read_bytes()
    for mode in ("none", "once", "new_episodes"):
        with server.use_cassette(
            recorded, record_mode=mode, upstream="http://127.0.0.1:9", timing="instant"
        ):
            resp = raw_request(server.url, "POST", STREAM_PATH, b'{"input":"a short answer"}', JSON)
            assert resp.status == 200
    assert (recorded.stat().st_mtime_ns, recorded.read_bytes()) == before


def test_write_creates_folders_and_reads_back(tmp_path: Path) -> None:
    cassette = tmp_path / "deep" / "er" / "c.yaml"
    data = CassetteData([_interaction(b'{"completion":[{"result":"x"}]}')])
    write(cassette, data)
    assert read(cassette) == data
    assert read(tmp_path / "absent.yaml") is None


def test_a_rewritten_cassette_keeps_its_permissions(tmp_path: Path) -> None:
    cassette = tmp_path / "shared.yaml"
    cassette.write_text("interactions: []\nversion: 1\n")
    cassette.chmod(0o644)
    write(cassette, CassetteData([_interaction(b'{"ok":true}')]))
    assert cassette.stat().st_mode & 0o777 == 0o644


def test_a_laid_out_body_announces_its_own_length_to_vcrpy() -> None:
    body = json.dumps({"text_embedding": [{"embedding": [0.1, 0.2]}]}, separators=(",", ":"))
    response = RecordedResponse(
        200,
        (("Content-Type", "application/json"), ("Content-Length", str(len(body)))),
        body.encode(),
    )
    request = RecordedRequest("POST", "http://c/_inference/text_embedding/x", b'{"input":"a"}')
    document = yaml.safe_load(dumps(CassetteData([Interaction(request, response)])))
    stored = document["interactions"][0]["response"]
    assert stored["body"]["string"] != body  # laid out, one member per line
    assert stored["headers"]["Content-Length"] == [str(len(stored["body"]["string"].encode()))]


def test_a_vcrpy_request_body_kept_as_a_mapping_loads(tmp_path: Path) -> None:
    path = tmp_path / "aiohttp-json.yaml"
    path.write_text(
        "interactions:\n- request:\n    body: {input: hello}\n    method: POST\n"
        "    uri: http://c/_inference/completion/x\n  response:\n    body: {string: '{}'}\n"
        "    status: {code: 200, message: OK}\nversion: 1\n"
    )
    data = read(path)
    assert data is not None and data.interactions[0].request.body == b'{"input":"hello"}'


def test_offsets_are_kept_to_a_tenth_of_a_millisecond() -> None:
    response = RecordedResponse(
        200, (), b"", (RecordedEvent(0.123456789, b"\xef\xbb\xbfevent: message\ndata: x\n\n"),)
    )
    request = RecordedRequest("POST", "http://c/_inference/completion/x/_stream")
    document = yaml.safe_load(dumps(CassetteData([Interaction(request, response)])))
    assert document["interactions"][0]["response"]["mockinfer"]["events"][0]["offset"] == 0.1235
