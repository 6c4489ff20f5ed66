"""Stream timing profiles."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import INSTANT, REALISTIC, TimingProfile, event_offsets


def test_instant() -> None:
    assert INSTANT.is_instant and not REALISTIC.is_instant
    assert event_offsets(INSTANT, seed=1, count=3) == [0.0, 0.0, 0.0]
    assert event_offsets(REALISTIC, seed=1, count=0) == []


def test_golden() -> None:
    assert event_offsets(REALISTIC, seed=0, count=4) == [0.336105, 0.373844, 0.401461, 0.424229]


@settings(max_examples=50)
@given(
    st.floats(0, 2),
    st.floats(0, 0.5),
    st.floats(0, 1),
    st.integers(0, 2**64),
    st.integers(0, 200),
)
def test_offsets_are_seeded_and_non_decreasing(
    first: float, gap: float, jitter: float, seed: int, count: int
) -> None:
    profile = TimingProfile(first_event=first, per_event=gap, jitter=jitter)
    offsets = event_offsets(profile, seed=seed, count=count)
    assert offsets == event_offsets(profile, seed=seed, count=count)
    assert len(offsets) == count
    assert all(0.0 <= a <= b for a, b in pairwise(offsets))
    if count:
        assert first * (1 - jitter) - 1e-6 <= offsets[0] <= first * (1 + jitter) + 1e-6


def test_mean_pacing() -> None:
    offsets = event_offsets(REALISTIC, seed=3, count=1001)
    assert (offsets[-1] - offsets[0]) / 1000 == pytest.approx(0.03, rel=0.1)


@pytest.mark.parametrize(
    "kwargs", [{"first_event": -1.0}, {"per_event": -0.1}, {"jitter": 1.5}, {"jitter": -0.1}]
)
def test_invalid_profiles(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TimingProfile(**kwargs)


def test_negative_count() -> None:
    with pytest.raises(ValueError):
        event_offsets(REALISTIC, seed=0, count=-1)
