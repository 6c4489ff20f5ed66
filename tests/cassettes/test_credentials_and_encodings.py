"""Credentials in upstream URLs never reach a cassette; recorded encodings replay decoded."""

from __future__ import annotations

import base64
import gzip
import subprocess
import sys
from pathlib import Path

from mockinfer.cassette.check import check_file
from mockinfer.cassette.format import (
    CassetteData,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    write,
)
from mockinfer.cassette.redact import Redactor
from mockinfer.cassette.store import Cassette
from mockinfer.engines.cassettes import CassetteEngine
from mockinfer.engines.record import Recorder
from mockinfer.wire.results import Recorded


def test_user_info_leaves_the_upstream_url_and_becomes_basic_auth() -> None:
    recorder = Recorder("https://elastic:s3cr%40t@my-cluster:9200/")
    assert recorder.upstream == "https://my-cluster:9200"
    assert recorder._basic == "Basic " + base64.b64encode(b"elastic:s3cr@t").decode()


def test_redactor_strips_user_info_and_check_flags_it(tmp_path: Path) -> None:
    assert Redactor().uri("http://elastic:changeme@host:9200/_inference?api_key=x") == (
        "http://host:9200/_inference?api_key=REDACTED"
    )
    leaked = tmp_path / "userinfo.yaml"
    request = RecordedRequest("GET", "http://elastic:changeme@127.0.0.1:9200/_inference")
    write(leaked, CassetteData([Interaction(request, RecordedResponse(200, (), b"{}"))]))
    (finding,) = check_file(leaked)
    assert str(finding) == "interactions[0] request URI: a credential's shape"


def test_check_reports_a_missing_path_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", "check", str(tmp_path / "absent.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr and "Traceback" not in result.stderr


def test_a_gzip_body_recorded_by_vcrpy_replays_decoded(tmp_path: Path) -> None:
    body = b'{"completion":[{"result":"hi"}]}'
    response = RecordedResponse(
        200,
        (
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "40"),
        ),
        gzip.compress(body),
    )
    engine = CassetteEngine(Cassette(tmp_path / "none.yaml", record_mode="none"))
    reply = engine.replay(Interaction(RecordedRequest("POST", "http://h/_inference/x"), response))
    assert isinstance(reply, Recorded)
    assert reply.body == body
    assert reply.headers == (("Content-Type", "application/json"),)
