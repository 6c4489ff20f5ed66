"""Hostile or broken cassettes are refused with a message naming the file and the interaction."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockinfer.cassette.format import CassetteError, read


def cassette(tmp_path: Path, response: dict[str, Any], headers: Any = None) -> Path:
    """A one-interaction cassette written by a YAML dumper, so any value can be planted."""
    document = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "http://cluster:9200/_inference/completion/llm/_stream",
                    "body": '{"input":"x"}',
                    "headers": headers or {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"string": ""},
                    **response,
                },
            }
        ],
        "version": 1,
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def events(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"mockinfer": {"format": 1, "events": list(entries)}}


@pytest.mark.parametrize(
    ("response", "headers", "message"),
    [
        (events({"offset": -1, "data": "x"}), None, "events[0].offset must be a finite"),
        (events({"offset": math.inf, "data": "x"}), None, "events[0].offset must be a finite"),
        (events({"offset": math.nan, "data": "x"}), None, "events[0].offset must be a finite"),
        (
            events({"offset": 0.2, "data": "x"}, {"offset": 0.1, "data": "y"}),
            None,
            "events[1].offset is before the event ahead of it",
        ),
        (events({"offset": 0, "event": "a\nb", "data": "x"}), None, "holds a line break"),
        (events({"offset": 0, "event": "a\rdata: y", "data": "x"}), None, "holds a line break"),
        ({"status": {"code": 700}}, None, "not an HTTP status (100-599)"),
        ({}, {"X-Evil": ["a\r\nSet-Cookie: b"]}, "headers['X-Evil'] holds a line break"),
        ({}, {"X-Nested": [[1, 2]]}, "headers['X-Nested'] holds list, not text"),
    ],
)
def test_broken_values_are_refused_by_name(
    tmp_path: Path, response: dict[str, Any], headers: Any, message: str
) -> None:
    path = cassette(tmp_path, response, headers)
    with pytest.raises(CassetteError) as info:
        read(path)
    assert str(path) in str(info.value)
    assert "interactions[0]" in str(info.value) and message in str(info.value)


ALIAS_BOMB = """\
a0: &a0 [x, x, x, x, x, x, x, x, x, x]
a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
a8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
interactions:
- request: {method: GET, uri: 'http://x/', headers: {h: *a8}}
  response: {status: {code: 200}, headers: {}, body: {string: ''}}
version: 1
"""


def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from mockinfer.cassette.format import CassetteError, read\n"
        "try:\n"
        "    read(Path(sys.argv[1]))\n"
        "except CassetteError as exc:\n"
        "    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60
    )
    message, peak_mib = done.stdout.strip().splitlines()
    assert "expands to more than 50,000,000 values through YAML aliases" in message
    assert int(peak_mib) < 500  # a billion values would take gigabytes
