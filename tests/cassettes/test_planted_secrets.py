"""Secrets planted everywhere a request, a response or a stream can carry them never reach
the cassette, and the recording still replays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockinfer import MockInferServer
from mockinfer.cassette.format import read
from mockinfer.cassette.redact import RedactionRules, Redactor, is_secret_name
from tests.server.http import JSON, raw_request


def secret(n: int) -> str:
    return f"PLANTED{n:03d}x9Qz"


#: Request headers that carry credentials, by many names.
HEADERS = {
    "Authorization": f"ApiKey {secret(1)}",
    "X-Api-Key": f"{secret(2)} tail",
    "X-Auth-Token": secret(3),
    "X-Amz-Security-Token": secret(4),
    "X-My-Session-Token": secret(5),
    "Cookie": f"sid={secret(6)}",
    "Proxy-Authorization": f"Basic {secret(7)}",
    "X-Goog-Api-Key": secret(8),
    "Api-Key": secret(9),
    "X-Access-Token": secret(70),
    "X-Refresh-Token": secret(71),
    "X-Client-Secret": secret(72),
    "Es-Secondary-Authorization": f"ApiKey {secret(73)}",
    "X-Signature": secret(74),
    "X-Credential": secret(75),
}
#: Query parameters that carry credentials.
QUERY = {
    "api_key": secret(10),
    "access_key": secret(11),
    "client_secret": secret(12),
    "sig": secret(13),
    "auth": secret(14),
    "X-Amz-Signature": secret(15),
    "token": secret(16),
    "access_token": secret(17),
    "password": secret(18),
    "apikey": secret(19),
    "session_id": secret(76),
    "secret": secret(77),
}
#: Body fields that carry credentials, by many spellings and at any depth.
BODY = {
    "service": "custom",
    "service_settings": {
        "apiKey": secret(20),
        "API_KEY": secret(21),
        "private_key": secret(22),
        "credentials": {"user": secret(23), "pass": secret(24)},
        "bearer_token": secret(25),
        "aws_secret_access_key": secret(26),
        "passwd": secret(27),
        "pwd": secret(28),
        "headers": {"Authorization": f"Bearer {secret(29)}"},
        "url": f"https://provider.example/v1?key={secret(30)}",
    },
    "secret_settings": {"anything": secret(31)},
    "more": {
        "client_secret": secret(32),
        "access_key": secret(33),
        "secret_key": secret(34),
        "service_account_json": secret(35),
        "secret_parameters": {"x": secret(36)},
        "refresh_token": secret(37),
        "id_token": secret(38),
        "authToken": secret(39),
        "Password": secret(78),
        "signature": secret(79),
        "notes": [f"see https://x.example/?token={secret(80)}", f"key sk-{secret(81)}abcdefghij"],
    },
    "task_settings": {"max_tokens": 5},
}


@pytest.fixture
def upstream() -> Iterator[MockInferServer]:
    """A cluster whose answers carry secrets too: stubs plant them in bodies and streams."""
    with MockInferServer() as cluster:
        yield cluster


def test_no_planted_secret_reaches_the_cassette(
    server: MockInferServer, upstream: MockInferServer, tmp_path: Path
) -> None:
    upstream.stub(
        inference_id="e5",
        body={
            "text_embedding": [{"embedding": [0.5]}],
            "debug": {"token": secret(40), "note": f"called /x?api_key={secret(41)}"},
            "trace": [
                {"session": secret(44)},
                {"jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz"},
            ],
        },
    )
    upstream.stub(
        inference_id="llm",
        chunks=[{"choices": [{"delta": {"content": "hi"}}], "session_token": secret(42)}],
    )
    upstream.stub(
        inference_id="err",
        error=(400, "status_exception", f"no handler found for uri [/x?api_key={secret(43)}]"),
        headers={
            "Set-Cookie": f"session={secret(45)}",
            "X-Amz-Security-Token": secret(46),
            "Location": f"https://x.example/cb?access_token={secret(47)}",
        },
    )
    upstream.stub(
        inference_id="aws",
        body={
            "completion": [{"result": f"use AKIA{'ABCDEFGHIJKLMNOP'} and {secret(48)}"}],
            "credentials": {"aws": secret(49)},
        },
    )
    cassette = tmp_path / "planted.yaml"
    query = "&".join(f"{k}={v}" for k, v in QUERY.items())
    with server.use_cassette(cassette, record_mode="all", upstream=upstream.url):
        for path, body in [
            (f"/_inference/text_embedding/e5?{query}", json.dumps({"input": "x"}).encode()),
            ("/_inference/completion/custom-thing", json.dumps(BODY).encode()),
            (
                "/_inference/completion/commented",
                b'{"input": "x", "api_key": "' + secret(50).encode() + b'" /* a comment */}',
            ),
            (
                "/_inference/completion/lines",
                b'{"input":"a","api_token":"' + secret(51).encode() + b'"}\n{"input":"b"}\n',
            ),
            (
                "/_inference/chat_completion/llm/_stream",
                b'{"messages":[{"role":"user","content":"x"}]}',
            ),
            ("/_inference/completion/err", b'{"input":"x"}'),
            ("/_inference/completion/aws", b'{"input":"x"}'),
        ]:
            raw_request(server.url, "POST", path, body, {**JSON, **HEADERS})
    text = cassette.read_text()
    leaked = [n for n in range(100) if secret(n) in text]
    assert leaked == []
    assert "AKIAABCDEFGHIJKLMNOP" not in text and "eyJhbGciOiJIUzI1NiJ9" not in text
    assert len(read(cassette).interactions) == 7
    assert "ApiKey REDACTED" in text and "Basic REDACTED" in text
    assert "max_tokens: 5" in text or '"max_tokens":5' in text


@pytest.mark.parametrize(
    ("name", "secret_name"),
    [
        ("apiKey", True),
        ("X-Amz-Security-Token", True),
        ("aws_secret_access_key", True),
        ("max_tokens", False),
        ("promptTokenCount", False),
        ("candidates_token_count", False),
        ("token_ids", False),
        ("refresh_token", True),
        ("session_token_value", True),
        ("tokenization", False),
        ("keyword", False),
        ("model_id", False),
        ("input_type", False),
        ("code", False),
    ],
)
def test_names_are_judged_normalised(name: str, secret_name: bool) -> None:
    assert is_secret_name(name) is secret_name


def test_token_weight_maps_are_left_alone() -> None:
    body = json.dumps(
        {"sparse_embedding": [{"is_truncated": False, "embedding": {"token": 1.5, "key": 0.5}}]}
    ).encode()
    assert Redactor().body(body) == body


def test_token_counts_and_ids_are_left_alone() -> None:
    body = json.dumps(
        {
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 8},
            "tokens": [{"token_ids": [101, 2023, 102]}],
            "api_token": "tok-live-0123456789",
        }
    ).encode()
    redacted = json.loads(Redactor().body(body))
    assert redacted["usageMetadata"] == {"promptTokenCount": 12, "candidatesTokenCount": 8}
    assert redacted["tokens"] == [{"token_ids": [101, 2023, 102]}]
    assert redacted["api_token"] != "tok-live-0123456789"


def test_a_recording_with_redacted_secrets_still_replays(
    server: MockInferServer, upstream: MockInferServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "replay.yaml"
    body = json.dumps(
        {"service": "openai", "service_settings": {"apiKey": secret(60), "model_id": "m"}}
    ).encode()
    with server.use_cassette(cassette, record_mode="all", upstream=upstream.url):
        recorded = raw_request(server.url, "PUT", "/_inference/completion/llm", body, JSON)
    with server.use_cassette(cassette):
        replayed = raw_request(server.url, "PUT", "/_inference/completion/llm", body, JSON)
    assert (replayed.status, replayed.body) == (recorded.status, recorded.body)
    assert secret(60) not in cassette.read_text()


@pytest.mark.parametrize(
    ("name", "query", "expected"),
    [
        ("pass", False, True),
        ("passphrase", False, True),
        ("pw", False, True),
        ("encoded", False, True),
        ("access_tokens", False, True),
        ("X-Pass", False, True),
        ("api%5Fkey", True, True),
        ("key", False, False),
        ("key", True, True),
        ("token", False, False),
        ("token", True, True),
        ("keyboard", False, False),
        ("author_id", False, False),
        ("title.keyword", False, False),
        ("passages", False, False),
        ("Authorization", False, True),
    ],
)
def test_names_in_context(name: str, query: bool, expected: bool) -> None:
    assert is_secret_name(name, query=query) is expected


@pytest.mark.parametrize(
    "planted",
    [
        b'{"password": 80808080}',
        b'{"note": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz"}',
        b'{"url": "https://user:hunter2hunter2@host.example/x"}',
        b"see /x?a=1;api_key=hunter2hunter2 for details",
        b"echoed /x?api%5Fkey=hunter2hunter2",
        b"X-Note: api_key=hunter2hunter2",
        b'{"k": "AIzaSyA1234567890abcdefghijklmnopqrstuv"}',
        b'{"k": "hf_abcdefghijklmnopqrstuvwxyz0123456789"}',
        b'{"k": "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB"}',
    ],
)
def test_more_places_secrets_hide(planted: bytes) -> None:
    redacted = Redactor().body(planted)
    for secret_text in (b"80808080", b"abcdefghijklmnop", b"hunter2hunter2", b"1234567890abc"):
        assert secret_text not in redacted


def test_utf16_bodies_are_redacted() -> None:
    body = json.dumps({"api_key": "hunter2hunter2"}).encode("utf-16")
    assert "hunter2hunter2" not in Redactor().body(body).decode("utf-16")


def test_stream_lines_are_redacted_with_their_framing_kept() -> None:
    stream = (
        b"\xef\xbb\xbfevent: message\nid: token=hunter2hunter2\n: comment api_key=hunter2hunter2\n"
        b'data: {"session_token": "hunter2hunter2",\ndata: "more": 1}\n\n'
        b"data: plain text sk-abcdefghijklmnopqrstuvwxyz\n\n"
    )
    redacted = Redactor().stream(stream)
    assert b"hunter2hunter2" not in redacted and b"sk-abcdefghij" not in redacted
    assert redacted.count(b"\ndata: ") == stream.count(b"\ndata: ") == 3
    assert redacted.count(b"\n\n") == 2
    assert redacted.startswith(b"\xef\xbb\xbfevent: message\nid: ")


def test_credentials_used_as_keys_are_replaced_and_every_entry_kept() -> None:
    first, second = "sk-" + "a" * 24, "sk-" + "b" * 24
    body = {
        "grants": {first: True, second: {"scope": "read"}},
        "secret_settings": {"AKIAIOSFODNN7EXAMPLE": "x"},
        "REDACTED": "an existing key keeps its value",
    }
    redacted = Redactor().body(json.dumps(body).encode())
    assert first.encode() not in redacted and second.encode() not in redacted
    assert b"AKIAIOSFODNN7EXAMPLE" not in redacted
    assert json.loads(redacted) == {
        "grants": {"REDACTED": True, "REDACTED-2": {"scope": "read"}},
        "secret_settings": {"REDACTED": "REDACTED"},
        "REDACTED": "an existing key keeps its value",
    }
    stream = f'data: {{"{first}": 1}}\n\n'.encode()
    assert first.encode() not in Redactor().stream(stream)


def test_each_redactor_applies_its_own_names_to_text_it_has_seen_before() -> None:
    echoed = f'no handler found for uri [/x?tenant_code={secret(90)}] "team_pin": "{secret(91)}"'
    plain, custom = Redactor(), Redactor((RedactionRules(body_fields=frozenset({"team-pin"})),))
    for _ in range(2):  # the second time, from what was remembered
        assert secret(91) in plain.text(echoed)
        assert secret(91) not in custom.text(echoed)
    with_query = Redactor((RedactionRules(query_parameters=frozenset({"Tenant_Code"})),))
    assert secret(90) in plain.text(echoed)
    assert secret(90) not in with_query.text(echoed)
    long_text = echoed + " " * 300
    assert secret(91) not in custom.text(long_text) and secret(91) in plain.text(long_text)
