"""Elasticsearch time values (`30s`, `500ms`, `2m`) and boolean query parameters."""

from __future__ import annotations

import re

from mockinfer.wire.errors import EsError

_UNITS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIME_VALUE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)\s*$", re.IGNORECASE)


def parse_time_value(value: str, setting: str) -> float | None:
    """Seconds for an ES duration; `None` for `-1` (no limit). Raises ES's `parse_exception`."""
    if value in ("-1", "0"):
        return None if value == "-1" else 0.0
    match = _TIME_VALUE.match(value)
    if match is None:
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse setting [{setting}] with value [{value}] as a time value: "
            "unit is missing or unrecognized",
        )
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_boolean(value: str, name: str) -> bool:
    """ES's strict boolean: only `true`, `false` and the empty string (true) are accepted."""
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    raise EsError(
        400,
        "illegal_argument_exception",
        f"Failed to parse value [{value}] as only [true] or [false] are allowed.",
    )
