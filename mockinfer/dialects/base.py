"""The protocol every dialect implements."""

from __future__ import annotations

from typing import Any, Protocol

from mockinfer.wire.errors import EsError
from mockinfer.wire.results import Result, StreamEvent


class Dialect(Protocol):
    """Writes results, stream events and errors in one wire format."""

    def document(self, result: Result) -> Any:
        """The JSON value of a non-streamed result (not `Recorded`, which is served as is)."""
        ...

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        """The JSON body of an error."""
        ...

    def event(self, event: StreamEvent) -> bytes:
        """One framed stream event."""
        ...

    def done(self) -> bytes:
        """The event that ends a complete stream."""
        ...

    def error_event(self, error: EsError) -> bytes:
        """The event that ends a failed stream."""
        ...
