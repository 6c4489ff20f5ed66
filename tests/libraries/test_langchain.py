"""langchain-elasticsearch's `ElasticsearchEmbeddings` (sync and async) embeds through mockinfer.

langchain-elasticsearch 1.0.0 needs the 8.x client while this repo tests with 9.x, so it runs
in a second virtualenv under `.cache/`, built once and reused while its requirements match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from mockinfer import MockInferServer

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "langchain-venv"
SCRIPT = Path(__file__).resolve().with_name("langchain_embeddings.py")
REQUIREMENTS = ("langchain-elasticsearch==1.0.0", "elasticsearch[async]>=8.19,<9")
#: Written inside the venv once `pip install` of exactly these requirements succeeded.
MARKER = VENV / "mockinfer-requirements.txt"
INFER_PATH = "/_ml/trained_models/.multilingual-e5-small/_infer"
E5 = ".multilingual-e5-small-elasticsearch"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, failing the test if it times out or exits non-zero."""
    shown = " ".join(cmd)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        # On timeout the partial output is bytes, whatever `text` says.
        out, err = (_text(exc.stdout), _text(exc.stderr))
        pytest.fail(f"`{shown}` timed out after {timeout} s:\n{out}\n{err}")
    if done.returncode != 0:
        pytest.fail(f"`{shown}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def langchain_python() -> Path:
    """The python of a venv with langchain-elasticsearch 1.0.0 and the 8.x async client."""
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if MARKER.is_file() and MARKER.read_text() == wanted and _venv_python().is_file():
        return _venv_python()
    _run([sys.executable, "-m", "venv", "--clear", str(VENV)], timeout=120)
    pip = [str(_venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, *REQUIREMENTS], timeout=600)
    MARKER.write_text(wanted)
    return _venv_python()


def _embed(python: Path, url: str) -> dict[str, Any]:
    done = _run([str(python), str(SCRIPT), url], timeout=120)
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def test_langchain_embeddings(
    langchain_python: Path, server: MockInferServer, es: Elasticsearch
) -> None:
    server.declare_model("cold-model", "text_embedding", deployed=False)
    summary = _embed(langchain_python, server.url)

    assert summary["dimension"] == 384
    assert summary["deployed"] is True
    assert summary["cold"] == "model 'cold-model' not found, please deploy it first"
    assert summary["identical"] is True
    for mode in ("sync", "async"):
        cosines = dict(zip(summary["documents"], summary["cosines"][mode], strict=True))
        unrelated = cosines.pop("stock markets fell sharply today")
        assert all(c > unrelated for c in cosines.values()), (mode, cosines, unrelated)

    expected = es.inference.text_embedding(inference_id=E5, input="cat on a mat")
    assert summary["query"] == expected["text_embedding"][0]["embedding"]

    statuses = [c.status for c in server.calls.filter(method="POST", path=INFER_PATH)]
    # Sync documents and query, the deployment probe's dummy doc, async documents and query.
    assert statuses == [200, 200, 400, 200, 200]
