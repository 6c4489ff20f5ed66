"""The protocol every dialect implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mockinfer.wire.errors import EsError
from mockinfer.wire.results import Result, StreamEvent


class Dialect(Protocol):
    """Writes results, stream events and errors in one wire format."""

    @property
    def provider(self) -> str | None:
        """The model provider whose API this is (`openai`); None for Elasticsearch's own."""
        ...

    @property
    def errors_as_events(self) -> bool:
        """Whether a failure found before a stream starts is sent as an SSE error event, as
        ES does, rather than as a JSON error, as providers do."""
        ...

    @property
    def chat_errors(self) -> bool:
        """Whether errors take OpenAI's chat shape, whose mid-stream failure is a `server_error`."""
        ...

    def headers(self, status: int, request_id: str) -> Mapping[str, str]:
        """Headers every response of this wire carries (ES's product header, a request id)."""
        ...

    def document(self, result: Result) -> Any:
        """The JSON value of a non-streamed result (not `Recorded`, which is served as is)."""
        ...

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        """The JSON body of an error."""
        ...

    def event(self, event: StreamEvent) -> bytes:
        """One framed stream event; empty for an event this wire does not send."""
        ...

    def done(self) -> bytes:
        """The event that ends a complete stream."""
        ...

    def error_event(self, error: EsError) -> bytes:
        """The event that ends a failed stream."""
        ...


class WithoutStreams:
    """What a provider's wire without streams shares: failures are JSON, never events, and the
    stream methods refuse (no route of its dialect answers with a stream)."""

    provider: str
    errors_as_events = False
    chat_errors = False

    def event(self, event: StreamEvent) -> bytes:
        raise TypeError(f"mockinfer's {self.provider} routes do not stream")

    def done(self) -> bytes:
        raise TypeError(f"mockinfer's {self.provider} routes do not stream")

    def error_event(self, error: EsError) -> bytes:
        raise TypeError(f"mockinfer's {self.provider} routes do not stream")
