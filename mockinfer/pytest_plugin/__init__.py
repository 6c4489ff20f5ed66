"""The pytest plugin: a fake Elasticsearch inference service for every test that asks for one.

Registered through the `pytest11` entry point. Nothing heavy is imported and no server starts
until a test requests a `mockinfer*` fixture. Settings are merged narrowest-wins:
defaults < ini (`mockinfer_*`) < environment (`MOCKINFER_*`) < command line
(`--mockinfer-*`) < the `mockinfer` marker.
"""

from __future__ import annotations

import os
import shlex
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mockinfer.errors import ConfigurationError, MockinferError, ReplayMiss
from mockinfer.pytest_plugin import hookspecs
from mockinfer.pytest_plugin.handle import MockinferHandle
from mockinfer.pytest_plugin.naming import cassette_path, without_credentials
from mockinfer.pytest_plugin.pruning import Pruner
from mockinfer.settings import (
    FALLBACKS,
    MATCHER_NAMES,
    RECORD_MODES,
    SETTING_NAMES,
    UPSTREAM_API_KEY_ENV,
    Route,
    Settings,
    from_environment,
)

if TYPE_CHECKING:
    from mockinfer.cassette.format import Interaction
    from mockinfer.cassette.redact import RedactionRules
    from mockinfer.engines.faults import FaultRule
    from mockinfer.server.runner import MockInferServer

SETTINGS_KEY = pytest.StashKey[Settings]()
#: The routes `pytest_mockinfer_configure` set, tried after the `generators` setting's.
HOOK_ROUTES_KEY = pytest.StashKey[tuple[Route, ...]]()
PRUNER_KEY = pytest.StashKey[Pruner]()
_HELP = {
    "record_mode": f"record mode: {', '.join(RECORD_MODES)} (default none: replay only)",
    "fallback": f"for requests no cassette interaction matches: {', '.join(FALLBACKS)}",
    "seed": "master seed of synthesized results (default 0)",
    "timing": "stream timing on replay: recorded, instant, or a factor such as 0.5",
    "upstream": "URL of the real cluster to record from",
    "match_on": f"comma-separated request matchers from {', '.join(MATCHER_NAMES)}",
    "fail_on_unplayed": "fail a test that leaves recorded interactions unplayed",
    "drift": "also call the upstream for each replay and fail the test where the live "
    "answer's shape (keys, types, dimensions, event kinds) differs from the cassette",
    "models": "trained models to declare, comma-separated id:task[:dimensions] "
    "(task: text_embedding, text_expansion or text_similarity)",
    "generators": "routes to generator plugins, comma-separated, first match wins: GENERATOR "
    "or SELECTOR:GLOB=GENERATOR with a selector from endpoint, model, service, task "
    "(generator 'core': the built-in one)",
}
_MARKER_ARGS = (*SETTING_NAMES, "cassette", "faults")
_REDACT_INI = {
    "mockinfer_redact_headers": "headers",
    "mockinfer_redact_fields": "JSON body fields",
    "mockinfer_redact_query": "query parameters",
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Add `pytest_mockinfer_configure` (see `hookspecs`)."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options `--mockinfer-*`, each with its ini key `mockinfer_*`."""
    group = parser.getgroup("mockinfer", "mockinfer: a fake Elasticsearch inference service")
    for name in SETTING_NAMES:
        group.addoption(
            f"--mockinfer-{name.replace('_', '-')}",
            dest=f"mockinfer_{name}",
            default=None,
            help=_HELP[name],
        )
        parser.addini(f"mockinfer_{name}", _HELP[name], default=None)
    for key, what in _REDACT_INI.items():
        parser.addini(key, f"{what} to redact besides the built-in patterns (names)", type="args")
    group.addoption(
        "--mockinfer-prune",
        action="store_true",
        dest="mockinfer_prune",
        help="after a whole run that passed, drop from each cassette it used the interactions "
        "no test played (record mode none, one process)",
    )
    parser.addini(
        "mockinfer_cassette_dir",
        "folder of cassettes, relative to the rootdir (default: cassettes/ beside each module)",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and validate the settings once, at start-up."""
    config.addinivalue_line(
        "markers",
        "mockinfer(cassette=None, *, record_mode, fallback, seed, timing, upstream, match_on, "
        "fail_on_unplayed, drift, models, generators, faults): settings of the mockinfer "
        "fixture for this test",
    )
    try:
        settings = Settings()
        settings = settings.layer(
            {n: config.getini(f"mockinfer_{n}") or None for n in SETTING_NAMES}, "ini"
        )
        settings = settings.layer(from_environment(os.environ), "environment")
        settings = settings.layer(
            {n: config.getoption(f"mockinfer_{n}") for n in SETTING_NAMES}, "command line"
        )
        if settings.models:
            from mockinfer.wire.models import declared_model

            for spec in settings.models:
                declared_model(spec)
    except ConfigurationError as exc:
        raise pytest.UsageError(f"mockinfer: {exc}") from None
    config.stash[SETTINGS_KEY] = settings
    if config.getoption("mockinfer_prune"):
        if settings.record_mode != "none":
            raise pytest.UsageError("mockinfer: --mockinfer-prune replays only: record mode none")
        if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
            raise pytest.UsageError(
                "mockinfer: --mockinfer-prune needs every play in one process: run it without "
                "pytest-xdist (-p no:xdist or -n 0)"
            )
        config.stash[PRUNER_KEY] = pruner = Pruner()
        config.pluginmanager.register(pruner, "mockinfer-pruner")


@pytest.fixture(scope="session")
def mockinfer_server(pytestconfig: pytest.Config) -> Iterator[MockInferServer]:
    """The mockinfer server of this test process (one per xdist worker), started on first use.

    `pytest_mockinfer_configure` hooks see its generators first.
    """
    from mockinfer.engines.plugins import GeneratorSet
    from mockinfer.server.runner import MockInferServer

    generators = GeneratorSet()
    pytestconfig.hook.pytest_mockinfer_configure(config=pytestconfig, generators=generators)
    pytestconfig.stash[HOOK_ROUTES_KEY] = generators.routes
    for problem in generators.prepare():
        warnings.warn(
            pytest.PytestWarning(f"mockinfer: {problem}; it answers nothing"), stacklevel=1
        )
    seed = pytestconfig.stash[SETTINGS_KEY].seed
    with MockInferServer(seed=seed, generators=generators) as server:
        yield server


def _marker_settings(request: pytest.FixtureRequest) -> tuple[Settings, Any, list[FaultRule]]:
    """The settings, cassette and faults of every `mockinfer` marker, module first, function last.

    Faults add up: a module's marker and a test's both apply.
    """
    from mockinfer.engines.faults import rules_from

    settings = request.config.stash[SETTINGS_KEY]
    cassette = None
    faults: list[FaultRule] = []
    for marker in reversed(list(request.node.iter_markers("mockinfer"))):
        if len(marker.args) > 1:
            raise ConfigurationError(
                "the mockinfer marker takes at most one positional argument, the cassette"
            )
        unknown = sorted(set(marker.kwargs) - set(_MARKER_ARGS))
        if unknown:
            valid = ", ".join(_MARKER_ARGS)
            raise ConfigurationError(
                f"unknown mockinfer marker argument(s) {unknown}; valid: {valid}"
            )
        cassette = marker.args[0] if marker.args else marker.kwargs.get("cassette", cassette)
        if "faults" in marker.kwargs:
            faults += rules_from(marker.kwargs["faults"], "mockinfer marker")
        values = {k: v for k, v in marker.kwargs.items() if k not in ("cassette", "faults")}
        settings = settings.layer(values, "mockinfer marker")
    return settings, cassette, faults


@pytest.fixture(scope="module")
def mockinfer_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """The folder of this module's cassettes: `<dir>/cassettes/<module>/`, or under the
    `mockinfer_cassette_dir` ini key (relative to the root directory). Override it in a
    `conftest.py` to put a directory's cassettes elsewhere (like pytest-recording's
    `vcr_cassette_dir`)."""
    module = request.path.stem
    configured = request.config.getini("mockinfer_cassette_dir")
    if configured:
        return Path(request.config.rootpath, configured, module)
    return request.path.parent / "cassettes" / module


@pytest.fixture(scope="session")
def mockinfer_redaction(pytestconfig: pytest.Config) -> RedactionRules:
    """Names to redact from recordings besides the built-in patterns.

    From the ini keys `mockinfer_redact_headers`, `mockinfer_redact_fields` and
    `mockinfer_redact_query`; override this fixture in a `conftest.py` to add more.
    """
    from mockinfer.cassette.redact import RedactionRules

    headers, fields, query = (frozenset(pytestconfig.getini(key)) for key in _REDACT_INI)
    return RedactionRules(headers=headers, body_fields=fields, query_parameters=query)


@pytest.fixture(scope="session")
def mockinfer_before_record() -> Callable[[Interaction], Interaction | None] | None:
    """A hook each recorded interaction passes (redacted) before it is kept.

    Override this fixture in a `conftest.py` to return a function that edits an
    interaction, or returns None to keep nothing of it; what it returns is redacted again.
    """
    return None


@pytest.fixture
def mockinfer(
    request: pytest.FixtureRequest,
    mockinfer_server: MockInferServer,
    mockinfer_redaction: RedactionRules,
    mockinfer_before_record: Callable[[Interaction], Interaction | None] | None,
    mockinfer_cassette_dir: Path,
) -> Iterator[MockinferHandle]:
    """A fake Elasticsearch inference service for this test: .url, .calls, .stub(), .fault()."""
    from mockinfer.engines.cassettes import open_cassette
    from mockinfer.wire.models import declared_model

    server = mockinfer_server
    folder = Path(mockinfer_cassette_dir)
    try:
        settings, named, faults = _marker_settings(request)
        server.generators.use((*settings.generators, *request.config.stash[HOOK_ROUTES_KEY]))
        models = [declared_model(spec) for spec in settings.models]
        path = cassette_path(request, folder, named, settings.records)
        engine = None
        cassette_options: dict[str, Any] = {
            "record_mode": settings.record_mode,
            "fallback": settings.fallback,
            "matchers": settings.match_on,
            "timing": settings.timing,
            "upstream": settings.upstream,
            "upstream_api_key": os.environ.get(UPSTREAM_API_KEY_ENV),
            "redaction": (mockinfer_redaction,),
            "before_record": mockinfer_before_record,
            "brief_misses": True,
            "drift": settings.drift,
        }
        if named is not None or settings.records or path.exists():
            engine = open_cassette(path, **cassette_options)
    except (MockinferError, ValueError) as exc:  # a bad setting, or a cassette naming its file
        pytest.fail(f"mockinfer: {exc}", pytrace=False)
    server.reset()
    server.seed = settings.seed
    for rule in faults:
        server.faults.add(rule)
    for model in models:
        server.backend.declare_model(model)
    if engine is not None:
        server.insert_cassette(engine)
    yield MockinferHandle(
        server,
        engine.cassette if engine else None,
        settings,
        cassette_dir=folder,
        cassette_options=cassette_options,
    )
    try:
        cassette = server.eject_cassette()
    except MockinferError as exc:  # a cassette that cannot be saved: its journal keeps it
        pytest.fail(f"mockinfer: {exc}", pytrace=False)
    pruner = request.config.stash.get(PRUNER_KEY, None)
    if pruner is not None and cassette is not None:
        pruner.played.setdefault(cassette.path.resolve(), set()).update(cassette.index.played())
    failures = server.take_failures()
    if failures:
        more = (
            f"\n(and {len(failures) - 1} more failure(s) inside the server)"
            if len(failures) > 1
            else ""
        )
        hint = ""
        if any(isinstance(f, ReplayMiss) for f in failures):
            # A shared cassette keeps what other tests recorded: only add to it.
            mode = "rewrite" if named is None else "new_episodes"
            hint = (
                "\nTo record this test's cassette again:\n  pytest "
                f"{shlex.quote(request.node.nodeid)} --mockinfer-record-mode={mode} "
                f"--mockinfer-upstream={shlex.quote(without_credentials(settings.upstream))}"
            )
        pytest.fail(f"mockinfer: {failures[0]}{more}{hint}", pytrace=False)
    if settings.fail_on_unplayed and cassette is not None:
        unplayed = cassette.index.unplayed()
        if unplayed:
            from mockinfer.cassette.matching import describe

            listed = "\n  ".join(describe(i.request) for i in unplayed)
            pytest.fail(
                f"mockinfer: {len(unplayed)} recorded interaction(s) never played:\n  {listed}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def _mockinfer_es_client(mockinfer_server: MockInferServer) -> Iterator[Any]:
    """One sync client for the session: making one costs about a millisecond, a test's budget."""
    elasticsearch = pytest.importorskip("elasticsearch")
    client = elasticsearch.Elasticsearch(mockinfer_server.url)
    yield client
    client.close()


@pytest.fixture
def mockinfer_es(mockinfer: MockinferHandle, _mockinfer_es_client: Any) -> Any:
    """The official sync `Elasticsearch` client pointed at this test's mockinfer server.

    One client serves the whole session (do not close it); `mockinfer` is fresh per test.
    """
    return _mockinfer_es_client


try:
    import pytest_asyncio
except ImportError:  # async fixtures need pytest-asyncio; the sync ones work without it
    pass
else:

    @pytest_asyncio.fixture
    async def mockinfer_aes(mockinfer: MockinferHandle) -> AsyncIterator[Any]:
        """The official `AsyncElasticsearch` client pointed at the mockinfer server."""
        elasticsearch = pytest.importorskip("elasticsearch")
        client = elasticsearch.AsyncElasticsearch(mockinfer.url)
        yield client
        await client.close()
