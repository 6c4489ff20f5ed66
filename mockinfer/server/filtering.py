"""ES's `filter_path` response filtering: include and `-`exclude paths with `*` and `**`."""

from __future__ import annotations

import fnmatch
from typing import Any

_MISSING = object()


def filter_path(document: Any, spec: str) -> Any:
    """Keep the parts of `document` that `spec` (comma-separated paths) selects.

    Arrays are transparent, as in ES: a path applies to each element. `*` matches one key,
    `**` any number of keys; a leading `-` excludes instead. With only exclusions, everything
    else is kept. Nothing selected gives `{}`.
    """
    paths = [p.strip() for p in spec.split(",") if p.strip()]
    includes = [p.split(".") for p in paths if not p.startswith("-")]
    excludes = [p[1:].split(".") for p in paths if p.startswith("-")]
    result = document
    if includes:
        result = _select(result, includes)
        if result is _MISSING:
            return {}
    if excludes:
        result = _drop(result, excludes)
    return result


def _matches(pattern: str, key: str) -> bool:
    return pattern == key or ("*" in pattern and fnmatch.fnmatchcase(key, pattern))


def _advance(paths: list[list[str]], key: str) -> tuple[list[list[str]], bool]:
    """The remaining paths below `key`, and whether some path ends exactly at it."""
    rest: list[list[str]] = []
    whole = False
    for path in paths:
        head, tail = path[0], path[1:]
        if head == "**":
            rest.append(path)
            if tail:
                nested, ends = _advance([tail], key)
                rest.extend(nested)
                whole = whole or ends
            else:
                whole = True
        elif _matches(head, key):
            if tail:
                rest.append(tail)
            else:
                whole = True
    return rest, whole


def _select(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        kept = [v for v in (_select(item, paths) for item in value) if v is not _MISSING]
        return kept if kept else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out: dict[str, Any] = {}
    for key, child in value.items():
        rest, whole = _advance(paths, key)
        if whole:
            out[key] = child
        elif rest:
            selected = _select(child, rest)
            if selected is not _MISSING:
                out[key] = selected
    return out if out else _MISSING


def _drop(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_drop(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, child in value.items():
        rest, whole = _advance(paths, key)
        if not whole:
            out[key] = _drop(child, rest) if rest else child
    return out
