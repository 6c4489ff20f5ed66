"""mockinfer: a record/replay mock and test double for the Elasticsearch Inference API."""

from mockinfer.engines.stubs import Stub, StubToolCall
from mockinfer.errors import ConfigurationError, MockinferError, ServerError
from mockinfer.server.runner import MockInferServer

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "MockInferServer",
    "MockinferError",
    "ServerError",
    "Stub",
    "StubToolCall",
    "__version__",
]
