"""The settings vocabulary shared by the CLI, the plugin and the engines."""

from __future__ import annotations

import pytest

from mockinfer.cassette.matching import MATCHERS
from mockinfer.errors import ConfigurationError
from mockinfer.generators import DEFAULT_SEED
from mockinfer.settings import DEFAULT_SEED as SETTINGS_SEED
from mockinfer.settings import MATCHER_NAMES, Settings, from_environment, parse_timing


def test_light_constants_match_the_implementations() -> None:
    assert SETTINGS_SEED == DEFAULT_SEED
    assert set(MATCHER_NAMES) == set(MATCHERS)


@pytest.mark.parametrize(
    ("value", "factor"), [("recorded", 1.0), ("instant", 0.0), ("0.5", 0.5), (2, 2.0)]
)
def test_timing(value: str | float, factor: float) -> None:
    assert parse_timing(value) == factor


@pytest.mark.parametrize("value", ["-1", "inf", "nan", "slow", None])
def test_timing_refuses_what_cannot_pace_a_stream(value: str | None) -> None:
    with pytest.raises(ConfigurationError, match="timing must be"):
        parse_timing(value)  # type: ignore[arg-type]


def test_layers_override_only_what_they_set() -> None:
    base = Settings().layer(
        {"seed": "3", "match_on": "method,path", "fail_on_unplayed": "yes"}, "ini"
    )
    top = base.layer({"seed": None, "fallback": "synthesize"}, "marker")
    assert (top.seed, top.match_on, top.fail_on_unplayed, top.fallback) == (
        3,
        ("method", "path"),
        True,
        "synthesize",
    )
    with pytest.raises(ConfigurationError, match="marker: unknown setting 'colour'"):
        top.layer({"colour": "red"}, "marker")


def test_environment_names() -> None:
    env = {"MOCKINFER_RECORD_MODE": "once", "MOCKINFER_SEED": "9", "UNRELATED": "x"}
    assert from_environment(env) == {"record_mode": "once", "seed": "9"}
