"""Sparse (ELSER-like) embeddings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import sparse_vector
from mockinfer.generators.text import words


def expand(text: str, seed: int = 0, limit: int = 512) -> tuple[dict[str, float], bool]:
    return sparse_vector(
        seed=seed,
        inference_id="my-elser",
        task_type="sparse_embedding",
        text=text,
        max_input_tokens=limit,
    )


def dot(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(weight * b.get(token, 0.0) for token, weight in a.items())


GOLDEN = {
    0: {
        "mats": 1.9525557, "mat": 1.1476713, "sitting": 1.0302037, "cats": 0.74157083,
        "sit": 0.46948692, "cat": 0.346284, "sits": 0.3137986, "the": 0.10407702,
        "were": 0.081920184, "on": 0.07434679,
    },
    42: {
        "cats": 1.9285476, "sitting": 0.8034318, "mats": 0.78669184, "cat": 0.76022226,
        "mat": 0.42190355, "sits": 0.3020249, "sit": 0.29384443, "on": 0.11860129,
        "were": 0.082245804, "the": 0.066245675,
    },
}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 42])
def test_golden(seed: int) -> None:
    weights, truncated = expand("The cats were sitting on mats.", seed)
    assert list(weights.items()) == list(GOLDEN[seed].items())
    assert truncated is False


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize(
    ("anchor", "related", "unrelated"),
    [
        (
            "the cat sat on the mat",
            "a cat was sitting on a mat",
            "quarterly revenue grew in europe",
        ),
        ("reset my password", "steps to reset a forgotten password", "the weather in paris"),
    ],
)
def test_shared_words_mean_larger_dot_product(
    seed: int, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = (expand(t, seed)[0] for t in (anchor, related, unrelated))
    assert dot(a, r) > dot(a, u) + 1.0


def test_expansions_link_word_forms() -> None:
    assert dot(expand("sitting")[0], expand("sit")[0]) > 0
    assert dot(expand("cities")[0], expand("city")[0]) > 0


def test_stop_words_weigh_little() -> None:
    weights, _ = expand("the database of the company")
    assert weights["the"] < 0.25 < min(weights["database"], weights["company"])


def test_empty_text() -> None:
    assert expand("") == ({}, False)
    assert expand("  ,.; ") == ({}, False)


@pytest.mark.parametrize(("count", "truncated"), [(511, False), (512, False), (513, True)])
def test_truncation_at_the_token_limit(count: int, truncated: bool) -> None:
    text = " ".join(f"w{i}" for i in range(count))
    weights, is_truncated = expand(text)
    assert is_truncated is truncated
    assert "w511" not in weights or count >= 512
    assert "w512" not in weights


def test_long_input() -> None:
    weights, truncated = expand("lorem ipsum dolor " * 6000)
    assert truncated and set(weights) >= {"lorem", "ipsum", "dolor"}


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200), st.integers(0, 2**64), st.integers(1, 40))
def test_properties(text: str, seed: int, limit: int) -> None:
    weights, truncated = expand(text, seed, limit)
    assert (weights, truncated) == expand(text, seed, limit)
    assert truncated == (len(words(text)) > limit)
    assert all(token == token.casefold() and weight > 0 for token, weight in weights.items())
    ranked = list(weights.items())
    assert ranked == sorted(ranked, key=lambda item: (-item[1], item[0]))
    assert bool(weights) == bool(words(text))
