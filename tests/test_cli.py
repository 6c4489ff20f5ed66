"""`mockinfer serve` as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch


@pytest.fixture
def serve() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_url_serves_and_stops(serve: subprocess.Popen[str], signum: int) -> None:
    assert serve.stdout is not None
    url = serve.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    with Elasticsearch(url) as es:
        resp = es.inference.text_embedding(
            inference_id=".multilingual-e5-small-elasticsearch", input="cli"
        )
        assert len(resp["text_embedding"][0]["embedding"]) == 384
    serve.send_signal(signum)
    assert serve.wait(timeout=10) == 0
    assert serve.stderr is not None and "Traceback" not in serve.stderr.read()


def test_port_in_use_is_a_clear_error() -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        port = first.stdout.readline().strip().rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "mockinfer.cli", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.terminate()
        first.wait()
