"""Which generator answers an endpoint, and what a generator must declare."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from mockinfer.engines.plugins import GeneratorSet
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.errors import ConfigurationError, PluginError
from mockinfer.settings import Route, Settings, parse_route
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.tasks import TaskType
from tests.generator_plugins.sample import Echo, Fickle


def endpoint(inference_id: str, service: str, model: str | None, task: str) -> Endpoint:
    settings = {"model_id": model} if model else {}
    return Endpoint(inference_id, TaskType(task), service, settings, {})


def generators(*registered: Any, routes: str = "") -> GeneratorSet:
    found = GeneratorSet(discover=False)
    for generator in registered:
        found.register(generator)
    found.routes = [parse_route(r) for r in routes.split(",") if r]
    return found


def picked(found: GeneratorSet, *args: str) -> str | None:
    plugin = found.pick(endpoint(*args))
    return plugin.name if plugin else None


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("minilm", Route("minilm")),
        ("*=minilm", Route("minilm")),
        ("model:*MiniLM*=minilm", Route("minilm", "model", "*MiniLM*")),
        ("endpoint:docs-*=core", Route("core", "endpoint", "docs-*")),
        ("service:hugging_face=minilm", Route("minilm", "service", "hugging_face")),
        ("task:rerank=minilm", Route("minilm", "task", "rerank")),
    ],
)
def test_routes_are_read_as_written(text: str, route: Route) -> None:
    assert parse_route(text) == route
    assert parse_route(str(route)) == route


@pytest.mark.parametrize("text", ["", "model:=x", "colour:red=x", "model:x=", "model=x", "a b"])
def test_a_malformed_route_says_what_a_route_is(text: str) -> None:
    with pytest.raises(ConfigurationError, match="a generator route is GENERATOR or SELECTOR"):
        parse_route(text)


def test_the_setting_takes_text_lists_and_mappings() -> None:
    base = Settings()
    assert base.layer({"generators": "a, model:m=b"}, "ini").generators == (
        Route("a"),
        Route("b", "model", "m"),
    )
    assert base.layer({"generators": ["a"]}, "marker").generators == (Route("a"),)
    assert base.layer({"generators": {"*": "a", "task:rerank": "core"}}, "marker").generators == (
        Route("a"),
        Route("core", "task", "rerank"),
    )


def test_defaults_claim_models_without_case_and_only_for_served_tasks() -> None:
    found = generators(Echo(), Fickle())
    assert picked(found, "e", "openai", "ECHO-model", "text_embedding") == "echo"
    assert picked(found, "e", "openai", "fickle-model", "text_embedding") == "fickle"
    assert picked(found, "e", "openai", "fickle-model", "completion") is None
    assert picked(found, "e", "openai", "gpt-4o", "text_embedding") is None
    # A Hugging Face endpoint names its model in its URL.
    assert picked_url(found, "http://tei:8080/hf/echo-model/embed") == "echo"


def picked_url(found: GeneratorSet, url: str) -> str | None:
    hf = Endpoint("hf", TaskType.TEXT_EMBEDDING, "hugging_face", {"url": url}, {})
    plugin = found.pick(hf)
    return plugin.name if plugin else None


def test_routes_are_tried_in_order_before_the_defaults() -> None:
    found = generators(Echo(), Fickle(), routes="endpoint:keep=core,task:text_embedding=fickle")
    assert picked(found, "keep", "openai", "echo-model", "text_embedding") is None
    assert picked(found, "other", "openai", "echo-model", "text_embedding") == "fickle"
    # A route without a selector passes over the tasks its generator does not serve.
    found.routes = [parse_route("fickle")]
    assert picked(found, "x", "openai", "echo-model", "completion") == "echo"


def test_two_plugins_claiming_one_model_must_be_told_apart() -> None:
    class Twin(Echo):
        name = "twin"

    found = generators(Echo(), Twin())
    with pytest.raises(PluginError, match=r"both answer \[e\] by default; route it"):
        picked(found, "e", "openai", "echo-model", "text_embedding")
    found.routes = [parse_route("model:echo-model=twin")]
    assert picked(found, "e", "openai", "echo-model", "text_embedding") == "twin"


def test_a_route_to_an_unknown_generator_names_the_known_ones() -> None:
    found = generators(Echo())
    with pytest.raises(ConfigurationError, match=r"no generator named ghost .* known: core, echo"):
        found.routes = [parse_route("ghost")]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"version": 1}, "`version` must be a string"),
        ({"tasks": frozenset({"translation"})}, "`tasks` must name some of"),
        ({"deterministic": "yes"}, "`deterministic` must be True or False"),
        ({"models": "echo-model"}, "`models` and `services` must be sequences of strings"),
        ({"embed": None}, "it serves embedding but has no `embed` method"),
    ],
)
def test_a_generator_that_lacks_a_declaration_is_refused_by_name(
    change: dict[str, Any], said: str
) -> None:
    generator = Echo()
    for key, value in change.items():
        setattr(generator, key, value)
    if "embed" in change:
        generator.tasks = frozenset({"embedding"})
    with pytest.raises(PluginError, match=f"generator \\[echo\\] .* cannot be used: .*{said[:20]}"):
        GeneratorSet(discover=False).register(generator)


def test_core_is_not_a_name_to_register() -> None:
    generator = Echo()
    generator.name = "core"
    with pytest.raises(ConfigurationError, match="and not 'core'"):
        GeneratorSet(discover=False).register(generator)


def test_a_pick_follows_changes_of_routes_and_generators() -> None:
    found = generators(Echo())
    e5 = endpoint("e5", "elasticsearch", ".multilingual-e5-small", "text_embedding")
    assert found.pick(e5) is None
    assert found.pick(e5) is None
    found.routes = [parse_route("echo")]
    first = found.pick(e5)
    assert first is not None and first.name == "echo"
    found.register(Echo())
    again = found.pick(e5)
    assert again is not None and again is not first
    found.routes = []
    assert found.pick(e5) is None


def test_an_endpoint_made_for_one_request_is_not_kept_by_what_remembers_picks() -> None:
    synthesizer = Synthesizer(seed=5, generators=generators(Echo()))
    made = endpoint("made", "openai", "text-embedding-3-small", "text_embedding")
    assert synthesizer.dense(made, ["a text"], None)
    gone = weakref.ref(made)
    del made
    gc.collect()
    assert gone() is None
