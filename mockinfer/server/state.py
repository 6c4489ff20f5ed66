"""State shared by the handlers of one server, and the request keys they fill in."""

from __future__ import annotations

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

    def reset(self) -> None:
        """Back to a fresh cluster: default endpoints, no stubs or faults, empty journal."""
        self.backend.reset()
        self.stubs.clear()
        self.faults.clear()
        self.failures.clear()


STATE = web.AppKey("mockinfer.state", ServerState)
#: Request keys the links and handlers fill in for rendering and the journal.
RAW_BODY = web.RequestKey("mockinfer.raw_body", bytes)
BODY = web.RequestKey[Any]("mockinfer.body")
DIALECT = web.RequestKey[Dialect]("mockinfer.dialect")
INFERENCE_ID = web.RequestKey("mockinfer.inference_id", str)
TASK_TYPE = web.RequestKey[str | None]("mockinfer.task_type")
STREAMED = web.RequestKey("mockinfer.streamed", bool)
SOURCE = web.RequestKey("mockinfer.source", str)
FACTS = web.RequestKey("mockinfer.facts", RequestFacts)
FIRING = web.RequestKey("mockinfer.firing", Firing)
CALL = web.RequestKey("mockinfer.call", InferenceCall)
JOURNAL_ENTRY = web.RequestKey[tuple[int, int]]("mockinfer.journal_entry")


def dialect_of(request: web.Request) -> Dialect:
    """The dialect this request is answered in (ES's unless a route chose another)."""
    dialect: Dialect = request.get(DIALECT, ES)
    return dialect
