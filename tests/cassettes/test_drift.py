"""Drift compares the shapes of a recorded and a live answer, never their values."""

from __future__ import annotations

import json

from mockinfer.cassette.drift import drift
from mockinfer.wire.sse import DONE_EVENT, encode_event


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_values_never_count_only_shapes() -> None:
    recorded = body({"text_embedding": [{"embedding": [0.1] * 384}], "note": "a"})
    live = body({"text_embedding": [{"embedding": [0.9] * 384}], "note": "b"})
    assert drift(200, recorded, 200, live, stream=False) == []


def test_keys_types_dimensions_and_status_are_reported() -> None:
    recorded = body({"rerank": [{"index": 0, "relevance_score": 0.5, "text": "x"}], "n": 1})
    live = body({"rerank": [{"index": "0", "score": 0.5, "text": "x"}], "extra": True})
    assert drift(200, recorded, 400, live, stream=False) == [
        "status 200 vs 400",
        "body.rerank[0].index: number recorded, string live",
        "body.rerank[0].relevance_score: recorded, not live",
        "body.rerank[0].score: live, not recorded",
        "body.n: recorded, not live",
        "body.extra: live, not recorded",
    ]
    vectors = drift(200, body({"e": [0.1] * 384}), 200, body({"e": [0.1] * 1024}), stream=False)
    assert vectors == ["body.e: 384 dimensions recorded, 1024 live"]


def test_streams_compare_their_kinds_of_events() -> None:
    delta = encode_event(body({"completion": [{"delta": "hi"}]}))
    recorded = delta + delta + DONE_EVENT
    live_same = encode_event(body({"completion": [{"delta": "other words"}]})) + DONE_EVENT
    assert drift(200, recorded, 200, live_same, stream=True) == []
    live_changed = encode_event(body({"choices": [{"delta": {}}]})) + encode_event(
        body({"error": {"type": "x"}}), "error"
    )
    assert drift(200, recorded, 200, live_changed, stream=True) == [
        "stream: event message {completion} recorded, not live",
        "stream: event message [DONE] recorded, not live",
        "stream: event message {choices} live, not recorded",
        "stream: event error {error} live, not recorded",
    ]
