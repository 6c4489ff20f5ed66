"""Generator plugins: finding them, routing endpoints to them, and checking what they answer.

The core never imports a plugin by name: installed ones are found through the entry-point
group of `mockinfer.plugins` and loaded when a server starts (`prepare`), to learn the models
and services each answers by default. Explicit routes come first, in order; then the plugins'
defaults; then the core. A plugin that fails to load claims nothing: it is reported at start
and by `mockinfer generators`, and a route to it fails naming it.
"""

from __future__ import annotations

import fnmatch
import itertools
import numbers
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import numpy as np
import numpy.typing as npt

from mockinfer.errors import ConfigurationError, PluginError
from mockinfer.generators.chat import text_reply
from mockinfer.generators.dense import as_element_type
from mockinfer.generators.rerank import ranked
from mockinfer.generators.seeds import to_float32
from mockinfer.plugins import (
    CORE,
    ENTRY_POINT_GROUP,
    TASK_METHODS,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Refusal,
    RerankRequest,
    SparseRequest,
    Target,
)
from mockinfer.settings import GENERATOR_NAME, Route
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.errors import EsError
from mockinfer.wire.hugging_face import model_in_hub_url
from mockinfer.wire.models import model_id_of
from mockinfer.wire.results import ChatReply, RankedDocument, SparseEmbedding


@dataclass(frozen=True)
class Plugin:
    """A generator that passed its checks, and where it came from."""

    generator: Any
    name: str
    version: str
    tasks: frozenset[str]
    deterministic: bool
    models: tuple[str, ...]
    services: tuple[str, ...]
    #: `mockinfer_minilm.generator:MiniLM from mockinfer-minilm 0.1.0`, or `registered`.
    origin: str
    #: Tells apart two generators of one name and version: caches are kept per serial.
    serial: int = 0

    @property
    def label(self) -> str:
        """How messages name it."""
        return f"generator [{self.name}] ({self.origin})"


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return None
    items = tuple(value)
    return items if all(isinstance(item, str) for item in items) else None


_SERIALS = itertools.count(1)
#: Endpoints whose pick is remembered; more (new endpoint objects per request) start afresh.
_PICKS_KEPT = 256
#: The largest magnitude a float32 holds: anything larger would reach the client as null.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def checked(generator: Any, name: str, origin: str) -> Plugin:
    """`generator` as a `Plugin`, or `PluginError` saying what it lacks."""

    def refuse(problem: str) -> PluginError:
        return PluginError(name, f"generator [{name}] ({origin}) cannot be used: {problem}")

    declared = getattr(generator, "name", None)
    if declared != name:
        raise refuse(f"its name is {declared!r}, not the name it is registered under")
    version = getattr(generator, "version", None)
    tasks = _strings(getattr(generator, "tasks", None))
    models = _strings(getattr(generator, "models", ()))
    services = _strings(getattr(generator, "services", ()))
    deterministic = getattr(generator, "deterministic", None)
    if not isinstance(version, str):
        raise refuse("`version` must be a string")
    if not tasks or any(task not in TASK_METHODS for task in tasks):
        raise refuse(f"`tasks` must name some of {', '.join(TASK_METHODS)}; got {tasks!r}")
    if not isinstance(deterministic, bool):
        raise refuse("`deterministic` must be True or False")
    if models is None or services is None:
        raise refuse("`models` and `services` must be sequences of strings")
    for task in tasks:
        if not callable(getattr(generator, TASK_METHODS[task], None)):
            raise refuse(f"it serves {task} but has no `{TASK_METHODS[task]}` method")
    return Plugin(
        generator,
        name,
        version,
        frozenset(tasks),
        deterministic,
        tuple(m.lower() for m in models),
        services,
        origin,
        next(_SERIALS),
    )


def _origin(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    where = f" from {dist.name} {dist.version}" if dist is not None else ""
    return f"{entry_point.value}{where}"


def _load(name: str, entry_point: EntryPoint) -> Plugin:
    origin = _origin(entry_point)
    try:
        loaded = entry_point.load()
        # The entry point may name the generator itself, or a class or function making it.
        making = isinstance(loaded, type) or (callable(loaded) and not hasattr(loaded, "tasks"))
        generator = loaded() if making else loaded
    except Exception as exc:
        raise PluginError(
            name, f"generator [{name}] ({origin}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return checked(generator, name, origin)


class GeneratorSet:
    """The generators a server may route endpoints to, and the routes in force.

    Thread-safe: route handlers pick on the event loop while plugins answer in threads.
    """

    def __init__(self, *, discover: bool = True) -> None:
        """`discover=False` ignores installed plugins: only registered generators route."""
        self._discover = discover
        self._lock = threading.RLock()
        self._installed: dict[str, EntryPoint] | None = None
        self._plugins: dict[str, Plugin] = {}
        #: The default claims, by model and by service; None until `prepare` has run.
        self._claims: tuple[dict[str, list[Plugin]], dict[str, list[Plugin]]] | None = None
        self._broken: dict[str, PluginError] = {}
        self._routes: tuple[Route, ...] = ()
        #: What `pick` answered per endpoint object, while `_version` (bumped by every change
        #: of routes or generators) stays the same: picking is on every request's path. Held
        #: weakly: the provider routes make an endpoint per request, which must not outlive it.
        self._picked: dict[int, tuple[weakref.ref[Endpoint], Plugin | None, int]] = {}
        self._version = 0

    def installed(self) -> dict[str, EntryPoint]:
        """The plugins installed in this environment, by name, not loaded."""
        with self._lock:
            if self._installed is None:
                found = entry_points(group=ENTRY_POINT_GROUP) if self._discover else ()
                self._installed = {ep.name: ep for ep in found}
            return self._installed

    def names(self) -> list[str]:
        """Every generator a route may name, `core` first."""
        with self._lock:
            return [CORE, *sorted(set(self.installed()) | set(self._plugins))]

    def register(self, generator: Any) -> Plugin:
        """Add a generator that is not installed (say, from a `conftest.py`); it replaces an
        installed plugin of the same name."""
        name = getattr(generator, "name", None)
        if not isinstance(name, str) or name == CORE or not GENERATOR_NAME.fullmatch(name):
            raise ConfigurationError(
                "a generator's `name` is letters, digits, '_', '.' and '-', and not 'core'; "
                f"got {name!r}"
            )
        plugin = checked(generator, name, f"registered {type(generator).__qualname__}")
        with self._lock:
            self._plugins[name] = plugin
            self._broken.pop(name, None)
            self._claims = None
            self._version += 1
        return plugin

    def load(self, name: str) -> Plugin:
        """The generator named `name`, loaded on first use."""
        with self._lock:
            plugin = self._plugins.get(name)
            if plugin is not None:
                return plugin
            entry_point = self.installed().get(name)
            if entry_point is None:
                known = ", ".join(self.names())
                raise PluginError(
                    name,
                    f"no generator named [{name}] is installed or registered (known: {known}); "
                    f"install its plugin, which registers it in the entry-point group "
                    f"{ENTRY_POINT_GROUP}",
                )
            plugin = self._plugins[name] = _load(name, entry_point)
            return plugin

    @property
    def routes(self) -> tuple[Route, ...]:
        """The explicit routes, first match first."""
        return self._routes

    @routes.setter
    def routes(self, routes: Sequence[Route]) -> None:
        known = self.names()
        unknown = sorted({r.generator for r in routes if r.generator not in known})
        if unknown:
            raise ConfigurationError(
                f"no generator named {', '.join(unknown)} is installed or registered; "
                f"known: {', '.join(known)}"
            )
        self._routes = tuple(routes)
        self._version += 1

    def use(self, routes: Sequence[Route]) -> None:
        """Set `routes` and load each routed plugin now, so that one that cannot load fails
        where the routes are given (a test's set-up, `serve`'s start), not at a request."""
        self.routes = routes
        for route in routes:
            if route.generator != CORE:
                self.load(route.generator)

    def prepare(self) -> list[PluginError]:
        """Load every installed plugin to learn what it claims; the failures, one per plugin
        that could not load. Done once, before a server answers: loading may be slow."""
        return list(self._claimed_by()[2].values())

    def _claimed_by(
        self,
    ) -> tuple[dict[str, list[Plugin]], dict[str, list[Plugin]], dict[str, PluginError]]:
        with self._lock:
            if self._claims is None:
                by_model: dict[str, list[Plugin]] = {}
                by_service: dict[str, list[Plugin]] = {}
                for name in self.names()[1:]:
                    try:
                        plugin = self.load(name)
                    except PluginError as exc:
                        self._broken[name] = exc
                        continue
                    for model in plugin.models:
                        by_model.setdefault(model, []).append(plugin)
                    for service in plugin.services:
                        by_service.setdefault(service, []).append(plugin)
                self._claims = (by_model, by_service)
            return (*self._claims, self._broken)

    def pick(self, endpoint: Endpoint) -> Plugin | None:
        """The generator that answers `endpoint`, or None for the core.

        Raises `PluginError` when the routed plugin cannot load or does not serve the task.
        """
        version = self._version
        picked = self._picked.get(id(endpoint))
        if picked is not None and picked[0]() is endpoint and picked[2] == version:
            return picked[1]
        plugin = self._pick(endpoint)
        if len(self._picked) >= _PICKS_KEPT:
            self._picked.clear()
        self._picked[id(endpoint)] = (weakref.ref(endpoint), plugin, version)
        return plugin

    def _pick(self, endpoint: Endpoint) -> Plugin | None:
        claims = self._claims
        if claims is None:
            claims = self._claimed_by()[:2]
        if not self._routes and not (claims[0] or claims[1]):
            return None
        task = endpoint.task_type.value
        model = routed_model(endpoint)
        facts = {
            "endpoint": endpoint.inference_id,
            "model": model,
            "service": endpoint.service,
            "task": task,
        }
        for route in self._routes:
            if route.selector is not None:
                value = facts[route.selector]
                if value is None or not fnmatch.fnmatchcase(value.lower(), route.pattern.lower()):
                    continue
            if route.generator == CORE:
                return None
            plugin = self.load(route.generator)
            if task in plugin.tasks:
                return plugin
            if route.selector is not None:
                # A route that names this endpoint means it: passing it by would mislead.
                raise PluginError(
                    plugin.name,
                    f"route {route} sends [{endpoint.inference_id}] to {plugin.label}, which "
                    f"serves {', '.join(sorted(plugin.tasks))} but not {task}",
                )
        by_model, by_service = claims
        claimed = by_model.get(model.lower(), []) if model else []
        candidates = [p for p in claimed if task in p.tasks] or [
            p for p in by_service.get(endpoint.service, []) if task in p.tasks
        ]
        if len(candidates) > 1:
            names = " and ".join(p.label for p in candidates)
            raise PluginError(
                candidates[0].name,
                f"{names} both answer [{endpoint.inference_id}] by default; route it to one "
                f"of them (for example model:{model or '*'}={candidates[0].name})",
            )
        return candidates[0] if candidates else None

    def describe(self) -> list[tuple[str, Plugin | PluginError]]:
        """Each installed or registered generator, loaded, or the error loading it gave."""
        rows: list[tuple[str, Plugin | PluginError]] = []
        for name in self.names()[1:]:
            try:
                rows.append((name, self.load(name)))
            except PluginError as exc:
                rows.append((name, exc))
        return rows


def routed_model(endpoint: Endpoint) -> str | None:
    """The model id routes and claims compare: the one the settings name, or the model of a
    Hugging Face hosted URL (`.../models/{org}/{name}`)."""
    model = model_id_of(endpoint)
    if model is not None and endpoint.service == "hugging_face" and "://" in model:
        return model_in_hub_url(model) or model
    return model


def target(endpoint: Endpoint, seed: int, task_settings: Mapping[str, Any]) -> Target:
    """What a plugin is told of the endpoint a request is for."""
    return Target(
        inference_id=endpoint.inference_id,
        task=endpoint.task_type.value,
        service=endpoint.service,
        model=routed_model(endpoint),
        seed=seed,
        service_settings=dict(endpoint.service_settings),
        task_settings=dict(task_settings),
    )


def _call(plugin: Plugin, request: Any) -> Any:
    task = request.target.task
    method: Callable[[Any], Any] = getattr(plugin.generator, TASK_METHODS[task])
    try:
        return method(request)
    except Refusal as refusal:
        if not isinstance(refusal.status, int) or not 400 <= refusal.status <= 599:
            raise PluginError(
                plugin.name, f"{plugin.label} refused with status {refusal.status}, not 4xx/5xx"
            ) from None
        raise EsError(refusal.status, refusal.error_type, refusal.reason) from None
    except Exception as exc:
        raise PluginError(
            plugin.name,
            f"{plugin.label} failed on {task} for [{request.target.inference_id}]: "
            f"{type(exc).__name__}: {exc}",
        ) from exc


def _wrong_shape(plugin: Plugin, request: Any, expected: str, got: str) -> PluginError:
    return PluginError(
        plugin.name,
        f"{plugin.label} answered {request.target.task} for [{request.target.inference_id}] "
        f"with {got}; expected {expected}",
    )


def _numbers(
    plugin: Plugin, request: Any, shape: tuple[int, ...], expected: str
) -> npt.NDArray[np.float64]:
    """The plugin's answer as finite numbers of `shape`, or `PluginError` saying otherwise."""
    answer = _call(plugin, request)
    try:
        values = np.asarray(answer, dtype=np.float64)
    except Exception:  # whatever the object does when made an array: not numbers
        raise _wrong_shape(plugin, request, expected, type(answer).__name__) from None
    if values.shape != shape:
        raise _wrong_shape(plugin, request, expected, f"an array of shape {values.shape}")
    if not (np.abs(values) <= _FLOAT32_MAX).all():
        beyond = "NaN, or numbers beyond float32's range"
        raise _wrong_shape(plugin, request, expected, beyond)
    return values


def embed(plugin: Plugin, request: EmbeddingRequest) -> npt.NDArray[Any]:
    """The plugin's vectors, checked, in the endpoint's element type."""
    shape = (len(request.texts), request.dimensions)
    expected = f"{shape[0]} vectors of {shape[1]} numbers"
    return as_element_type(_numbers(plugin, request, shape, expected), request.element_type)


def sparse(plugin: Plugin, request: SparseRequest) -> list[SparseEmbedding]:
    """The plugin's token weights, checked."""
    answer = _call(plugin, request)
    expected = f"{len(request.texts)} mappings of token to a weight >= 0"
    if not isinstance(answer, Sequence) or len(answer) != len(request.texts):
        raise _wrong_shape(plugin, request, expected, repr(answer)[:80])
    items = []
    for weights in answer:
        valid = isinstance(weights, Mapping) and all(
            isinstance(token, str)
            and isinstance(weight, numbers.Real)
            and 0 <= float(weight) <= _FLOAT32_MAX
            for token, weight in weights.items()
        )
        if not valid:
            raise _wrong_shape(plugin, request, expected, repr(weights)[:80])
        items.append(SparseEmbedding({t: float(w) for t, w in weights.items()}))
    return items


def rerank(
    plugin: Plugin, request: RerankRequest, *, top_n: int | None, return_documents: bool
) -> list[RankedDocument]:
    """The documents ranked by the plugin's scores."""
    count = len(request.documents)
    scores = _numbers(plugin, request, (count,), f"{count} finite scores")
    return ranked(
        to_float32(scores.tolist()),
        request.documents,
        top_n=top_n,
        return_documents=return_documents,
    )


def _text(plugin: Plugin, request: Any) -> str:
    answer = _call(plugin, request)
    if not isinstance(answer, str):
        raise _wrong_shape(plugin, request, "a string", type(answer).__name__)
    return answer


def complete(plugin: Plugin, request: CompletionRequest) -> str:
    """The plugin's completion text."""
    return _text(plugin, request)


def chat(plugin: Plugin, request: ChatRequest, model: str) -> ChatReply:
    """The plugin's reply, with the id and token counts the core would give it."""
    text = _text(plugin, request)
    return text_reply(
        seed=request.target.seed,
        inference_id=request.target.inference_id,
        request=request.body,
        model=model,
        text=text,
    )
