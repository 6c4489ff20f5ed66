"""The recording journal: each recorded interaction on disk the moment it completes.

A cassette is written whole when recording ends; until then every interaction is appended,
as one JSON line, to a journal beside it (`.<name>.journal`) and synced. A process killed
while recording loses at most the interaction in flight: the next process to open the
cassette folds the journal into it. A lock on the cassette's folder keeps two processes from
folding, saving or appending at the same moment (a lock file would be left in the folder).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockinfer.cassette.format import Interaction, interaction_from_dict, interaction_to_dict

_BINARY = "__binary__"
_WRITER = "mockinfer-writer"
_MODE = "mockinfer-record-mode"


def journal_path(cassette: Path) -> Path:
    """Where a cassette's journal lives."""
    return cassette.with_name(f".{cassette.name}.journal")


@contextmanager
def locked(cassette: Path) -> Iterator[None]:
    """Hold the lock of the cassette's folder (every process that uses the file takes it)."""
    cassette.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(cassette.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # closing releases the lock


@dataclass(frozen=True)
class Entry:
    """One journaled interaction, who recorded it, and in which record mode."""

    interaction: Interaction
    writer: str
    record_mode: str


def append(
    cassette: Path,
    interaction: Interaction,
    *,
    writer: str,
    record_mode: str,
    unless: Callable[[], bool] = lambda: False,
) -> None:
    """Add one interaction to the journal, synced before returning; nothing when `unless()`
    is true once the lock is held (the interaction reached the cassette meanwhile).

    ASCII-only lines: a write cut short (a full disk) can never leave half a character, and
    a line that does not end where the file ends is closed first, so it stays unreadable on
    its own instead of spoiling the next one.
    """
    document = {**interaction_to_dict(interaction), _WRITER: writer, _MODE: record_mode}
    line = json.dumps(document, default=_encode, ensure_ascii=True).encode("ascii") + b"\n"
    path = journal_path(cassette)
    with locked(cassette):
        if unless():
            return
        _write_line(path, line)


def _write_line(path: Path, line: bytes) -> None:
    with open(path, "ab") as handle:
        if handle.tell() and not _ends_with_newline(path):
            handle.write(b"\n")
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def entries(cassette: Path) -> list[Entry]:
    """The journal's interactions; a line cut short (a crash, a full disk) is skipped: it is
    the one that was in flight."""
    try:
        raw = journal_path(cassette).read_bytes()
    except FileNotFoundError:
        return []
    found = []
    for number, line in enumerate(raw.split(b"\n")):
        try:
            document = json.loads(line.decode("ascii"), object_hook=_decode)
            entry = Entry(
                interaction_from_dict(document, number),
                str(document[_WRITER]),
                str(document[_MODE]),
            )
        except (ValueError, KeyError, TypeError):
            continue
        found.append(entry)
    return found


def discard(cassette: Path) -> None:
    """Remove the journal once what it held is in the cassette."""
    journal_path(cassette).unlink(missing_ok=True)


def identity(interaction: Interaction) -> str:
    """A key equal for one interaction as recorded, journaled, or read back from the file."""
    return json.dumps(interaction_to_dict(interaction), default=_encode, sort_keys=True)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BINARY: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot journal {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if set(value) == {_BINARY}:
        return base64.b64decode(value[_BINARY])
    return value
