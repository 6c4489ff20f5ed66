"""Where a test's cassette lives: its file name, and the path the marker or the test names."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

#: File names stay under the 255 bytes file systems allow, with room for a temporary suffix.
_MAX_NAME_BYTES = 200


def file_name(name: str) -> str:
    """A test's name as a file name: odd characters replaced, a long one shortened with a
    stable digest that tells it apart."""
    name = re.sub(r"[^\w\-.\[\]=,]", "_", name)
    if len(name.encode()) > _MAX_NAME_BYTES:
        digest = hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
        name = name.encode()[: _MAX_NAME_BYTES - 17].decode(errors="ignore") + "-" + digest
    return name


def without_credentials(upstream: str | None) -> str:
    """The upstream's URL for a message: no user or password in it."""
    if not upstream:
        return "<cluster-url>"
    parts = urlsplit(upstream)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def cassette_path(request: pytest.FixtureRequest, folder: Path, named: Any, records: bool) -> Path:
    """The cassette of this test: `named` (by the marker) inside `folder` unless absolute, or
    one named after the test (and its class)."""
    if named is None:
        test = file_name(request.node.name)
        if request.cls is None:
            return folder / f"{test}.yaml"
        path = folder / f"{file_name(request.cls.__name__ + '.' + request.node.name)}.yaml"
        # A cassette named before classes were part of the name still plays, unless a
        # module-level test of the same name owns it, or this test records.
        unclassed = folder / f"{test}.yaml"
        sibling = callable(getattr(request.module, request.function.__name__, None))
        if unclassed.exists() and not path.exists() and not sibling and not records:
            return unclassed
        return path
    path = Path(os.fspath(named))
    if not path.suffix:
        path = path.with_suffix(".yaml")
    return path if path.is_absolute() else folder / path
