"""Python exceptions raised to test authors.

Errors served to clients live in `mockinfer.wire.errors`.
"""

from __future__ import annotations


class MockinferError(Exception):
    """Root of every exception mockinfer raises in a test or at start-up."""


class ServerError(MockinferError):
    """Something went wrong inside the server while it answered a request the test made."""


class ConfigurationError(MockinferError):
    """An invalid option or setting, named with the values that are valid."""


class ReplayMiss(MockinferError):
    """A request that a cassette could not answer: no cassette, no match, or all played."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
