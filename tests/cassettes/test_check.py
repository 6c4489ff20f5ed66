"""`mockinfer check` reads cassettes as mockinfer does and judges them by the recorder's rules."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import yaml

from mockinfer.cassette.check import check_file

PLANTED = "PLANTEDx9QzTOKEN"
TOKEN_BYTES = base64.b64encode(json.dumps({"access_token": PLANTED}).encode()).decode()
CASSETTE = f"""\
interactions:
- request:
    body: "{{\\"service_settings\\": {{\\"api_key\\": \\"{PLANTED}\\"}}}}"
    headers:
      Cookie: ["sid={PLANTED}"]
      X-Auth-Token: ["{PLANTED}"]
      Authorization: ["ApiKey REDACTED"]
    method: PUT
    uri: http://c:9200/_inference/completion/x?access_token={PLANTED}
  response:
    body: {{string: !!binary {TOKEN_BYTES}}}
    headers: {{Content-Type: [application/json]}}
    status: {{code: 200, message: OK}}
version: 1
"""


def run_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_finds_each_planted_place_once(tmp_path: Path) -> None:
    path = tmp_path / "planted.yaml"
    path.write_text(CASSETTE)
    places = [(f.interaction, f.place) for f in check_file(path)]
    assert places == [
        (0, "request URI"),
        (0, "request header Cookie"),
        (0, "request header X-Auth-Token"),
        (0, "request body"),
        (0, "response body"),
    ]
    done = run_check(path)
    assert done.returncode == 1
    assert done.stdout.count("\n") == 5
    assert "checked 1 cassette(s): 5 possible credential(s)" in done.stderr


def test_check_reads_gzip_bodies(tmp_path: Path) -> None:
    body = gzip.compress(b'{"secret": "' + PLANTED.encode() + b'"}')
    document = {
        "interactions": [
            {
                "request": {"method": "POST", "uri": "http://c/_inference/x", "body": None},
                "response": {
                    "status": {"code": 200},
                    "headers": {"Content-Encoding": ["gzip"]},
                    "body": {"string": body},
                },
            }
        ],
        "version": 1,
    }
    path = tmp_path / "gzip.yaml"
    path.write_text(yaml.safe_dump(document))  # bytes are written as !!binary
    assert [f.place for f in check_file(path)] == ["response body"]


def stream_cassette(path: Path, datas: list[str]) -> Path:
    """A JSON cassette at `path` of one streamed answer whose events carry `datas`."""
    events = [{"offset": 0.1 * number, "data": data} for number, data in enumerate(datas)]
    document = {
        "interactions": [
            {
                "request": {"method": "POST", "uri": "http://c/_inference/completion/x/_stream"},
                "response": {
                    "status": {"code": 200},
                    "headers": {},
                    "body": {"string": ""},
                    "mockinfer": {"format": 1, "events": events},
                },
            }
        ],
        "version": 1,
    }
    path.write_text(json.dumps(document))
    return path


def test_check_reads_stream_events_of_json_cassettes(tmp_path: Path) -> None:
    path = stream_cassette(
        tmp_path / "stream.json", ['{"delta":"hi"}', json.dumps({"session_token": PLANTED})]
    )
    assert [f.place for f in check_file(path)] == ["response events[1]"]


def test_check_skips_folders_and_broken_links_and_fails_on_broken_files(tmp_path: Path) -> None:
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "clean.yaml").write_text("interactions: []\nversion: 1\n")
    (tmp_path / "broken.yaml").write_text("interactions: [\n")
    done = run_check(tmp_path)
    assert done.returncode == 2
    assert "broken.yaml is not valid YAML" in done.stderr and "Traceback" not in done.stderr
    assert "checked 2 cassette(s): 0 possible credential(s), 1 unreadable" in done.stderr


def test_check_finds_a_key_spelled_across_stream_events(tmp_path: Path) -> None:
    key = "sk-" + "Kq3" * 8
    pieces = ["here: " + key[:10], key[10:], " done"]
    datas = [json.dumps({"completion": [{"delta": piece}]}) for piece in pieces]
    findings = check_file(stream_cassette(tmp_path / "split.json", datas))
    assert [f.place for f in findings] == ["response events[0]", "response events[1]"]
    assert all("spelled across events" in str(f) for f in findings)
