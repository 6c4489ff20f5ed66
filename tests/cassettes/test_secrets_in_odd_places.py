"""Secrets where a simple reading misses them: odd encodings, JSON the parser refuses, names
and shapes of credentials in headers and text, an event's data over several lines, and the
messages a broken upstream leads to."""

from __future__ import annotations

import codecs
import gzip
import json
import re
import socketserver
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mockinfer import MockInferServer
from mockinfer.cassette.redact import Redactor
from mockinfer.wire.sse import decode_events, streamed_text
from tests.server.http import JSON, RawResponse, raw_request

SECRET = "PLANTEDzz9Qx7"


@pytest.mark.parametrize(
    "headers",
    [
        [("Token", SECRET)],
        [("Key", SECRET)],
        [("Authorization", f"{SECRET} v2")],  # no scheme: the first word is the credential
        [("Location", f"https://{SECRET}@git.example/repo")],
    ],
)
def test_headers_lose_bare_tokens_and_unknown_schemes(headers: list[tuple[str, str]]) -> None:
    assert SECRET not in str(Redactor().headers(headers))


def test_known_auth_schemes_are_kept_for_readability() -> None:
    redacted = Redactor().headers([("Authorization", f"ApiKey {SECRET}")])
    assert redacted == [("Authorization", "ApiKey REDACTED")]


@pytest.mark.parametrize(
    "text",
    [
        f"rejected header Authorization: ApiKey {SECRET}1234567",
        "rejected Basic dXNlcjpwYXNzd29yZA== for user",
        f"clone https://{SECRET}@git.example/repo",
    ],
)
def test_credentials_quoted_in_text_are_replaced(text: str) -> None:
    redacted = Redactor().text(text)
    assert SECRET not in redacted and "dXNlcjpwYXNzd29yZA" not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "Basic Understanding of the basic configuration, Basic JavaScript, Basic PowerShell",
        "write to https://example.com/form?email=bob@example.org",
    ],
)
def test_words_that_only_look_like_credentials_are_kept(text: str) -> None:
    assert Redactor().text(text) == text


def test_a_secret_value_that_never_closes_takes_the_rest_of_the_text() -> None:
    text = '{"input": "x", /* c */ "api_keys": [\n"' + SECRET + '",\n"input": "y"\n'
    assert Redactor().text(text) == '{"input": "x", /* c */ "api_keys": "REDACTED"'


def test_a_credential_shaped_query_value_is_replaced_whatever_its_name() -> None:
    key = "sk-proj-" + "Q" * 30
    uri = Redactor().uri(f"http://127.0.0.1:9200/_inference/completion/x?q={key}&n=1")
    assert key not in uri and uri.endswith("?q=REDACTED&n=1")


def test_only_maps_of_weights_are_kept_as_token_weights() -> None:
    body = json.dumps({"embedding": {"api_key": SECRET, "cat": 0.5}}).encode()
    assert SECRET.encode() not in Redactor().body(body)


def _planted(encoding: str) -> bytes:
    return json.dumps({"input": "café", "api_key": SECRET}, ensure_ascii=False).encode(encoding)


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (_planted("utf-16-le"), "utf-16-le"),  # no BOM: JSON's rule still tells it
        (_planted("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF16_BE + _planted("utf-16-be"), "utf-16"),
        (_planted("utf-32"), "utf-32"),
        (codecs.BOM_UTF8 + _planted("utf-8"), "utf-8-sig"),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-16-bom", "utf-32-bom", "utf-8-bom"],
)
def test_json_in_any_encoding_it_may_come_in_keeps_that_encoding(
    body: bytes, encoding: str
) -> None:
    redacted = Redactor().body(body)
    assert redacted[:4] == body[:4]  # a BOM, or the byte order, kept
    assert json.loads(redacted.decode(encoding)) == {"input": "café", "api_key": "REDACTED"}


def test_bytes_that_are_not_utf8_stay_as_they_are_around_what_is_replaced() -> None:
    body = b'{"input": "caf\xe9", "api_key": "' + SECRET.encode() + b'"}'
    assert Redactor().body(body) == b'{"input":"caf\xe9","api_key":"REDACTED"}'
    stream = b'data: {"delta": "\xff", "session_token": "' + SECRET.encode() + b'"}\n\n'
    assert Redactor().stream(stream) == b'data: {"delta":"\xff","session_token":"REDACTED"}\n\n'


@pytest.mark.parametrize(
    "body",
    [
        b'{"input": "x", // a comment\n "secret_parameters": {"x": "' + SECRET.encode() + b'"}}',
        b'{"input": "x", /* c */ "api_keys": ["' + SECRET.encode() + b'", "two"]}',
        b'{"input": "x", /* c */ "password": 27182818}',
        b'{"input": "x", /* c */ "api\\u005fkey": "' + SECRET.encode() + b'"}',
        b"[" * 1500 + b'{"secret_settings": {"x": "' + SECRET.encode() + b'"}}' + b"]" * 1500,
    ],
    ids=["object", "array", "number", "escaped-name", "too-deep-to-parse"],
)
def test_json_the_parser_refuses_loses_every_kind_of_value_under_a_secret_name(
    body: bytes,
) -> None:
    redacted = Redactor().body(body)
    assert SECRET.encode() not in redacted and b"27182818" not in redacted
    assert b'"input": "x"' in redacted or b'{"secret_settings": "REDACTED"}' in redacted


def test_flags_under_secret_names_are_kept_in_text_too() -> None:
    text = '{"use_api_key": true, "token_id": null /* c */}'
    assert Redactor().text(text) == text


def test_json_quoted_inside_a_string_loses_its_secrets() -> None:
    reason = "failed to parse: " + json.dumps({"input": json.dumps({"password": SECRET})})
    twice = "provider said " + json.dumps(json.dumps({"api_key": SECRET, "n": 1}))
    for text in (reason, twice):
        body = json.dumps({"error": {"reason": text}}).encode()
        assert SECRET.encode() not in Redactor().body(body)


def test_an_event_whose_data_spans_lines_is_redacted_as_a_client_joins_it() -> None:
    stream = (
        b'data: {"completion": [{"delta": "x"}], "api_key":\ndata: "' + SECRET.encode() + b'"}\n\n'
        b'data: {"secret": {\ndata: "nested": "' + SECRET.encode() + b'"}}\n\n'
        b'data: {"completion": [{"delta": "kept"}],\ndata: "n": 1}\n\n'
    )
    redacted = Redactor().stream(stream)
    assert SECRET.encode() not in redacted
    assert redacted.endswith(b'data: {"completion": [{"delta": "kept"}],\ndata: "n": 1}\n\n')
    first_event = b"\n".join(
        line.removeprefix(b"data: ") for line in redacted.split(b"\n\n")[0].split(b"\n")
    )
    assert json.loads(first_event) == {"completion": [{"delta": "x"}], "api_key": "REDACTED"}


def _upstream_answering(answer: bytes) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            self.request.sendall(answer)

    return Handler


def _answer(body: bytes, content_type: str = "text/event-stream", encoding: str = "") -> bytes:
    """An upstream's whole HTTP answer carrying `body`, as `raw_upstream` sends it."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
    if encoding:
        head += f"Content-Encoding: {encoding}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


@pytest.fixture
def raw_upstream(request: pytest.FixtureRequest) -> Iterator[str]:
    with socketserver.TCPServer(("127.0.0.1", 0), _upstream_answering(request.param)) as upstream:
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{upstream.server_address[1]}"
        upstream.shutdown()


@pytest.mark.parametrize(
    "raw_upstream",
    [
        f"HTTP/1.1 2x0 {SECRET}\r\nContent-Length: 0\r\n\r\n".encode(),
        f"HTTP/1.1 200 OK\r\nBad Name {SECRET}: v\r\nContent-Length: 0\r\n\r\n".encode(),
        f"HTTP/1.1 200 OK\r\nContent-Length: {SECRET}\r\n\r\n".encode(),
    ],
    ids=["status-line", "header-name", "content-length"],
    indirect=True,
)
def test_a_malformed_upstream_answer_is_named_without_its_bytes_or_the_query(
    server: MockInferServer, raw_upstream: str, tmp_path: Path
) -> None:
    path = f"/_inference/completion/x?api_key={SECRET}q"
    with server.use_cassette(tmp_path / "c.yaml", record_mode="all", upstream=raw_upstream):
        resp = raw_request(server.url, "POST", path, b'{"input":"x"}', JSON)
    (failure,) = server.take_failures()
    assert resp.status == 502
    assert "could not reach the upstream" in resp.json()["error"]["reason"]
    for told in (resp.body.decode(), str(failure)):
        assert SECRET not in told


@pytest.mark.parametrize(
    "raw_upstream",
    [_answer(gzip.compress(_planted("utf-8")), "application/json", "x-gzip")],
    indirect=True,
)
def test_x_gzip_bodies_are_recorded_decoded_and_redacted(
    server: MockInferServer, raw_upstream: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "x-gzip.yaml"
    request_body = gzip.compress(json.dumps({"input": "x", "api_key": SECRET}).encode())
    headers = {**JSON, "Content-Encoding": "x-gzip"}
    with server.use_cassette(cassette, record_mode="all", upstream=raw_upstream):
        recorded = raw_request(
            server.url, "POST", "/_inference/completion/x", request_body, headers
        )
    assert recorded.status == 200 and recorded.json()["api_key"] == SECRET
    assert SECRET not in cassette.read_text()
    with server.use_cassette(cassette):
        replayed = raw_request(
            server.url, "POST", "/_inference/completion/x", request_body, headers
        )
    assert replayed.json() == {"input": "café", "api_key": "REDACTED"}


def test_what_cannot_be_walked_or_split_is_judged_as_text() -> None:
    deep = b"[" * 600 + b"]" * 600 + b'\n{"api_key": "' + SECRET.encode() + b'"}'
    assert SECRET.encode() not in Redactor().body(deep)
    assert Redactor().uri(f"http://[x]/?api_key={SECRET}") == "http://[x]/?api_key=REDACTED"


_STREAM = b'data: {"completion": [{"delta": "hi"}], "api_key": "' + SECRET.encode() + b'"}\n\n'


def _record_then_replay_stream(
    server: MockInferServer, upstream: str, cassette: Path
) -> tuple[RawResponse, RawResponse]:
    """A `_stream` call recorded from `upstream` into `cassette`, then the same replayed."""
    path = "/_inference/completion/x/_stream"
    with server.use_cassette(cassette, record_mode="all", upstream=upstream):
        recorded = raw_request(server.url, "POST", path, b'{"input":"x"}', JSON)
    with server.use_cassette(cassette):
        replayed = raw_request(server.url, "POST", path, b'{"input":"x"}', JSON)
    return recorded, replayed


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    "raw_upstream",
    [
        _answer(compressed, encoding="x-deflate")
        for compressed in (zlib.compress(_STREAM), _raw_deflate(_STREAM))
    ],
    ids=["zlib", "raw"],
    indirect=True,
)
def test_x_deflate_streams_are_recorded_decoded_and_redacted(
    server: MockInferServer, raw_upstream: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "x-deflate.yaml"
    recorded, replayed = _record_then_replay_stream(server, raw_upstream, cassette)
    assert recorded.body == _STREAM
    assert SECRET not in cassette.read_text()
    assert json.loads(replayed.body.removeprefix(b"data: ")) == {
        "completion": [{"delta": "hi"}],
        "api_key": "REDACTED",
    }


#: A key shaped as OpenAI's, written out by a model over three deltas.
_SPLIT_KEY = "sk-proj" + "Q7x" * 9
_KEY_PIECES = ("Your key is sk-pr", _SPLIT_KEY[len("sk-pr") : 20], _SPLIT_KEY[20:] + ", keep it")


def _es_deltas(*texts: str) -> list[bytes]:
    return [
        b"data: " + json.dumps({"completion": [{"delta": text}]}).encode() + b"\n\n"
        for text in texts
    ]


def _joined_deltas(events: list[bytes]) -> str:
    return "".join(
        json.loads(event.removeprefix(b"data: "))["completion"][0]["delta"] for event in events
    )


def test_a_key_spelled_over_deltas_is_taken_out_of_each() -> None:
    events = [*_es_deltas(*_KEY_PIECES, " safe."), b"data: [DONE]\n\n"]
    redacted = Redactor().events(events)
    assert len(redacted) == len(events) and redacted[-2:] == events[-2:]
    assert _joined_deltas(redacted[:4]) == "Your key is REDACTED, keep it safe."


def test_a_chat_stream_loses_a_key_split_over_its_chunks_and_keeps_the_rest() -> None:
    def chunk(content: str) -> bytes:
        delta = {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": content}}]}
        return b"data: " + json.dumps(delta).encode() + b"\n\n"

    events = [chunk("use "), chunk("Bearer "), chunk("abcdef0123456789xyz"), chunk(" as header")]
    redacted = Redactor().events(events)
    contents = [
        json.loads(event.removeprefix(b"data: "))["choices"][0]["delta"]["content"]
        for event in redacted
    ]
    assert "".join(contents) == "use Bearer REDACTED as header"
    assert redacted[:2] == events[:2] and redacted[3] == events[3]
    assert json.loads(redacted[2].removeprefix(b"data: "))["id"] == "chatcmpl-1"


def test_deltas_that_spell_no_key_are_kept_byte_for_byte() -> None:
    events = _es_deltas("the sk", "-", "y is blue", "ask-me-anything " * 3, "risk-free")
    assert Redactor().events(events) == events


@pytest.mark.parametrize(
    "raw_upstream",
    [_answer(b"".join(_es_deltas(*_KEY_PIECES)))],
    indirect=True,
)
def test_a_recorded_stream_keeps_no_key_spelled_over_its_events(
    server: MockInferServer, raw_upstream: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "split.yaml"
    recorded, replayed = _record_then_replay_stream(server, raw_upstream, cassette)
    assert (
        _joined_deltas(recorded.body.split(b"\n\n")[:3])
        == "Your key is " + _SPLIT_KEY + ", keep it"
    )
    assert _SPLIT_KEY[len("sk-pr") : 20] not in cassette.read_text()
    assert _joined_deltas(replayed.body.split(b"\n\n")[:3]) == "Your key is REDACTED, keep it"


def _es_events(*texts: str, line_end: str = "\n") -> list[bytes]:
    """Completion deltas as Elasticsearch frames them: a BOM, `event: message`, one `data:`."""
    return [
        (
            f"\ufeffevent: message{line_end}data: "
            + json.dumps({"completion": [{"delta": text}]}, ensure_ascii=False)
            + line_end * 2
        ).encode()
        for text in texts
    ]


def _streamed(events: list[bytes]) -> str:
    return streamed_text(decode_events(b"".join(events)))


_LONG_KEY = "sk-proj-" + "A" * 24 + "B" * 24


@pytest.mark.parametrize(
    ("key", "cut"),
    [
        (_LONG_KEY, 40),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3" * 4, 70),
    ],
    ids=["openai-key", "jwt"],
)
def test_a_key_whose_first_part_alone_looks_like_one_loses_its_rest_too(key: str, cut: int) -> None:
    redacted = Redactor().events(_es_events("key " + key[:cut], key[cut:] + " ok"))
    assert _streamed(redacted) == "key REDACTED ok"


@pytest.mark.parametrize("line_end", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_a_key_over_events_with_other_line_ends_is_found(line_end: str) -> None:
    events = _es_events("key " + _LONG_KEY[:10], _LONG_KEY[10:] + " ok", line_end=line_end)
    redacted = Redactor().events(events)
    data = [re.search(rb"data: (.*?)[\r\n]", event) for event in redacted]
    deltas = [json.loads(found.group(1))["completion"][0]["delta"] for found in data if found]
    assert "".join(deltas) == "key REDACTED ok"
    assert redacted[0].startswith("\ufeffevent: message".encode() + line_end.encode())
    assert redacted[1].endswith(b'ok"}]}' + line_end.encode() * 2)


def test_each_choice_of_a_chat_stream_is_joined_by_its_index() -> None:
    def chunk(index: int, content: str) -> bytes:
        body = {"id": "c", "choices": [{"index": index, "delta": {"content": content}}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    events = [chunk(0, "key: " + _LONG_KEY[:12]), chunk(1, "Hello, "), chunk(0, _LONG_KEY[12:])]
    redacted = Redactor().events(events)
    assert _LONG_KEY[12:] not in b"".join(redacted).decode()
    assert redacted[1] == events[1]


def test_a_piece_holding_half_a_character_is_rewritten_escaped() -> None:
    def event(escaped: str) -> bytes:
        return ('data: {"completion":[{"delta":"' + escaped + '"}]}\n\n').encode()

    events = [event("\\ud83d"), event("\\ude00 key " + _LONG_KEY[:10]), event(_LONG_KEY[10:])]
    redacted = Redactor().events(events)
    assert redacted[0] == events[0]
    assert _LONG_KEY[10:] not in b"".join(redacted).decode()
    deltas = [json.loads(e.removeprefix(b"data: "))["completion"][0]["delta"] for e in redacted]
    assert "".join(deltas).encode("utf-16", "surrogatepass").decode("utf-16") == "😀 key REDACTED"


@pytest.mark.parametrize(
    "raw_upstream",
    [
        _answer(
            b"".join(_es_events("key " + _LONG_KEY[:10], _LONG_KEY[10:] + " ok", line_end="\r\n"))
        )
    ],
    indirect=True,
)
def test_a_crlf_stream_is_recorded_event_by_event_without_the_key(
    server: MockInferServer, raw_upstream: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "crlf.yaml"
    recorded, replayed = _record_then_replay_stream(server, raw_upstream, cassette)
    assert _streamed([recorded.body]) == "key " + _LONG_KEY + " ok"
    assert _LONG_KEY[10:] not in cassette.read_text()
    assert (
        len(
            yaml.safe_load(cassette.read_text())["interactions"][0]["response"]["mockinfer"][
                "events"
            ]
        )
        == 2
    )
    assert _streamed([replayed.body]) == "key REDACTED ok"


@pytest.mark.parametrize("depth", [400, 900, 2000])
def test_events_too_deep_to_walk_are_left_to_their_own_redaction(depth: int) -> None:
    deep = b"data: " + b'{"a":' * depth + b'"sk-' + b"x" * 30 + b'"' + b"}" * depth + b"\n\n"
    events = [deep, deep]
    redacted = Redactor().events(events)
    assert len(redacted) == 2 and b"sk-" + b"x" * 30 not in b"".join(redacted)
