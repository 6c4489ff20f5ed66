"""State shared by the handlers of one server, and the request keys they fill in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mockinfer.backend import Backend
from mockinfer.engines.cassettes import CassetteEngine
from mockinfer.engines.compose import Responder
from mockinfer.engines.synthesize import Synthesizer

#: ES's default `http.max_content_length`.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024


@dataclass
class ServerState:
    """Everything the handlers share: the registry, the engines and the faults to report."""

    backend: Backend = field(default_factory=Backend)
    responder: Responder = field(default_factory=lambda: Responder(Synthesizer()))
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    faults: list[BaseException] = field(default_factory=list)
    cassette: CassetteEngine | None = None


STATE = web.AppKey("mockinfer.state", ServerState)
#: Request keys the handlers fill in for the journal and error rendering.
BODY = web.RequestKey[Any]("mockinfer.body")
OPENAI_ERRORS = web.RequestKey("mockinfer.openai_errors", bool)
INFERENCE_ID = web.RequestKey("mockinfer.inference_id", str)
TASK_TYPE = web.RequestKey[str | None]("mockinfer.task_type")
STREAMED = web.RequestKey("mockinfer.streamed", bool)
