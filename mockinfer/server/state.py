"""State shared by the handlers of one server, and the request keys they fill in."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mockinfer.backend import Backend
from mockinfer.dialects import ES, Dialect
from mockinfer.engines.cassettes import CassetteEngine
from mockinfer.engines.faults import FaultRegistry, Firing, RequestFacts
from mockinfer.engines.stubs import StubRegistry
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.wire.requests import InferenceCall

#: ES's default `http.max_content_length`.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024


class Occurrences:
    """How often each key has been seen, thread-safe; a long-running server forgets them all
    past `limit` keys rather than grow without bound."""

    def __init__(self, limit: int = 65536) -> None:
        self._seen: Counter[bytes] = Counter()
        self._limit = limit
        self._lock = threading.Lock()

    def next(self, key: bytes) -> int:
        """How many times `key` was seen before this one."""
        with self._lock:
            if key not in self._seen and len(self._seen) >= self._limit:
                self._seen.clear()
            number = self._seen[key]
            self._seen[key] += 1
            return number


@dataclass
class ServerState:
    """Everything the handlers share: registry, engines, faults, and failures to report."""

    backend: Backend = field(default_factory=Backend)
    synthesizer: Synthesizer = field(default_factory=Synthesizer)
    stubs: StubRegistry = field(default_factory=StubRegistry)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: Exceptions raised inside the server, kept to fail the test that caused them.
    failures: list[BaseException] = field(default_factory=list)
    cassette: CassetteEngine | None = None
    #: The key provider routes require as `Authorization: Bearer`; None lets every request in.
    provider_api_key: str | None = None
    #: Numbers identical provider requests, for their answers' ids; from 0 after every reset.
    request_numbers: Occurrences = field(default_factory=Occurrences)
    #: Calls now waiting for new vectors (the loop's thread alone counts them; see `render`).
    generating: int = 0
    #: Until when (`time.monotonic()`) such calls count as arriving together.
    crowded_until: float = 0.0

    def reset(self) -> None:
        """Back to a fresh cluster: default endpoints, no stubs or faults, empty journal.

        Failures kept for the test stay: a reset through the admin API must not hide them.
        """
        self.backend.reset()
        self.stubs.clear()
        self.faults.clear()
        self.request_numbers = Occurrences()


STATE = web.AppKey("mockinfer.state", ServerState)


@dataclass(slots=True)
class Exchange:
    """What the chain learns about one request as it passes, for rendering and the journal."""

    raw_body: bytes | None = None
    #: The request body as the journal keeps it (parsed JSON, else text); see `body_noted`.
    body: Any = None
    body_noted: bool = False
    dialect: Dialect = ES
    inference_id: str | None = None
    task_type: str | None = None
    streamed: bool = False
    source: str = "synthesis"
    facts: RequestFacts | None = None
    firing: Firing | None = None
    call: InferenceCall | None = None
    journal_entry: tuple[int, int] | None = None
    #: The id a provider's answer carries (`x-request-id`), made once per request.
    request_id: str | None = None

    def note_body(self, body: Any) -> None:
        """Keep the body for the journal."""
        self.body = body
        self.body_noted = True


EXCHANGE = web.RequestKey("mockinfer.exchange", Exchange)
