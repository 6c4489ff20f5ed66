"""An upstream that answers garbage is a 502 for the client and a failure for the test."""

from __future__ import annotations

import gzip
import socketserver
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockinfer import MockInferServer
from mockinfer.engines import record
from mockinfer.wire.sse import decode_events
from tests.server.http import JSON, RawResponse, raw_request


def _garbage(head: bytes, body: bytes) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            self.request.sendall(head + body)

    return Handler


#: A whole HTTP body whose gzip data stops before its end: aiohttp leaves `x-gzip` to us.
_CUT_GZIP = gzip.compress(b'{"completion": [{"result": "cut"}]}')[:-6]
#: Deflate data that ends where it should, followed by bytes that are not part of it.
_DEFLATE_AND_MORE = zlib.compress(b'{"completion": [{"result": "ok"}]}') + b'{"more": 1}'


@pytest.fixture(
    params=[
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 12\r\nConnection: close\r\n\r\n",
            b"not gzip :-)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
            b"Connection: close\r\n\r\n",
            b'{"cut": ',
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: x-gzip\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_CUT_GZIP),
            _CUT_GZIP,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: x-deflate\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_DEFLATE_AND_MORE),
            _DEFLATE_AND_MORE,
        ),
    ],
    ids=["bad-gzip", "cut-short", "x-gzip-cut-short", "x-deflate-then-more"],
)
def broken_upstream(request: pytest.FixtureRequest) -> Iterator[str]:
    head, body = request.param
    with socketserver.TCPServer(("127.0.0.1", 0), _garbage(head, body)) as upstream:
        thread = threading.Thread(target=upstream.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{upstream.server_address[1]}"
        upstream.shutdown()


def record_from(
    server: MockInferServer, head: bytes, body: bytes, cassette: Path, path: str
) -> RawResponse:
    """`POST path` recorded into `cassette` from an upstream that answers `head` + `body`."""
    with socketserver.TCPServer(("127.0.0.1", 0), _garbage(head, body)) as upstream:
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{upstream.server_address[1]}"
        with server.use_cassette(cassette, record_mode="all", upstream=url):
            resp = raw_request(server.url, "POST", path, b'{"input":"x"}', JSON)
        upstream.shutdown()
    return resp


def test_a_broken_upstream_answer_is_a_502_and_nothing_is_kept(
    server: MockInferServer, broken_upstream: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "broken.yaml"
    with server.use_cassette(cassette, record_mode="all", upstream=broken_upstream):
        resp = raw_request(server.url, "POST", "/_inference/completion/llm", b'{"input":"x"}', JSON)
    assert resp.status == 502
    error = resp.json()["error"]
    assert error["type"] == "mockinfer_upstream_exception"
    assert "could not read the upstream's answer" in error["reason"]
    assert not cassette.exists()
    (failure,) = server.take_failures()
    assert "could not read the upstream's answer" in str(failure)


def test_a_broken_upstream_stream_ends_with_an_error_event(
    server: MockInferServer, tmp_path: Path
) -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    body = b"10\r\nthis is not gzip\r\n0\r\n\r\n"
    resp = record_from(
        server, head, body, tmp_path / "s.yaml", "/_inference/completion/llm/_stream"
    )
    assert resp.status == 200
    (event,) = decode_events(resp.body)
    assert event.event == "error" and "mockinfer_upstream_exception" in event.data
    assert len(server.take_failures()) == 1


def test_an_x_gzip_stream_cut_short_ends_with_an_error_event_and_is_not_kept(
    server: MockInferServer, tmp_path: Path
) -> None:
    events = b'data: {"completion":[{"delta":"one"}]}\n\ndata: {"completion":[{"delta":"two"}]}\n\n'
    cut = gzip.compress(events)[:-6]
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: x-gzip\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(cut)
    )
    cassette = tmp_path / "cut.yaml"
    resp = record_from(server, head, cut, cassette, "/_inference/completion/llm/_stream")
    assert resp.status == 200
    last = decode_events(resp.body)[-1]
    assert last.event == "error" and "ended before its compressed data did" in last.data
    assert not cassette.exists()
    (failure,) = server.take_failures()
    assert "ended before its compressed data did" in str(failure)


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip"])
@pytest.mark.parametrize("streamed", [False, True], ids=["body", "stream"])
def test_an_answer_that_inflates_past_the_limit_is_a_502_and_is_not_kept(
    server: MockInferServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    streamed: bool,
) -> None:
    monkeypatch.setattr(record, "MAX_RECORDED_BYTES", 1 << 20)
    event = b'data: {"completion":[{"delta":"' + b"a" * 1000 + b'"}]}\n\n'
    bomb = gzip.compress(event * 4096, compresslevel=9)  # 4 MB from about 20 kB
    content_type = b"text/event-stream" if streamed else b"application/json"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n"
        b"Content-Encoding: " + encoding.encode() + b"\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(bomb)
    )
    cassette = tmp_path / "bomb.yaml"
    path = "/_inference/completion/llm" + ("/_stream" if streamed else "")
    resp = record_from(server, head, bomb, cassette, path)
    told = decode_events(resp.body)[-1].data if streamed else resp.body.decode()
    assert resp.status == (200 if streamed else 502)
    assert f"larger than {1 << 20} bytes" in told
    assert len(resp.body) < 2 << 20
    assert not cassette.exists()
    (failure,) = server.take_failures()
    assert "the most mockinfer records" in str(failure)


def test_a_gzip_answer_of_several_members_is_recorded_whole(
    server: MockInferServer, tmp_path: Path
) -> None:
    answer = b'{"completion": [{"result": "' + b"x" * 500 + b"y" * 500 + b'"}]}'
    members = gzip.compress(answer[:300]) + gzip.compress(answer[300:])
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: x-gzip\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(members)
    )
    cassette = tmp_path / "members.yaml"
    recorded = record_from(server, head, members, cassette, "/_inference/completion/x")
    assert recorded.body == answer
    with server.use_cassette(cassette):
        replayed = raw_request(
            server.url, "POST", "/_inference/completion/x", b'{"input":"x"}', JSON
        )
    assert replayed.body == answer


def test_many_small_gzip_members_stop_inflating_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(record, "MAX_RECORDED_BYTES", 1 << 20)
    members = gzip.compress(b"\0" * 65536) * 200  # 13 MB from about 20 kB
    inflated = record._Decoder(gzip=True).decompress(members)
    assert (1 << 20) < len(inflated) <= (1 << 20) + 65536
