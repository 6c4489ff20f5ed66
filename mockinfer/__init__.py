"""mockinfer: a record/replay mock and test double for the Elasticsearch Inference API.

Names are imported on first use, so that the pytest plugin (which imports this package)
costs nothing in a run that does not use mockinfer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mockinfer.errors import (
    CallTimeout,
    ConfigurationError,
    MockinferError,
    PluginError,
    ReplayMiss,
    ServerError,
)

if TYPE_CHECKING:
    from mockinfer.backend import Call, CallJournal
    from mockinfer.cassette.format import CassetteError
    from mockinfer.cassette.redact import RedactionRules
    from mockinfer.engines.faults import FaultHandle, FaultRule
    from mockinfer.engines.plugins import GeneratorSet
    from mockinfer.engines.stubs import Stub, StubToolCall
    from mockinfer.generators.timing import INSTANT, REALISTIC, TimingProfile
    from mockinfer.server.runner import MockInferServer
    from mockinfer.settings import Route, parse_route
    from mockinfer.wire.models import TrainedModel
    from mockinfer.wire.sse import SseEvent, read_events, streamed_text

__version__ = "0.1.0"

_LAZY = {
    "MockInferServer": "mockinfer.server.runner",
    "Call": "mockinfer.backend",
    "CallJournal": "mockinfer.backend",
    "FaultHandle": "mockinfer.engines.faults",
    "FaultRule": "mockinfer.engines.faults",
    "GeneratorSet": "mockinfer.engines.plugins",
    "Route": "mockinfer.settings",
    "parse_route": "mockinfer.settings",
    "TrainedModel": "mockinfer.wire.models",
    "Stub": "mockinfer.engines.stubs",
    "StubToolCall": "mockinfer.engines.stubs",
    "CassetteError": "mockinfer.cassette.format",
    "RedactionRules": "mockinfer.cassette.redact",
    "TimingProfile": "mockinfer.generators.timing",
    "INSTANT": "mockinfer.generators.timing",
    "REALISTIC": "mockinfer.generators.timing",
    "SseEvent": "mockinfer.wire.sse",
    "read_events": "mockinfer.wire.sse",
    "streamed_text": "mockinfer.wire.sse",
}

__all__ = [
    "INSTANT",
    "REALISTIC",
    "Call",
    "CallJournal",
    "CallTimeout",
    "CassetteError",
    "ConfigurationError",
    "FaultHandle",
    "FaultRule",
    "GeneratorSet",
    "MockInferServer",
    "MockinferError",
    "PluginError",
    "RedactionRules",
    "ReplayMiss",
    "Route",
    "ServerError",
    "SseEvent",
    "Stub",
    "StubToolCall",
    "TimingProfile",
    "TrainedModel",
    "__version__",
    "parse_route",
    "read_events",
    "streamed_text",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mockinfer' has no attribute {name!r}")
