"""`mockinfer cassette inspect | retime | scrub`, on the shipped examples and on cassettes
written in the tests, replayed afterwards where timing is what changed."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from mockinfer import MockInferServer
from mockinfer.cassette.check import check_file
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    read,
    write,
)
from mockinfer.cli import main
from tests.cassettes.standin import AUTH, StandIn, assert_paced, timed_request
from tests.cassettes.test_planted_secrets import BODY, HEADERS, QUERY, secret

EXAMPLES = Path(__file__).resolve().parents[2] / "cassettes"
STREAM = EXAMPLES / "completion_stream.yaml"


def offsets(path: Path) -> list[float]:
    data = read(path)
    assert data is not None
    events = data.interactions[0].response.events
    assert events is not None
    return [e.offset for e in events]


def waits(path: Path) -> list[float]:
    times = offsets(path)
    return [times[0]] + [b - a for a, b in itertools.pairwise(times)]


def test_inspect_lists_every_interaction_and_draws_each_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cassette", "inspect", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    for name in ("completion_stream", "rerank", "text_embedding", "sparse_embedding"):
        assert f"{name}.yaml: 1 interaction(s)" in out
    assert "/_inference/rerank/cohere-rerank" in out and "cohere-rerank" in out
    assert out.count("stream #0: 0 [") == 2  # the two streamed examples
    first = offsets(STREAM)[0] * 1000
    assert f"first event at {first:.1f} ms" in out


def test_inspect_reports_what_it_cannot_read_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.yaml").write_text("interactions: [\n")
    shutil.copy(STREAM, tmp_path / "good.yaml")
    assert main(["cassette", "inspect", str(tmp_path), str(tmp_path / "missing")]) == 2
    captured = capsys.readouterr()
    assert "good.yaml: 1 interaction(s)" in captured.out
    assert "broken.yaml is not valid YAML" in captured.err
    assert "no such file or folder" in captured.err


@pytest.mark.asyncio
async def test_retime_by_a_factor_then_replay_keeps_the_new_rhythm(tmp_path: Path) -> None:
    cassette = tmp_path / "stream.yaml"
    shutil.copy(STREAM, cassette)
    before = offsets(cassette)
    assert main(["cassette", "retime", str(cassette), "--factor", "0.5"]) == 0
    after = offsets(cassette)
    assert after == pytest.approx([o * 0.5 for o in before], abs=1e-4)
    request = read(cassette).interactions[0].request  # type: ignore[union-attr]
    with MockInferServer() as server, server.use_cassette(cassette, timing="recorded"):
        path = request.uri[request.uri.index("/_inference") :]
        replay = await timed_request(server.url, path, json.loads(request.body))
    assert replay.status == 200
    assert_paced(replay.arrivals, after)
    assert replay.arrivals[-1] < before[-1]  # the old rhythm would take twice as long


def test_retime_caps_or_sets_every_wait(tmp_path: Path) -> None:
    cassette = tmp_path / "stream.yaml"
    shutil.copy(STREAM, cassette)
    assert main(["cassette", "retime", str(cassette), "--cap", "0.03"]) == 0
    assert max(waits(cassette)) <= 0.03 + 1e-9
    assert main(["cassette", "retime", str(cassette), "--gap", "0.01"]) == 0
    assert waits(cassette) == pytest.approx([0.01] * len(waits(cassette)), abs=1e-4)


@pytest.mark.parametrize(
    "options",
    [[], ["--factor", "0"], ["--cap", "-1"], ["--gap", "nan"], ["--factor", "2", "--cap", "1"]],
)
def test_retime_refuses_unclear_or_impossible_timing(tmp_path: Path, options: list[str]) -> None:
    cassette = tmp_path / "stream.yaml"
    shutil.copy(STREAM, cassette)
    with pytest.raises(SystemExit) as refused:
        main(["cassette", "retime", str(cassette), *options])
    assert refused.value.code == 2
    assert cassette.read_bytes() == STREAM.read_bytes()


def planted_cassette() -> CassetteData:
    """A recording nobody redacted: secrets in the URI, headers and both bodies."""
    request = RecordedRequest(
        "PUT",
        "http://cluster:9200/_inference/completion/custom-1?" + urlencode(QUERY),
        json.dumps(BODY, separators=(",", ":")).encode(),
        tuple(HEADERS.items()),
    )
    answer = {"inference_id": "custom-1", "service_settings": {"api_key": secret(90)}}
    response = RecordedResponse(
        200,
        (("Content-Type", "application/json"), ("X-Api-Key", secret(91))),
        json.dumps(answer, separators=(",", ":")).encode(),
    )
    clean = Interaction(
        RecordedRequest("GET", "http://cluster:9200/_inference/_all"),
        RecordedResponse(200, (("Content-Type", "application/json"),), b'{"endpoints":[]}'),
    )
    return CassetteData([clean, Interaction(request, response)])


def test_scrub_removes_every_planted_secret_and_changes_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "leaky.yaml"
    write(cassette, planted_cassette())
    original = cassette.read_text()
    assert main(["cassette", "scrub", "--dry-run", str(cassette)]) == 1
    assert "would scrub interactions[1]" in capsys.readouterr().out
    assert cassette.read_text() == original

    assert main(["cassette", "scrub", str(cassette)]) == 0
    scrubbed = cassette.read_text()
    assert "PLANTED" not in scrubbed
    assert check_file(cassette) == []
    before, after = original.splitlines(), scrubbed.splitlines()
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old == new or "PLANTED" in old, (old, new)
    assert main(["cassette", "scrub", "--dry-run", str(cassette)]) == 0


def test_scrub_cleans_a_vcrpy_cassette_that_vcrpy_still_reads(tmp_path: Path) -> None:
    cassette = tmp_path / "vcr.yaml"
    document = {
        "interactions": [
            {
                "request": {
                    "body": '{"input":"x"}',
                    "headers": {"Authorization": [f"ApiKey {secret(92)}"]},
                    "method": "POST",
                    "uri": f"http://cluster:9200/_inference/text_embedding/e5?api_key={secret(93)}",
                },
                "response": {
                    "body": {"string": '{"text_embedding":[{"embedding":[0.5]}]}'},
                    "headers": {"Content-Type": ["application/json"]},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
    cassette.write_text(yaml.safe_dump(document))
    assert main(["cassette", "scrub", str(cassette)]) == 0
    assert "PLANTED" not in cassette.read_text()
    requests, responses = FilesystemPersister.load_cassette(str(cassette), yamlserializer)
    assert requests[0].headers["Authorization"] == "ApiKey REDACTED"
    assert json.loads(responses[0]["body"]["string"]) == {"text_embedding": [{"embedding": [0.5]}]}


def embedding_cassette(path: Path, vector: list[float], status: int = 200) -> None:
    request = RecordedRequest(
        "POST", "http://cluster:9200/_inference/text_embedding/e5", b'{"input":"harbour"}'
    )
    answer = {"text_embedding": [{"embedding": vector}]}
    response = RecordedResponse(
        status, (("Content-Type", "application/json"),), json.dumps(answer).encode()
    )
    write(path, CassetteData([Interaction(request, response)]))


def test_diff_summarises_vectors_and_names_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    embedding_cassette(old, [1.0, 0.0] * 192)
    embedding_cassette(new, [1.0, 1.0] * 192, status=201)
    assert main(["cassette", "diff", str(old), str(old)]) == 0
    assert main(["cassette", "diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "status 200 -> 201" in out
    assert (
        "body.text_embedding[0].embedding: a vector of 384 dimensions changed "
        "(norm 13.8564 -> 19.5959, cosine 0.7071)"
    ) in out
    assert "0.0" not in out  # no values listed


def test_diff_reports_stream_timing_and_interactions_on_one_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slower = tmp_path / "slower.yaml"
    shutil.copy(STREAM, slower)
    assert main(["cassette", "retime", str(slower), "--factor", "2"]) == 0
    first_wait = offsets(STREAM)[0] * 1000
    capsys.readouterr()
    assert main(["cassette", "diff", str(STREAM), str(slower), "--timing", "0.2"]) == 1
    out = capsys.readouterr().out
    assert f"events[0] waits {first_wait:.1f} ms -> {2 * first_wait:.1f} ms" in out
    assert out.count("waits") == sum(w > 0.2 for w in waits(STREAM))
    assert main(["cassette", "diff", str(STREAM), str(EXAMPLES / "rerank.yaml")]) == 1
    out = capsys.readouterr().out
    assert "only in the first: #0 POST /_inference/completion/openai-completion/_stream" in out
    assert "only in the second: POST /_inference/rerank/cohere-rerank" in out
    assert main(["cassette", "diff", str(STREAM), str(tmp_path / "missing.yaml")]) == 2


def test_rewrites_that_would_break_a_cassette_leave_it_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "stream.yaml"
    shutil.copy(STREAM, cassette)
    assert main(["cassette", "retime", str(cassette), "--factor", "1e308"]) == 0
    before = cassette.read_bytes()
    assert main(["cassette", "retime", str(cassette), "--factor", "1e308"]) == 2
    assert "would not be finite" in capsys.readouterr().err
    assert cassette.read_bytes() == before
    as_json = tmp_path / "vcr.json"
    as_json.write_text(json.dumps({"interactions": [], "version": 1}))
    assert main(["cassette", "scrub", str(as_json)]) == 2
    assert json.loads(as_json.read_text()) == {"interactions": [], "version": 1}


def test_scrub_keeps_content_length_true_to_the_body(tmp_path: Path) -> None:
    cassette = tmp_path / "length.yaml"
    body = json.dumps({"api_key": secret(94), "ok": True}).encode()
    response = RecordedResponse(
        200, (("Content-Type", "text/plain"), ("Content-Length", str(len(body)))), body
    )
    request = RecordedRequest("GET", "http://cluster:9200/x")
    write(cassette, CassetteData([Interaction(request, response)]))
    assert main(["cassette", "scrub", str(cassette)]) == 0
    assert secret(94) not in cassette.read_text()
    # What vcrpy serves: body.string as stored, under the Content-Length stored with it.
    stored = yaml.safe_load(cassette.read_text())["interactions"][0]["response"]
    assert stored["headers"]["Content-Length"] == [str(len(stored["body"]["string"].encode()))]


def test_inspect_shows_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "odd.yaml"
    request = RecordedRequest("GET", "http://cluster:9200/_inference/a\x1b]0;owned\x07")
    write(cassette, CassetteData([Interaction(request, RecordedResponse(200, (), b"{}"))]))
    assert main(["cassette", "inspect", str(cassette)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b]0;owned\\x07" in out


@pytest.mark.asyncio
async def test_the_commands_on_a_cassette_recorded_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "recorded" / "session.yaml"
    stream_path = "/_inference/completion/my-llm/_stream"
    with (
        StandIn(gaps=(0.004, 0.002), first_delay=0.003) as cluster,
        MockInferServer() as server,
        server.use_cassette(cassette, record_mode="once", upstream=cluster.url),
    ):
        live = await timed_request(server.url, stream_path, {"input": "one two"}, AUTH)
        embedded = await timed_request(
            server.url, "/_inference/text_embedding/my-e5", {"input": "harbour"}, AUTH
        )
    assert live.status == embedded.status == 200
    assert main(["cassette", "inspect", str(cassette.parent)]) == 0
    out = capsys.readouterr().out
    assert "session.yaml: 2 interaction(s)" in out and "my-llm" in out and "my-e5" in out
    assert out.count("stream #") == 1
    assert main(["cassette", "scrub", "--dry-run", str(cassette)]) == 0  # recorded redacted
    page = tmp_path / "report.html"
    assert main(["cassette", "report", str(cassette.parent), "--html", str(page)]) == 0
    assert page.read_text().count('<svg class="timeline"') == 1
    copy = tmp_path / "copy.yaml"
    shutil.copy(cassette, copy)
    assert main(["cassette", "retime", str(copy), "--gap", "0.001"]) == 0
    assert main(["cassette", "diff", str(cassette), str(copy), "--timing", "0"]) == 1
    assert "waits" in capsys.readouterr().out
