"""`mockinfer serve` as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch

from mockinfer.engines.synthesize import HELPER_AFTER

E5 = ".multilingual-e5-small-elasticsearch"


@contextlib.contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`mockinfer serve` with `args` on a free port: yields its URL; stopped and reaped after,
    its pipe closed."""
    command = [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().strip()
        finally:
            proc.terminate()


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
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads children from /proc")
def test_serve_keeps_embeddings_in_its_own_process(serve: subprocess.Popen[str]) -> None:
    assert serve.stdout is not None
    url = serve.stdout.readline().strip()

    async def crowd(round_number: int) -> None:
        async with AsyncElasticsearch(url, connections_per_node=16) as es:
            await asyncio.gather(
                *(
                    es.inference.text_embedding(inference_id=E5, input=f"text {round_number} {n}")
                    for n in range(16)
                )
            )

    for round_number in range(2 * HELPER_AFTER // 16):  # a test process would start a helper
        asyncio.run(crowd(round_number))
    children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()
    assert children == []


def test_port_in_use_is_a_clear_error() -> None:
    with serving() as url:
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "mockinfer.cli", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr


def test_serve_applies_a_faults_file(tmp_path: Path) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text(
        "- inference_id: .multilingual-e5-small-elasticsearch\n  status: 429\n  retry_after: 3\n"
        "  times: 1\n"
    )
    with serving("--faults", str(rules)) as url:
        with Elasticsearch(url, max_retries=0) as es:
            with pytest.raises(ApiError) as info:
                es.inference.text_embedding(inference_id=E5, input="x")
            assert info.value.meta.status == 429
            assert info.value.meta.headers["retry-after"] == "3"
            assert es.inference.text_embedding(inference_id=E5, input="x")["text_embedding"]
            listed = es.perform_request("GET", "/_mockinfer/faults").body
        assert [(f["status"], f["hits"]) for f in listed["faults"]] == [(429, 1)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.yaml", "- status: 99\n", "bad.yaml: fault 1: status must be an HTTP error status"),
        ("bad.json", '{"status": 500}', "bad.json: faults are a list of rules"),
        ("broken.json", "[{", "broken.json is not valid json"),
        ("missing.yaml", None, "cannot read fault file"),
    ],
)
def test_a_bad_faults_file_is_a_clear_error(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    rules = tmp_path / name
    if content is not None:
        rules.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", "--faults", str(rules)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_serve_declares_models() -> None:
    with (
        serving(
            "--model", "my-ranker:text_similarity", "--model", "my-e5:text_embedding:32"
        ) as url,
        Elasticsearch(url) as es,
    ):
        resp = es.ml.infer_trained_model(model_id="my-e5", docs=[{"text_field": "x"}])
        assert len(resp["inference_results"][0]["predicted_value"]) == 32
        (ranker,) = es.ml.get_trained_models(model_id="my-ranker")["trained_model_configs"]
        assert "text_similarity" in ranker["inference_config"]
    bad = subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", "--model", "x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "a model is id:task[:dimensions]" in bad.stderr


def test_serve_requires_the_provider_key_from_the_environment() -> None:
    with serving(env={**os.environ, "MOCKINFER_PROVIDER_API_KEY": "sk-from-env"}) as url:
        right = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-from-env", max_retries=0)
        assert right.embeddings.create(model="text-embedding-3-small", input="cli").data
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-other", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.embeddings.create(model="text-embedding-3-small", input="cli")
        with Elasticsearch(url) as es:  # the cluster's own API asks for no provider key
            assert es.inference.text_embedding(inference_id=E5, input="cli")["text_embedding"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--match-on", ","], "at least one matcher is needed"),
        (["--match-on", "method,colour"], "unknown matcher(s) ['colour']"),
        (["--port", "70000"], "a port is a number from 0 to 65535, not '70000'"),
        (["--host", ""], "name an address to bind"),
    ],
)
def test_bad_serve_arguments_are_usage_errors(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockinfer.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
