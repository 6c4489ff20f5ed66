"""The official Elasticsearch JavaScript client drives the admin API from Node.js, end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mockinfer import MockInferServer

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "admin_api.mjs"
E5_PATH = "/_inference/text_embedding/.multilingual-e5-small-elasticsearch"


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with the JS client installed under tests/js (once per session)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(
            "Node.js and npm are needed to run the JavaScript client (node or npm not on PATH)"
        )
    if not (JS_DIR / "node_modules" / "@elastic" / "elasticsearch").is_dir():
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`{' '.join(cmd)}` timed out after 300 s:\n{exc.stdout}\n{exc.stderr}")
        if done.returncode != 0:
            pytest.fail(
                f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
    return node


def _run(node: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [node, str(SCRIPT), url], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"node exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def test_js_client_drives_admin_api(node: str, server: MockInferServer) -> None:
    summary = _run(node, server.url)

    fault_id = summary["fault_id"]
    assert summary["added_status"] == 201
    assert summary["added"] == {
        "id": fault_id,
        "hits": 0,
        "inference_id": ".multilingual-e5-small-elasticsearch",
        "status": 429,
        "retry_after": 1,
        "times": 1,
    }
    assert summary["listed"] == [fault_id]
    assert summary["hits"] == 1

    limited = summary["rate_limited"]
    assert (limited["status"], limited["http_status"]) == (429, 429)
    assert limited["type"] == "status_exception"
    assert limited["retry_after"] == "1"
    assert limited["product"] == "Elasticsearch"
    assert summary["vector_length"] == 384

    assert summary["calls"] == [
        ["POST", E5_PATH, 429, "fault"],
        ["POST", E5_PATH, 200, "synthesis"],
    ]
    assert (summary["delete_status"], summary["delete_body"]) == (200, {"acknowledged": True})
    assert (summary["reset_status"], summary["reset_body"]) == (200, {"acknowledged": True})

    assert list(server.faults) == []
    assert len(server.calls) == 0
