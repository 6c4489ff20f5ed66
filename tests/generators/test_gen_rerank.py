"""Rerank scores."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import RankedDocument, rerank

DOCS = [
    "How to reset a forgotten password",
    "Quarterly revenue grew in Europe",
    "Password policy for admins",
]


def ranked(
    query: str, docs: list[str], seed: int = 0, top_n: int | None = None, texts: bool = False
) -> list[RankedDocument]:
    return rerank(
        seed=seed,
        inference_id="my-rerank",
        query=query,
        documents=docs,
        top_n=top_n,
        return_documents=texts,
    )


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (0, [(0, 0.7759996), (2, 0.4607034), (1, 0.046463106)]),
        (42, [(0, 0.7814099), (2, 0.46119285), (1, 0.037559066)]),
    ],
)
def test_golden(seed: int, expected: list[tuple[int, float]]) -> None:
    result = ranked("reset my password", DOCS, seed)
    assert [(d.index, d.relevance_score) for d in result] == expected
    assert all(d.text is None for d in result)


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize(
    ("query", "related", "unrelated"),
    [
        (
            "the cat sat on the mat",
            "a cat was sitting on a mat",
            "quarterly revenue grew in europe",
        ),
        ("elasticsearch inference", "the inference API of Elasticsearch", "banana bread recipe"),
    ],
)
def test_overlap_scores_higher(seed: int, query: str, related: str, unrelated: str) -> None:
    scores = {d.index: d.relevance_score for d in ranked(query, [unrelated, related], seed)}
    assert scores[1] > scores[0] + 0.2


def test_top_n_and_return_documents() -> None:
    result = ranked("password", DOCS, top_n=2, texts=True)
    assert [d.index for d in result] == [2, 0]
    assert [d.text for d in result] == [DOCS[2], DOCS[0]]
    assert ranked("password", DOCS, top_n=0) == []
    assert len(ranked("password", DOCS, top_n=10)) == 3
    with pytest.raises(ValueError):
        ranked("password", DOCS, top_n=-1)


def test_no_overlap_still_gives_distinct_scores() -> None:
    scores = [d.relevance_score for d in ranked("zebra", ["alpha", "beta", "gamma", "delta"])]
    assert len(set(scores)) == 4


@settings(max_examples=40, deadline=None)
@given(
    st.text(max_size=40),
    st.lists(st.text(max_size=80), max_size=8),
    st.integers(0, 2**64),
    st.one_of(st.none(), st.integers(0, 10)),
)
def test_properties(query: str, docs: list[str], seed: int, top_n: int | None) -> None:
    result = ranked(query, docs, seed, top_n)
    assert result == ranked(query, docs, seed, top_n)
    assert len(result) == (len(docs) if top_n is None else min(top_n, len(docs)))
    keys = [(-d.relevance_score, d.index) for d in result]
    assert keys == sorted(keys)
    for doc in result:
        assert 0.0 < doc.relevance_score < 1.0
        # A document's score depends on the query and itself only, not on its neighbours.
        (alone,) = ranked(query, [docs[doc.index]], seed)
        assert alone.relevance_score == doc.relevance_score


def test_long_documents() -> None:
    result = ranked("lorem", ["lorem ipsum " * 50_000, "x" * 100_000, ""])
    assert result[0].index == 0
