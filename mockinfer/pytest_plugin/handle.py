"""The handle the `mockinfer` fixture gives a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mockinfer.errors import MockinferError
from mockinfer.pytest_plugin.naming import file_name
from mockinfer.settings import Settings

if TYPE_CHECKING:
    from mockinfer.backend import CallJournal
    from mockinfer.cassette.store import Cassette
    from mockinfer.engines.faults import FaultHandle, FaultRegistry
    from mockinfer.engines.stubs import Stub, StubRegistry
    from mockinfer.server.runner import MockInferServer


class MockinferHandle:
    """What the `mockinfer` fixture gives a test: the server's URL, journal, cassette and stubs."""

    def __init__(
        self,
        server: MockInferServer,
        cassette: Cassette | None,
        settings: Settings,
        *,
        cassette_dir: Path,
        cassette_options: dict[str, Any],
    ) -> None:
        self.server = server
        self.cassette = cassette
        self.settings = settings
        self._cassette_dir = cassette_dir
        self._cassette_options = cassette_options

    @contextmanager
    def setup(self, name: str = "setup") -> Iterator[None]:
        """Set-up calls (creating, updating or deleting endpoints) made inside the block go to
        one cassette shared by the module's tests, `<cassette dir>/<name>.yaml`: recorded
        once, replayed for every test, and kept out of each test's own cassette.

        With no such recording and nothing to record it from, the calls are synthesized.
        """
        from mockinfer.engines.cassettes import open_cassette

        path = self._cassette_dir / f"{file_name(name)}.yaml"
        try:
            engine = (
                open_cassette(path, **self._cassette_options)
                if path.exists() or self.settings.records
                else None
            )
        except (MockinferError, ValueError) as exc:
            pytest.fail(f"mockinfer: {exc}", pytrace=False)
        with self.server.cassette_in_front(engine):
            yield

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: point a client here."""
        return self.server.url

    @property
    def calls(self) -> CallJournal:
        """Every request of this test: method, path, inference_id, task_type, body, status."""
        return self.server.calls

    @property
    def seed(self) -> int:
        """The master seed of synthesized results."""
        return self.server.seed

    @property
    def stubs(self) -> StubRegistry:
        """The stubs registered in this test."""
        return self.server.stubs

    def stub(self, **fields: Any) -> Stub:
        """Register a reply for matching requests (see `mockinfer.Stub`)."""
        return self.server.stub(**fields)

    @property
    def faults(self) -> FaultRegistry:
        """The faults of this test (the marker's first)."""
        return self.server.faults

    def fault(self, **rule: Any) -> FaultHandle:
        """Make matching requests fail, stall or break mid-stream (see `mockinfer.FaultRule`)."""
        return self.server.fault(**rule)
