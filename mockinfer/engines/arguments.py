"""Checks shared by the arguments of stubs and faults."""

from __future__ import annotations

import math
from typing import Any

from mockinfer.wire.tasks import TaskType

#: Task type names, in ES's order.
TASK_NAMES = tuple(t.value for t in TaskType)


def is_number(value: Any) -> bool:
    """A finite int or float (never a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: Any, minimum: int) -> bool:
    """An int (never a bool) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
