"""One cassette in use: what it replays, what it records, and when it is written.

Recorded interactions reach the journal (`mockinfer.cassette.journal`) as they complete and
the cassette when recording ends. Saving holds the cassette's lock and merges what another
process saved or journaled meanwhile, so two recorders of one file lose nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from mockinfer.cassette import journal
from mockinfer.cassette.format import (
    CassetteData,
    CassetteError,
    Interaction,
    RecordedRequest,
    read,
    write,
)
from mockinfer.cassette.matching import DEFAULT_MATCHERS, MatchIndex, Miss, describe
from mockinfer.settings import RECORD_MODES, REPLACING_MODES


class Cassette:
    """A cassette file loaded for replay and (depending on the record mode) recording.

    - `none`: replay only; a missing file is a miss for every request.
    - `once`: record everything when the file does not exist yet, else replay only.
    - `new_episodes`: replay what matches, record what does not.
    - `all`: record everything; the file is replaced when saved.
    - `rewrite`: pytest-recording's name for `all`. The old file stays until something new
      is saved; nothing is deleted first.
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
        if record_mode == "none" and not journal.journal_path(path).exists():
            # Replay only, nothing to fold: a save renames its file into place, so the file
            # is read whole, old or new, without waiting for another recorder's lock.
            loaded = read(path)
            self._opened = None
        else:
            with journal.locked(path):
                _fold(path)
                loaded = read(path)
                self._opened = _stamp(path)
        self._loaded = loaded.interactions if loaded is not None else []
        self.existed = loaded is not None
        interactions = (
            [] if loaded is None or record_mode in REPLACING_MODES else loaded.interactions
        )
        self.index = MatchIndex(interactions, matchers)
        self._recorded = 0
        #: Identities of the interactions saves wrote; they stay alive in the index.
        self._written: set[int] = set()
        #: Taken inside the file lock only, never around it (a save holds `_lock` first).
        self._written_lock = threading.Lock()
        self._lock = threading.Lock()
        #: Tells this recorder's journal lines from another process's.
        self._writer = f"{os.getpid()}-{id(self)}-{time.monotonic_ns()}"

    @property
    def replays(self) -> bool:
        """Whether recorded interactions answer requests."""
        return self.record_mode not in REPLACING_MODES

    @property
    def records(self) -> bool:
        """Whether requests that nothing answers are recorded from the upstream."""
        return self.record_mode in ("new_episodes", *REPLACING_MODES) or (
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
            return Miss("no-match", f"record_mode {self.record_mode!r} replays nothing")
        return self.index.play(request)

    def add(self, interaction: Interaction) -> None:
        """Keep a recorded interaction (it was just played to the client): it replays at once
        and is part of the next save. `journal` puts it on disk."""
        self.index.add(interaction)
        with self._lock:
            self._recorded += 1

    def journal(self, interaction: Interaction) -> None:
        """Append an added interaction to the journal, synced. It waits while another
        process holds the cassette's lock (a save of a big file): a server calls it from a
        worker thread.

        Raises `CassetteError` when the journal cannot be written.
        """
        try:
            journal.append(
                self.path,
                interaction,
                writer=self._writer,
                record_mode=self.record_mode,
                unless=lambda: self._saved(interaction),
            )
        except OSError as exc:
            raise CassetteError(
                f"cannot journal a recording for {self.path}: {exc.strerror or exc}; it is "
                "kept in memory until the cassette is saved"
            ) from None

    @property
    def recorded(self) -> int:
        """How many interactions were recorded since the cassette was loaded."""
        with self._lock:
            return self._recorded

    def save(self) -> int:
        """Write the file atomically if anything was recorded; how many interactions it holds
        then (0: nothing was written).

        Raises `CassetteError` when it cannot: what was recorded stays in the journal.
        """
        with self._lock:
            if not self._recorded:
                return 0
            with journal.locked(self.path):
                _remove_cut_saves(self.path)
                merged = self._merged()
                try:
                    write(self.path, CassetteData(merged))
                except OSError as exc:
                    raise CassetteError(
                        f"cannot write cassette {self.path}: {exc.strerror or exc}; what was "
                        f"recorded stays in {journal.journal_path(self.path)} and is folded in "
                        "the next time the cassette is opened"
                    ) from None
                journal.discard(self.path)
                with self._written_lock:  # under the file lock a waiting append needs
                    self._written.update(id(i) for i in merged)
            self._recorded = 0
            return len(merged)

    def _saved(self, interaction: Interaction) -> bool:
        """Whether a save wrote the interaction (a journal append that waited for the lock
        must not add it a second time)."""
        with self._written_lock:
            return id(interaction) in self._written

    def _merged(self) -> list[Interaction]:
        """Ours, then what others saved since we opened the file, then what others journaled.

        Counted, not deduplicated: two recorders may record the very same exchange twice, and
        a replay plays both.
        """
        merged = list(self.index.interactions)
        if _stamp(self.path) != self._opened:
            on_disk = read(self.path)
            # What was there when we opened it, and ours that another recorder folded in from
            # the journal, are in `merged` already.
            known = Counter(journal.identity(i) for i in (*self._loaded, *self._ours()))
            for interaction in on_disk.interactions if on_disk else []:
                key = journal.identity(interaction)
                if known[key]:
                    known[key] -= 1
                else:
                    merged.append(interaction)
        merged += [e.interaction for e in journal.entries(self.path) if e.writer != self._writer]
        return merged

    def _ours(self) -> list[Interaction]:
        """The interactions this recorder added since it opened the file."""
        return self.index.interactions[len(self._loaded) if self.replays else 0 :]


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells whether a file changed: its modification time and size."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size


def _remove_cut_saves(path: Path) -> None:
    """Remove what saves cut short left (the cassette itself is intact)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _fold(path: Path) -> None:
    """Fold a journal left by a recorder that stopped before saving into the cassette.

    A recorder in `all` or `rewrite` mode meant to replace the file: its journal replaces it.
    """
    _remove_cut_saves(path)
    left = journal.entries(path)
    if left:
        on_disk = read(path)
        replacing = any(e.record_mode in REPLACING_MODES for e in left)
        kept = [] if replacing or on_disk is None else on_disk.interactions
        write(path, CassetteData(kept + [e.interaction for e in left]))
    journal.discard(path)
