"""When synthesized stream events go out: seeded offsets from a timing profile."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingProfile:
    """Pacing of a synthesized stream, in seconds; ``jitter`` is relative (0..1) and seeded."""

    first_event: float = 0.0
    per_event: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.first_event < 0 or self.per_event < 0:
            raise ValueError("timing delays must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")

    @property
    def is_instant(self) -> bool:
        """True when every event goes out at once."""
        return self.first_event == 0.0 and self.per_event == 0.0


INSTANT = TimingProfile()
REALISTIC = TimingProfile(first_event=0.25, per_event=0.03, jitter=0.5)


def event_offsets(profile: TimingProfile, *, seed: int, count: int) -> list[float]:
    """Non-decreasing offsets (seconds from the response start, microsecond precision) for
    ``count`` events: the first after about ``first_event``, then about ``per_event`` apart."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    if profile.is_instant:
        return [0.0] * count
    rng = random.Random(seed)
    offsets: list[float] = []
    elapsed = 0.0
    for i in range(count):
        mean = profile.first_event if i == 0 else profile.per_event
        # jitter <= 1 keeps every gap >= 0, so offsets never go backwards.
        elapsed += mean * (1.0 + profile.jitter * (2.0 * rng.random() - 1.0))
        offsets.append(round(elapsed, 6))
    return offsets
