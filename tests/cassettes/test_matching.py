"""Identical requests play in recorded order; a miss explains itself only when asked."""

from __future__ import annotations

import json

import pytest

from mockinfer.cassette.format import Interaction, RecordedRequest, RecordedResponse
from mockinfer.cassette.matching import DEFAULT_MATCHERS, MatchIndex, Miss


def interaction(text: str, answer: str) -> Interaction:
    request = RecordedRequest(
        "POST", "http://h/_inference/completion/l", json.dumps({"input": text}).encode()
    )
    return Interaction(request, RecordedResponse(200, (), answer.encode()))


def test_identical_requests_play_in_order_then_are_exhausted() -> None:
    index = MatchIndex(
        [interaction("same", f"answer {n}") for n in range(3)] + [interaction("other", "x")],
        DEFAULT_MATCHERS,
    )
    request = interaction("same", "").request
    answers = [index.play(request) for _ in range(4)]
    assert [a.response.body for a in answers[:3] if isinstance(a, Interaction)] == [
        b"answer 0",
        b"answer 1",
        b"answer 2",
    ]
    assert isinstance(answers[3], Miss) and answers[3].kind == "exhausted"
    assert "all 3 recorded interaction(s)" in answers[3].explanation
    assert [i.response.body for i in index.unplayed()] == [b"x"]


def test_a_recorded_interaction_counts_as_played_and_later_ones_still_play() -> None:
    index = MatchIndex([interaction("same", "old")], DEFAULT_MATCHERS)
    request = interaction("same", "").request
    index.add(interaction("same", "new"))  # recorded: it answered its request already
    first = index.play(request)
    assert isinstance(first, Interaction) and first.response.body == b"old"
    assert isinstance(index.play(request), Miss)


def test_a_miss_names_the_nearest_request_when_its_explanation_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = MatchIndex([interaction("what is elastic", "x")], DEFAULT_MATCHERS)
    looked: list[RecordedRequest] = []
    nearest = MatchIndex._nearest

    def counted(self: MatchIndex, request: RecordedRequest) -> str:
        looked.append(request)
        return nearest(self, request)

    monkeypatch.setattr(MatchIndex, "_nearest", counted)
    miss = index.play(interaction("what is elastic?", "").request)
    assert isinstance(miss, Miss) and miss.kind == "no-match"
    assert looked == []  # recording or synthesizing the request never pays for it
    assert (
        "body.input differs at character 15 of 15 recorded / 16 live: "
        'recorded "what is elastic" vs live "what is elastic?"'
    ) in miss.explanation
    assert len(looked) == 1
    assert miss.explanation == miss.explanation and len(looked) == 1


def test_a_long_prompt_that_changed_at_its_end_shows_where() -> None:
    start = "Summarise the quarterly report in three bullet points. " * 4
    index = MatchIndex([interaction(start + "Be brief.", "x")], DEFAULT_MATCHERS)
    miss = index.play(interaction(start + "Be thorough.", "").request)
    assert isinstance(miss, Miss)
    at = len(start) + 3
    assert f"body.input differs at character {at} of {at + 6} recorded / {at + 9} live" in (
        miss.explanation
    )
    assert 'recorded ..."rt in three bullet points. Be brief."' in miss.explanation
    assert 'live ..."rt in three bullet points. Be thorough."' in miss.explanation
