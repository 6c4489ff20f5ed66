"""`mockinfer serve --cassette ...` and `mockinfer check`, as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch

from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    read,
    write,
)
from mockinfer.cassette.store import Cassette
from tests.cassettes.standin import API_KEY, StandIn
from tests.server.http import JSON, raw_request

CLI = [sys.executable, "-m", "mockinfer.cli"]
STREAM = "/_inference/completion/my-llm/_stream"
E5 = ".multilingual-e5-small-elasticsearch"


class Serve:
    """A `mockinfer serve` process on a free port."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MOCKINFER_")}
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.stop()

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal the process; its exit code and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        if serve.proc.poll() is None:
            serve.proc.kill()
            serve.proc.communicate()


def test_serve_records_through_the_upstream_then_replays_offline(
    serves: list[Serve], tmp_path: Path
) -> None:
    cassette = tmp_path / "cli.yaml"
    stream_body = b'{"input":"one two three"}'
    with StandIn(gaps=(0.004, 0.002), first_delay=0.003) as cluster:
        recorder = Serve(
            "--cassette",
            str(cassette),
            "--record-mode",
            "once",
            "--upstream",
            cluster.url,
            "--timing",
            "instant",
            env={"MOCKINFER_UPSTREAM_API_KEY": API_KEY},
        )
        serves.append(recorder)
        # The client has no credentials: the key from the environment is sent upstream.
        with Elasticsearch(recorder.url) as es:
            live = es.inference.text_embedding(inference_id="my-e5", input="cli").body
        live_stream = raw_request(recorder.url, "POST", STREAM, stream_body, JSON)
        assert live_stream.status == 200 and live_stream.body.endswith(b"data: [DONE]\n\n")
        code, err = recorder.stop()
        assert [r.headers["Authorization"] for r in cluster.received] == [f"ApiKey {API_KEY}"] * 2
    assert code == 0 and f"wrote 2 interactions to {cassette}" in err
    assert API_KEY not in cassette.read_text()

    replayer = Serve("--cassette", str(cassette), "--timing", "0.5")
    serves.append(replayer)
    with Elasticsearch(replayer.url) as es:
        assert es.inference.text_embedding(inference_id="my-e5", input="cli").body == live
    replayed = raw_request(replayer.url, "POST", STREAM, stream_body, JSON)
    assert (replayed.status, replayed.body) == (live_stream.status, live_stream.body)
    miss = raw_request(replayer.url, "POST", STREAM, b'{"input":"not recorded"}', JSON)
    assert miss.json()["error"]["type"] == "replay_miss_exception"
    assert "nearest recorded: POST /_inference/completion/my-llm/_stream" in miss.body.decode()
    before = cassette.read_bytes()
    assert replayer.stop()[0] == 0 and cassette.read_bytes() == before


def test_serve_fallback_synthesize_and_match_on(serves: list[Serve], tmp_path: Path) -> None:
    cassette = tmp_path / "fallback.yaml"
    recorded = Interaction(
        RecordedRequest(
            "POST", "http://elsewhere:9200/_inference/completion/llm", b'{"input":"a"}'
        ),
        RecordedResponse(200, (("Content-Type", "application/json"),), b'{"from":"cassette"}'),
    )
    write(cassette, CassetteData([recorded]))
    serve = Serve(
        "--cassette", str(cassette), "--fallback", "synthesize", "--match-on", "method,path"
    )
    serves.append(serve)
    other_body = raw_request(
        serve.url, "POST", "/_inference/completion/llm", b'{"input":"b"}', JSON
    )
    assert other_body.json() == {"from": "cassette"}  # the body is not matched
    synthesized = raw_request(
        serve.url, "POST", f"/_inference/text_embedding/{E5}", b'{"input":"x"}', JSON
    )
    assert len(synthesized.json()["text_embedding"][0]["embedding"]) == 384
    assert serve.stop()[0] == 0


def test_upstream_defaults_to_the_environment(serves: list[Serve], tmp_path: Path) -> None:
    cassette = tmp_path / "env.yaml"
    with StandIn() as cluster:
        serve = Serve(
            "--cassette",
            str(cassette),
            "--record-mode",
            "new_episodes",
            env={"MOCKINFER_UPSTREAM": cluster.url, "MOCKINFER_UPSTREAM_API_KEY": API_KEY},
        )
        serves.append(serve)
        resp = raw_request(
            serve.url, "POST", "/_inference/rerank/my-rerank", b'{"query":"q","input":["a"]}', JSON
        )
        assert resp.status == 200 and cluster.count == 1
        assert serve.stop(signal.SIGINT)[0] == 0
        upstream = cluster.url
    loaded = read(cassette)
    assert loaded is not None and len(loaded.interactions) == 1
    assert loaded.interactions[0].request.uri == upstream + "/_inference/rerank/my-rerank"


def test_sigkill_while_recording_leaves_the_previous_cassette_intact(
    serves: list[Serve], tmp_path: Path
) -> None:
    cassette = tmp_path / "previous.yaml"
    old = Interaction(
        RecordedRequest("POST", "http://c/_inference/completion/my-llm", b'{"input":"old"}'),
        RecordedResponse(200, (("Content-Type", "application/json"),), b'{"old":true}'),
    )
    write(cassette, CassetteData([old]))
    before = cassette.read_bytes()
    with StandIn(gaps=(0.25,), first_delay=0.01) as cluster:
        serve = Serve(
            "--cassette",
            str(cassette),
            "--record-mode",
            "all",
            "--upstream",
            cluster.url,
            env={"MOCKINFER_UPSTREAM_API_KEY": API_KEY},
        )
        serves.append(serve)
        done = raw_request(
            serve.url, "POST", "/_inference/completion/my-llm", b'{"input":"a"}', JSON
        )
        assert done.status == 200  # one interaction recorded, in memory
        parts = urlsplit(serve.url)
        body = b'{"input":"a stream that is cut short"}'
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(
                f"POST {STREAM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            received = b""
            while b"data: " not in received:  # the first event has been relayed live
                received += sock.recv(65536)
            code, _ = serve.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
    assert cassette.read_bytes() == before
    # The interaction that completed is safe in the journal; the one in flight is lost.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".previous.yaml.journal", "previous.yaml"]
    Cassette(cassette)  # the next process to open the cassette folds the journal in
    folded = read(cassette)
    assert folded is not None
    # Recorded in `all` mode, the journal replaces the file as the save would have.
    assert [i.request.body for i in folded.interactions] == [b'{"input":"a"}']
    assert [p.name for p in tmp_path.iterdir()] == ["previous.yaml"]


BAD: dict[str, tuple[str, tuple[str, ...], str]] = {
    "corrupt": ("interactions: [\n", (), "is not valid YAML"),
    "unknown-version": (
        "interactions: []\nversion: 3\n",
        ("--record-mode", "all", "--upstream", "http://127.0.0.1:9"),
        "has version 3",
    ),
    "bad-timing": ("interactions: []\nversion: 1\n", ("--timing", "slow"), "timing must be"),
}


def test_serve_refuses_a_bad_cassette_or_setting(tmp_path: Path) -> None:
    running = {}
    for name, (content, args, _) in BAD.items():
        cassette = tmp_path / f"{name}.yaml"
        cassette.write_text(content)
        running[name] = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--cassette", str(cassette), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, proc in running.items():
        content, _, message = BAD[name]
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out) == (2, ""), name
        assert message in err and "Traceback" not in err, err
        if name != "bad-timing":
            assert str(tmp_path / f"{name}.yaml") in err
        assert (tmp_path / f"{name}.yaml").read_text() == content


def test_check_exit_codes(tmp_path: Path) -> None:
    clean = Interaction(
        RecordedRequest(
            "PUT",
            "http://c/_inference/completion/x",
            json.dumps({"service": "openai", "service_settings": {"api_key": "REDACTED"}}).encode(),
            (("Authorization", "ApiKey REDACTED"),),
        ),
        RecordedResponse(200, (("Content-Type", "application/json"),), b'{"ok":true}'),
    )
    leaked = Interaction(
        RecordedRequest(
            "PUT",
            "http://c/_inference/completion/x",
            b'{"service":"openai","service_settings":{"api_key":"sk-proj-abcdefghijklmnopqrstuvwx"}}',
        ),
        clean.response,
    )
    write(tmp_path / "clean" / "clean.yaml", CassetteData([clean]))
    write(tmp_path / "dirty" / "clean.yaml", CassetteData([clean]))
    write(tmp_path / "dirty" / "nested" / "leaked.yaml", CassetteData([clean, leaked]))
    ok, bad = (
        subprocess.Popen(
            [*CLI, "check", str(tmp_path / folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in ("clean", "dirty")
    )
    ok_out, ok_err = ok.communicate(timeout=30)
    assert ok.returncode == 0 and ok_out == ""
    assert "checked 1 cassette(s): 0 possible credential(s)" in ok_err
    bad_out, bad_err = bad.communicate(timeout=30)
    assert bad.returncode == 1
    assert "checked 2 cassette(s)" in bad_err
    assert f"{tmp_path / 'dirty' / 'nested' / 'leaked.yaml'}:" in bad_out
    assert "a credential's shape" in bad_out and "clean.yaml" not in bad_out


def test_sighup_saves_what_was_recorded(serves: list[Serve], tmp_path: Path) -> None:
    cassette = tmp_path / "hangup.yaml"
    with StandIn() as cluster:
        serve = Serve(
            "--cassette",
            str(cassette),
            "--record-mode",
            "once",
            "--upstream",
            cluster.url,
            env={"MOCKINFER_UPSTREAM_API_KEY": API_KEY},
        )
        serves.append(serve)
        raw_request(serve.url, "POST", "/_inference/completion/my-llm", b'{"input":"a"}', JSON)
        code, err = serve.stop(signal.SIGHUP)
    assert code == 0 and "wrote 1 interactions" in err
    assert [p.name for p in tmp_path.iterdir()] == ["hangup.yaml"]
