"""Running the server: on a background thread with its own loop, or in the foreground."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from mockinfer.backend import Backend, CallJournal
from mockinfer.cassette.store import Cassette
from mockinfer.engines.cassettes import CassetteEngine, open_cassette
from mockinfer.engines.faults import FaultHandle, FaultRegistry, FaultRule
from mockinfer.engines.plugins import GeneratorSet
from mockinfer.engines.stubs import Stub, StubRegistry
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.errors import MockinferError, ServerError
from mockinfer.generators import DEFAULT_SEED, INSTANT, TimingProfile
from mockinfer.server.app import create_app
from mockinfer.server.protocol import Runner
from mockinfer.server.state import DEFAULT_MAX_BODY_BYTES, ServerState
from mockinfer.wire.models import TrainedModel, declared_model

logger = logging.getLogger("mockinfer")
_START_TIMEOUT = 10.0
#: How long stopping waits for requests in flight (a long delay or a slow stream) before
#: cancelling them: a test's teardown should not wait for a stream nobody reads.
_SHUTDOWN_TIMEOUT = 1.0
#: How long ejecting a cassette waits for recordings still being relayed.
_SETTLE_TIMEOUT = 30.0


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Bind `app` and return its runner and the URL it listens on."""
    # Bodies are decompressed by `read_body`, which bounds the inflated size.
    runner = Runner(
        app,
        access_log=None,
        handle_signals=False,
        auto_decompress=False,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    shown_host = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown_host}:{bound_port}"


class MockInferServer:
    """A mockinfer server on a background thread, usable from sync and async code alike.

    >>> with MockInferServer(seed=7) as server:
    ...     Elasticsearch(server.url).inference.text_embedding(...)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = DEFAULT_SEED,
        timing: TimingProfile = INSTANT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        models: Sequence[TrainedModel | str | Mapping[str, Any]] = (),
        journal: CallJournal | None = None,
        provider_api_key: str | None = None,
        generators: GeneratorSet | None = None,
        generation_helper: bool = True,
    ) -> None:
        """`models` are declared for the server's life: `TrainedModel`s, `id:task[:dims]`
        strings or mappings of a model's fields. `journal` replaces the unbounded one.
        `provider_api_key`, when given, is required as `Authorization: Bearer` on the
        provider routes (`/v1/embeddings` and the like), which refuse other requests as the
        provider would. `generators` holds the generator plugins and routes (by default, the
        installed plugins, answering the models they claim). `generation_helper=False` keeps
        every embedding on the server's thread, even when calls arrive together (see
        `mockinfer.engines.helper`)."""
        self.host = host
        self.port = port
        declared = [m if isinstance(m, TrainedModel) else declared_model(m) for m in models]
        self.state = ServerState(
            backend=Backend(declared, journal),
            synthesizer=Synthesizer(
                seed=seed, timing=timing, generators=generators, generation_helper=generation_helper
            ),
            max_body_bytes=max_body_bytes,
            provider_api_key=provider_api_key,
        )
        self._url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://host:port` of the running server."""
        if self._url is None:
            raise MockinferError("the mockinfer server is not running; start() it first")
        return self._url

    @property
    def backend(self) -> Backend:
        """The endpoint registry and region policy."""
        return self.state.backend

    @property
    def calls(self) -> CallJournal:
        """Every request answered so far."""
        return self.state.backend.journal

    @property
    def seed(self) -> int:
        """The master seed of synthesized results."""
        return self.state.synthesizer.seed

    @seed.setter
    def seed(self, value: int) -> None:
        self.state.synthesizer.seed = value

    @property
    def generators(self) -> GeneratorSet:
        """The generator plugins: `.register()` one, set `.routes` to send endpoints to them."""
        return self.state.synthesizer.generators

    @property
    def stubs(self) -> StubRegistry:
        """The registered stubs, newest first."""
        return self.state.stubs

    def stub(self, **fields: Any) -> Stub:
        """Register a reply for matching requests; see `mockinfer.Stub` for the fields.

        Raises `ConfigurationError` (a `ValueError`) for an invalid argument.
        """
        return self.stubs.add(Stub(**fields))

    def declare_model(
        self,
        model_id: str,
        task: str,
        *,
        dimensions: int = 384,
        input_field: str = "text_field",
        deployed: bool = True,
    ) -> TrainedModel:
        """Make a trained model known to `/_ml/trained_models` until the next reset.

        `task` is `text_embedding`, `text_expansion` or `text_similarity`; `deployed=False`
        makes `_infer` answer 409 as for a model that is not started. Raises
        `ConfigurationError` for an invalid field.
        """
        model = declared_model(
            {
                "model_id": model_id,
                "task": task,
                "dimensions": dimensions,
                "input_field": input_field,
                "deployed": deployed,
            }
        )
        return self.state.backend.declare_model(model)

    @property
    def faults(self) -> FaultRegistry:
        """The registered faults."""
        return self.state.faults

    def fault(self, **rule: Any) -> FaultHandle:
        """Make matching requests fail, stall or break mid-stream (see `mockinfer.FaultRule`).

        Returns a handle with the fault's `id` and `hits`; `handle.remove()` stops it. Raises
        `ConfigurationError` (a `ValueError`) for an invalid rule.
        """
        return self.faults.add(FaultRule.from_mapping(rule))

    @contextmanager
    def use_cassette(self, path: str | Path, **options: Any) -> Iterator[Cassette]:
        """Answer from a cassette inside the block; what was recorded is saved on exit.

        `options` are those of `mockinfer.engines.cassettes.open_cassette`: record_mode,
        fallback, matchers, timing, upstream, upstream_api_key and redaction.
        """
        engine = open_cassette(Path(path), **options)
        self.insert_cassette(engine)
        try:
            yield engine.cassette
        finally:
            self.eject_cassette()

    @contextmanager
    def cassette_in_front(self, engine: CassetteEngine | None) -> Iterator[None]:
        """Inside the block, answer from another cassette (saved on exit), or from none,
        while the one in use waits: it answers again after the block."""
        waiting, self.state.cassette = self.state.cassette, None
        try:
            if engine is None:
                yield
            else:
                self.insert_cassette(engine)
                try:
                    yield
                finally:
                    self.eject_cassette()
        finally:
            self.state.cassette = waiting

    def insert_cassette(self, engine: CassetteEngine) -> None:
        """Put a cassette in front of the handlers (replacing none: eject first)."""
        if self.state.cassette is not None:
            raise MockinferError(
                f"a cassette is already in use: {self.state.cassette.cassette.path}"
            )
        self.state.cassette = engine

    def eject_cassette(self) -> Cassette | None:
        """Stop using the cassette, save what it recorded and close its upstream connections."""
        engine, self.state.cassette = self.state.cassette, None
        if engine is None:
            return None
        if not engine.settle(_SETTLE_TIMEOUT):
            self.state.failures.append(
                ServerError(
                    f"a recording into {engine.cassette.path} was still being relayed after "
                    f"{_SETTLE_TIMEOUT:g} s; it is not in the cassette"
                )
            )
        if engine.recorder is not None and self._loop is not None and self._loop.is_running():
            closing = asyncio.run_coroutine_threadsafe(engine.recorder.close(), self._loop)
            closing.result(_START_TIMEOUT)
        engine.cassette.save()
        return engine.cassette

    def reset(self) -> None:
        """Back to a fresh cluster: default endpoints, no stubs or faults, empty journal.

        Failures kept from earlier requests are dropped too (`take_failures` reads them first).
        """
        self.state.reset()
        self.state.failures.clear()

    def take_failures(self) -> list[BaseException]:
        """The failures kept inside the server since the last call, removed from it.

        Only the failures taken are removed, so one the server thread adds meanwhile is kept.
        """
        failures = self.state.failures
        taken = failures[: len(failures)]
        del failures[: len(taken)]
        return taken

    def raise_failures(self) -> None:
        """Raise the first failure that happened inside the server since the last call."""
        failures = self.take_failures()
        if failures:
            first, *rest = failures
            more = f" (and {len(rest)} more)" if rest else ""
            raise ServerError(
                f"mockinfer failed while answering a request{more}: {first!r}"
            ) from first

    def start(self) -> MockInferServer:
        """Start serving on a daemon thread; returns once the socket is bound.

        Installed generator plugins are loaded first, off the server's loop; one that fails
        to load is logged and claims nothing.
        """
        if self._thread is not None:
            return self
        for problem in self.generators.prepare():
            logger.warning("mockinfer: %s; it answers nothing", problem)
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="mockinfer-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or failure:
            self._thread = None
            cause = failure[0] if failure else None
            raise MockinferError(
                f"mockinfer could not listen on {self.host}:{self.port}: {cause}"
            ) from cause
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._runner, self._url = loop.run_until_complete(
                start_site(create_app(self.state), self.host, self.port)
            )
        except OSError as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread; open streams are closed."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT)
        self._thread = None
        self._url = None

    def __enter__(self) -> MockInferServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> MockInferServer:
        await asyncio.get_running_loop().run_in_executor(None, self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)
