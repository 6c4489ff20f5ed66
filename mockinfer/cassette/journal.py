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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockinfer.cassette.format import Interaction, interaction_from_dict, interaction_to_dict

_BINARY = "__binary__"


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


def append(cassette: Path, interaction: Interaction) -> None:
    """Add one interaction to the journal, synced before returning."""
    line = json.dumps(interaction_to_dict(interaction), default=_encode, ensure_ascii=False)
    with locked(cassette), open(journal_path(cassette), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def entries(cassette: Path) -> list[Interaction]:
    """The journal's interactions; a line cut short by a crash is the one in flight: skipped."""
    try:
        text = journal_path(cassette).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found = []
    for number, line in enumerate(text.splitlines()):
        try:
            found.append(interaction_from_dict(json.loads(line, object_hook=_decode), number))
        except (ValueError, KeyError):
            continue
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
