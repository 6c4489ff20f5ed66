"""Completion text, streaming deltas and token counting."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import completion_text, count_tokens, split_deltas

GOLDEN = {
    0: (
        "Regarding elasticsearch, apply information amount environment future analysis two our"
        " allow wife different main piece anything. Management dark behavior good until part turn"
        " city win evening account such land. Write media drop production draw."
    ),
    42: (
        "About elasticsearch: party everybody picture example agreement fire cause. Respond art"
        " forget above author forward history huge meeting nearly some away personal. Serve"
        " evidence paper read where indeed window. Dinner chair family plant prepare. Public yet"
        " fear reality person."
    ),
}


def complete(prompt: str, seed: int = 0, max_tokens: int | None = None) -> str:
    return completion_text(
        seed=seed,
        inference_id="my-llm",
        task_type="completion",
        prompt=prompt,
        max_tokens=max_tokens,
    )


@pytest.mark.parametrize("seed", [0, 42])
def test_golden(seed: int) -> None:
    assert complete("What is Elasticsearch?", seed) == GOLDEN[seed]


def test_golden_deltas() -> None:
    text = "Elastic is a search company based in Amsterdam."
    assert split_deltas(text, seed=0) == ["Elastic is a search", " company based in", " Amsterdam."]
    assert split_deltas(text, seed=42) == [
        "Elastic is",
        " a",
        " search",
        " company",
        " based in Amsterdam.",
    ]


def test_default_length_varies_with_the_seed() -> None:
    lengths = {count_tokens(complete("Tell me about search", seed)) for seed in range(12)}
    assert len(lengths) > 3
    assert min(lengths) >= 30 and max(lengths) <= 90


def test_echoes_a_prompt_keyword() -> None:
    assert "kubernetes" in complete("How do I deploy on Kubernetes?").lower()


def test_inputs_that_change_the_text() -> None:
    text = complete("hello")
    assert text != complete("hello", seed=1)
    assert text != complete("hello!")


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=100), st.integers(0, 300), st.integers(0, 2**64))
def test_never_exceeds_max_tokens(prompt: str, max_tokens: int, seed: int) -> None:
    text = complete(prompt, seed, max_tokens)
    assert text == complete(prompt, seed, max_tokens)
    assert count_tokens(text) <= max_tokens
    # The budget is followed: replies are at least about half of it.
    assert count_tokens(text) >= max_tokens // 2


def test_huge_budgets_and_prompts_stay_bounded() -> None:
    assert count_tokens(complete("essay", max_tokens=10**9)) <= 8192 + 40
    assert complete("x" * 100_000 + " quantum") != ""
    assert complete("anything", max_tokens=-5) == ""


@settings(max_examples=100, deadline=None)
@given(st.text(), st.integers(0, 2**64))
def test_split_deltas_rejoin_exactly(text: str, seed: int) -> None:
    deltas = split_deltas(text, seed=seed)
    assert "".join(deltas) == text
    assert deltas == split_deltas(text, seed=seed)
    assert all(deltas)
    if text.strip():
        # 1-4 words each; whitespace leads a word (only the last delta may carry a tail).
        assert all(1 <= len(re.findall(r"\S+", d)) <= 4 for d in deltas)
        assert all(not d[-1].isspace() for d in deltas[:-1])


def test_split_deltas_edge_cases() -> None:
    assert split_deltas("", seed=1) == []
    assert split_deltas("  \n", seed=1) == ["  \n"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("Hello, world!", 4), ("it's 3.5 km", 7), ("日本語 テキスト", 2), ("a_b", 1)],
)
def test_count_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens
