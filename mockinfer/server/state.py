"""State shared by the handlers of one server, and the request keys they fill in."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from mockinfer.backend import Backend
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


STATE = web.AppKey("mockinfer.state", ServerState)
#: Request keys the handlers fill in for the journal and error rendering.
BODY = "mockinfer.body"
OPENAI_ERRORS = "mockinfer.openai_errors"
INFERENCE_ID = "mockinfer.inference_id"
TASK_TYPE = "mockinfer.task_type"
STREAMED = "mockinfer.streamed"
