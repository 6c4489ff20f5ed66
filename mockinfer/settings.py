"""Settings shared by the front doors, merged narrowest-wins and validated with clear messages.

Light on purpose (no aiohttp, numpy or YAML): the pytest plugin resolves settings at start-up
in every run, including runs that never use mockinfer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from mockinfer.errors import ConfigurationError

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
#: Modes that record everything and replace the file with what they recorded.
REPLACING_MODES = ("all", "rewrite")
FALLBACKS = ("error", "synthesize")
MATCHER_NAMES = ("method", "path", "query", "body", "host", "port", "scheme")
DEFAULT_MATCHERS = ("method", "path", "body")
#: Must equal `mockinfer.generators.DEFAULT_SEED` (a test checks it).
DEFAULT_SEED = 0
#: Environment variable of each setting: `MOCKINFER_<NAME>`.
ENV_PREFIX = "MOCKINFER_"
#: A trained model's task: the key of its `inference_config`.
MODEL_TASKS = ("text_embedding", "text_expansion", "text_similarity")
#: Credentials come from the environment only, never from ini files or markers.
UPSTREAM_API_KEY_ENV = "MOCKINFER_UPSTREAM_API_KEY"
#: The key `mockinfer serve` requires on the provider routes.
PROVIDER_API_KEY_ENV = "MOCKINFER_PROVIDER_API_KEY"


def parse_timing(value: str | float) -> float:
    """`recorded` (1.0), `instant` (0.0) or a factor >= 0 that scales recorded gaps."""
    if value == "recorded":
        return 1.0
    if value == "instant":
        return 0.0
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = -1.0
    if not 0 <= factor < math.inf:
        raise ConfigurationError(
            f"timing must be 'recorded', 'instant' or a factor >= 0 such as 0.5; got {value!r}"
        )
    return factor


def _choice(name: str, value: Any, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise ConfigurationError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
    return str(value)


def _matchers(value: Any) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else list(value)
    cleaned = tuple(str(n).strip() for n in names if str(n).strip())
    unknown = [n for n in cleaned if n not in MATCHER_NAMES]
    if unknown or not cleaned:
        raise ConfigurationError(
            f"match_on takes matchers from {', '.join(MATCHER_NAMES)}; got {value!r}"
        )
    return cleaned


def _models(value: Any) -> tuple[Any, ...]:
    """Trained models to declare: `id:task[:dimensions]` strings (comma-separated in an ini
    value or option) or, from a marker, mappings of a model's fields."""
    specs = [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value
    if not isinstance(specs, list | tuple):
        raise ConfigurationError(f"models must be a list of id:task[:dimensions]; got {value!r}")
    for spec in specs:
        if isinstance(spec, str):
            parts = spec.split(":")
            valid = (
                len(parts) in (2, 3)
                and bool(parts[0])
                and parts[1] in MODEL_TASKS
                and (len(parts) == 2 or re.fullmatch(r"[0-9]+", parts[2]) is not None)
            )
            if not valid:
                raise ConfigurationError(
                    f"a model is id:task[:dimensions] with a task from {', '.join(MODEL_TASKS)}; "
                    f"got {spec!r}"
                )
        elif not isinstance(spec, Mapping):
            raise ConfigurationError(f"a model is id:task[:dimensions] or a mapping; got {spec!r}")
    return tuple(specs)


#: What a generator route may select endpoints by.
ROUTE_SELECTORS = ("endpoint", "model", "service", "task")
GENERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Route:
    """Endpoints sent to a generator: those whose `selector` (endpoint id, model id, service
    or task type) matches the glob `pattern`, or every endpoint when `selector` is None."""

    generator: str
    selector: str | None = None
    pattern: str = "*"

    def __str__(self) -> str:
        if self.selector is None:
            return self.generator
        return f"{self.selector}:{self.pattern}={self.generator}"


def parse_route(text: str) -> Route:
    """`GENERATOR` (or `*=GENERATOR`) or `SELECTOR:GLOB=GENERATOR`, e.g. `model:*e5*=minilm`."""
    target, equals, generator = text.strip().rpartition("=")
    if not equals or target.strip() == "*":
        target, equals, generator = "", "", generator.strip()
    selector, colon, pattern = target.partition(":")
    if not GENERATOR_NAME.fullmatch(generator) or (
        equals and (not colon or selector not in ROUTE_SELECTORS or not pattern)
    ):
        raise ConfigurationError(
            "a generator route is GENERATOR or SELECTOR:GLOB=GENERATOR with a selector from "
            f"{', '.join(ROUTE_SELECTORS)} (e.g. minilm, model:my-e5=minilm, "
            f"endpoint:docs-*=core); got {text!r}"
        )
    return Route(generator, selector or None, pattern if equals else "*")


def _routes(value: Any) -> tuple[Route, ...]:
    """Routes from comma-separated text (ini, option, environment), a list of them, or a
    mapping of `SELECTOR:GLOB` (or `*`) to generator (a marker)."""
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, Mapping):
        items = [f"{k}={v}" for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigurationError(f"generators must be a list of routes; got {value!r}")
    return tuple(item if isinstance(item, Route) else parse_route(str(item)) for item in items)


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{name} must be true or false; got {value!r}")


def _seed(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"seed must be an integer; got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """How a server answers: record mode, fallback, seed, timing, upstream and matching."""

    record_mode: str = "none"
    fallback: str = "error"
    seed: int = DEFAULT_SEED
    timing: str = "recorded"
    upstream: str | None = None
    match_on: tuple[str, ...] = DEFAULT_MATCHERS
    fail_on_unplayed: bool = False
    drift: bool = False
    models: tuple[Any, ...] = ()
    generators: tuple[Route, ...] = ()

    def layer(self, values: Mapping[str, Any], source: str) -> Settings:
        """These settings overridden by the non-None `values`, each validated."""
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            if key not in SETTING_NAMES:
                raise ConfigurationError(
                    f"{source}: unknown setting {key!r}; valid: {', '.join(SETTING_NAMES)}"
                )
            try:
                changes[key] = _VALIDATORS[key](value)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{source}: {exc}") from None
        return replace(self, **changes)

    @property
    def records(self) -> bool:
        """Whether the record mode may record at all."""
        return self.record_mode != "none"


def _timing(value: Any) -> str:
    parse_timing(value)
    return str(value)


_VALIDATORS: dict[str, Any] = {
    "record_mode": lambda v: _choice("record_mode", v, RECORD_MODES),
    "fallback": lambda v: _choice("fallback", v, FALLBACKS),
    "seed": _seed,
    "timing": _timing,
    "upstream": lambda v: str(v) or None,
    "match_on": _matchers,
    "fail_on_unplayed": lambda v: _boolean("fail_on_unplayed", v),
    "drift": lambda v: _boolean("drift", v),
    "models": _models,
    "generators": _routes,
}
SETTING_NAMES = tuple(f.name for f in fields(Settings))


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings given as `MOCKINFER_<NAME>` environment variables."""
    return {
        name: environ[ENV_PREFIX + name.upper()]
        for name in SETTING_NAMES
        if ENV_PREFIX + name.upper() in environ
    }
