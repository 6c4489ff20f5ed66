"""One cassette in use: what it replays, what it records, and when it is written."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from mockinfer.cassette.format import CassetteData, Interaction, RecordedRequest, read, write
from mockinfer.cassette.matching import DEFAULT_MATCHERS, MatchIndex, Miss, describe
from mockinfer.settings import RECORD_MODES


class Cassette:
    """A cassette file loaded for replay and (depending on the record mode) recording.

    - `none`: replay only; a missing file is a miss for every request.
    - `once`: record everything when the file does not exist yet, else replay only.
    - `new_episodes`: replay what matches, record what does not.
    - `all`: record everything; the file is replaced when saved.
    A corrupt file raises `CassetteError` here and is never overwritten.
    """

    def __init__(
        self, path: Path, *, record_mode: str = "none", matchers: Sequence[str] = DEFAULT_MATCHERS
    ) -> None:
        if record_mode not in RECORD_MODES:
            raise ValueError(
                f"record_mode must be one of {', '.join(RECORD_MODES)}; got {record_mode!r}"
            )
        self.path = path
        self.record_mode = record_mode
        loaded = read(path)
        self.existed = loaded is not None
        interactions = [] if loaded is None or record_mode == "all" else loaded.interactions
        self.index = MatchIndex(interactions, matchers)
        self._recorded = 0
        self._lock = threading.Lock()

    @property
    def replays(self) -> bool:
        """Whether recorded interactions answer requests."""
        return self.record_mode != "all"

    @property
    def records(self) -> bool:
        """Whether requests that nothing answers are recorded from the upstream."""
        return self.record_mode in ("new_episodes", "all") or (
            self.record_mode == "once" and not self.existed
        )

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction, recorded order, new ones last."""
        return self.index.interactions

    def play(self, request: RecordedRequest) -> Interaction | Miss:
        """The interaction that answers `request`, or why none does."""
        if not self.existed and not self.records:
            return Miss(
                "no-cassette",
                f"no cassette answers {describe(request)}: {self.path} does not exist and "
                f"record_mode is {self.record_mode!r} (record it with record_mode 'once' and an "
                "upstream)",
            )
        if not self.replays:
            return Miss("no-match", "record_mode 'all' replays nothing")
        return self.index.play(request)

    def record(self, interaction: Interaction) -> None:
        """Add a recorded interaction (it was just played to the client)."""
        self.index.add(interaction)
        with self._lock:
            self._recorded += 1

    @property
    def recorded(self) -> int:
        """How many interactions were recorded since the cassette was loaded."""
        with self._lock:
            return self._recorded

    def save(self) -> bool:
        """Write the file atomically if anything was recorded; returns whether it wrote."""
        with self._lock:
            if not self._recorded:
                return False
            write(self.path, CassetteData(self.index.interactions))
            self._recorded = 0
            return True
