"""Python exceptions raised to test authors.

Errors served to clients live in `mockinfer.wire.errors`.
"""

from __future__ import annotations


class MockinferError(Exception):
    """Root of every exception mockinfer raises in a test or at start-up."""


class ServerError(MockinferError):
    """Something went wrong inside the server while it answered a request the test made."""


class ConfigurationError(MockinferError, ValueError):
    """An invalid option, setting, stub or fault, named with the values that are valid."""


class CallTimeout(MockinferError, TimeoutError):
    """The calls a test waited for did not arrive in time."""


class ReplayMiss(MockinferError):
    """A request that a cassette could not answer: no cassette, no match, or all played."""

    def __init__(self, kind: str, message: str, summary: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        #: One line naming the request; the message adds the nearest recording.
        self.summary = summary or message


class PluginError(MockinferError):
    """A generator plugin that is missing, fails to load, fails, or answers the wrong shape.

    The message names the plugin (and its distribution, when it is installed).
    """

    def __init__(self, generator: str, message: str) -> None:
        super().__init__(message)
        self.generator = generator
