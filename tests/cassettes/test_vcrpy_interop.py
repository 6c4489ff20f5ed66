"""vcrpy replays mockinfer's cassettes, and mockinfer replays vcrpy's.

vcrpy patches urllib3, which the official sync client's default node uses, so vcrpy sits
between the real client and the (stopped) cluster in both directions.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr
from elasticsearch import ApiError, Elasticsearch
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from mockinfer import MockInferServer
from mockinfer.cassette.format import read
from mockinfer.wire.sse import decode_events
from tests.cassettes.standin import API_KEY, StandIn
from tests.server.http import JSON, raw_request

STREAM_HEADERS = {"accept": "application/json", "content-type": "application/json"}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(gaps=(0.003, 0.001, 0.002), first_delay=0.002) as cluster:
        yield cluster


def session(es: Elasticsearch) -> list[Any]:
    """One call per path (vcrpy's default matching ignores bodies), errors as values."""
    calls: list[Callable[[], Any]] = [
        lambda: es.inference.text_embedding(inference_id="my-e5", input=["alpha", "beta"]),
        lambda: es.inference.sparse_embedding(inference_id="my-elser", input="port sky"),
        lambda: es.inference.rerank(inference_id="my-rerank", query="q", input=["a", "b", "c"]),
        lambda: es.inference.completion(inference_id="my-llm", input="say hi"),
        lambda: es.inference.completion(inference_id="missing", input="x"),
    ]
    out: list[Any] = []
    for call in calls:
        try:
            out.append(call().body)
        except ApiError as exc:
            out.append((exc.meta.status, exc.body))
    return out


def stream(es: Elasticsearch) -> str:
    body = {"input": "stream these words"}
    resp = es.perform_request(
        "POST", "/_inference/completion/my-llm/_stream", body=body, headers=STREAM_HEADERS
    )
    return str(resp.body)


def test_vcrpy_loads_a_mockinfer_cassette(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "mockinfer.yaml"
    with (
        server.use_cassette(cassette, record_mode="once", upstream=standin.url),
        Elasticsearch(server.url, api_key=API_KEY) as es,
    ):
        session(es)
        stream(es)
    requests, responses = deserialize(cassette.read_text(), yamlserializer)
    ours = read(cassette)
    assert ours is not None and len(requests) == len(responses) == len(ours.interactions) == 6
    for request, response, interaction in zip(requests, responses, ours.interactions, strict=True):
        assert (request.method, request.uri) == (
            interaction.request.method,
            interaction.request.uri,
        )
        assert request.body == interaction.request.body
        assert response["status"]["code"] == interaction.response.status
        assert response["headers"]["X-elastic-product"] == ["Elasticsearch"]
        body = response["body"]["string"]
        if interaction.response.events is not None:
            assert body == interaction.response.body  # a stream: its exact bytes
        else:
            assert json.loads(body) == json.loads(interaction.response.body)


def test_vcrpy_replays_a_mockinfer_cassette_to_the_official_client(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "mockinfer.yaml"
    # Recorded with the upstream URL the vcrpy-wrapped client will target below.
    with (
        server.use_cassette(cassette, record_mode="once", upstream=standin.url),
        Elasticsearch(server.url, api_key=API_KEY) as es,
    ):
        live, live_stream = session(es), stream(es)
    url = standin.url
    standin.stop()
    before = cassette.read_bytes()

    with (
        vcr.VCR(record_mode="none").use_cassette(str(cassette)) as vcr_cassette,
        Elasticsearch(url, api_key=API_KEY, max_retries=0) as es,
    ):
        assert session(es) == live
        replayed_stream = stream(es)
        assert vcr_cassette.all_played and vcr_cassette.play_count == 6
    assert replayed_stream == live_stream
    assert [e.data for e in decode_events(replayed_stream.encode())][-1] == "[DONE]"
    assert live[4][0] == 404 and live[4][1]["error"]["type"] == "resource_not_found_exception"
    assert cassette.read_bytes() == before


def _vcrpy_recording(standin: StandIn, cassette: Path, *, with_stream: bool) -> list[Any]:
    recorder = vcr.VCR(record_mode="once", filter_headers=["authorization"])
    with (
        recorder.use_cassette(str(cassette)),
        Elasticsearch(standin.url, api_key=API_KEY) as es,
    ):
        live = session(es)
        if with_stream:
            live.append(stream(es))
    return live


def test_mockinfer_replays_a_cassette_vcrpy_recorded_around_the_official_client(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "vcrpy.yaml"
    live = _vcrpy_recording(standin, cassette, with_stream=False)
    assert standin.count == 5 and API_KEY not in cassette.read_text()
    standin.stop()
    with server.use_cassette(cassette), Elasticsearch(server.url, max_retries=0) as es:
        assert session(es) == live
    assert live[4][0] == 404


def _raw_exchange(url: str, request: bytes) -> tuple[dict[str, str], bytes]:
    """Send bytes on a fresh connection that the server closes; return headers and body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}, body


def test_mockinfer_replays_a_stream_vcrpy_recorded(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "vcrpy-stream.yaml"
    live = _vcrpy_recording(standin, cassette, with_stream=True)
    standin.stop()
    with server.use_cassette(cassette):
        resp = raw_request(
            server.url,
            "POST",
            "/_inference/completion/my-llm/_stream",
            b'{"input":"stream these words"}',
            JSON,
        )
    assert resp.body.decode() == live[-1]


def test_mockinfer_replays_a_vcrpy_json_answer_gzipped(
    server: MockInferServer, standin: StandIn, tmp_path: Path
) -> None:
    cassette = tmp_path / "vcrpy-gzip.yaml"
    _vcrpy_recording(standin, cassette, with_stream=False)
    standin.stop()
    body = b'{"input":["alpha","beta"]}'
    request = (
        b"POST /_inference/text_embedding/my-e5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAccept-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with server.use_cassette(cassette):
        headers, received = _raw_exchange(server.url, request)
    assert headers.get("content-encoding") == "gzip"
    assert int(headers["content-length"]) == len(received)
