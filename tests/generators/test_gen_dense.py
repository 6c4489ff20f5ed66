"""Dense embeddings: golden values, plausibility, and properties."""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import dense, dense_vector, dense_vectors

BASE: dict[str, Any] = {
    "inference_id": "my-e5",
    "task_type": "text_embedding",
    "dimensions": 384,
    "similarity": "cosine",
    "element_type": "float",
    "input_type": None,
}


def embed(text: str, seed: int = 0, **overrides: Any) -> Any:
    return dense_vector(seed=seed, content=text, **{**BASE, **overrides})


def cosine(a: Any, b: Any) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


@pytest.mark.parametrize(
    ("seed", "first", "as_bytes", "as_bits"),
    [
        (
            0,
            [0.001913264, 0.03619033, 0.07556046, -0.0067368452,
             -0.008192004, -0.08181225, -0.066344455, -0.032040436],
            [76, -12, 127, 27, -55, -2, -87, 89, 39, 37, 34, -50, 40, 93, -65, 24],
            [-77, 25, -114, -69],
        ),
        (
            42,
            [0.012923552, -0.024169104, -0.085754685, 0.037740305,
             0.09502785, 0.052754, -0.028849844, -0.09025879],
            [41, -41, 72, -127, 83, -16, -94, -48, -38, 66, 60, 6, 37, 42, 15, 6],
            [107, -88, 31, -57],
        ),
    ],
)  # fmt: skip
def test_golden(seed: int, first: list[float], as_bytes: list[int], as_bits: list[int]) -> None:
    assert embed("hello world", seed)[:8] == first
    byte_args = {"dimensions": 16, "similarity": "dot_product", "element_type": "byte"}
    assert embed("hello world", seed, input_type="search", **byte_args) == as_bytes
    assert embed("hello world", seed, dimensions=32, element_type="bit") == as_bits


QUALITY = [
    ("the cat sat on the mat", "a cat was sitting on a mat", "quarterly revenue grew in europe"),
    (
        "How do I reset my password?",
        "Steps to reset a forgotten password",
        "The weather in Paris is sunny",
    ),
    ("elasticsearch inference api", "Elasticsearch exposes an inference API", "banana bread"),
]


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize(("anchor", "related", "unrelated"), QUALITY)
def test_shared_words_mean_higher_cosine(
    seed: int, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = (embed(t, seed, dimensions=768) for t in (anchor, related, unrelated))
    assert cosine(a, r) > cosine(a, u) + 0.3


def test_shared_ngrams_alone_raise_cosine() -> None:
    anchor = embed("searching engines")
    assert cosine(anchor, embed("search engine")) > cosine(anchor, embed("tomato soup")) + 0.3


texts = st.text(max_size=60)
float_setups = st.sampled_from(
    [(8, "cosine"), (64, "dot_product"), (384, "l2_norm"), (100, "max_inner_product")]
)


@settings(max_examples=25, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), float_setups, st.integers(0, 2**64))
def test_batch_independent_and_deterministic(
    batch: list[str], setup: tuple[int, str], seed: int
) -> None:
    dimensions, similarity = setup
    args = {**BASE, "dimensions": dimensions, "similarity": similarity}
    together = dense_vectors(seed=seed, contents=batch, **args)
    assert together == dense_vectors(seed=seed, contents=batch, **args)
    assert dense_vectors(seed=seed, contents=batch[::-1], **args) == together[::-1]
    for text, vector in zip(batch, together, strict=True):
        assert vector == dense_vector(seed=seed, content=text, **args)
        assert len(vector) == dimensions
        assert all(isinstance(x, float) and math.isfinite(x) for x in vector)
        norm = float(np.linalg.norm(vector))
        if similarity in ("cosine", "dot_product"):
            assert norm == pytest.approx(1.0, abs=1e-5)
        else:
            assert 0.999 <= norm < 1.251


#: Texts with no word, stop words only, repeats, case and accents, CJK, and one long word.
PATH_TEXTS = ["", "!?", "the the the", "hello world", "Café CAFÉ café", "日本語", "x" * 300]


@pytest.mark.parametrize("input_type", [None, "search", "INGEST"])
@pytest.mark.parametrize(
    ("dimensions", "similarity", "element_type"),
    [
        (1, "cosine", "float"),
        (2, "l2_norm", "float"),
        (384, "max_inner_product", "float"),
        (1536, "dot_product", "float"),
        (16, "cosine", "byte"),
        (64, "cosine", "bit"),
    ],
)
def test_a_single_text_gives_the_bits_of_its_row_in_a_batch(
    input_type: str | None, dimensions: int, similarity: str, element_type: str
) -> None:
    args = {
        **BASE,
        "dimensions": dimensions,
        "similarity": similarity,
        "element_type": element_type,
        "input_type": input_type,
    }
    batch = dense.dense_array(seed=3, contents=PATH_TEXTS, **args)
    for text, row in zip(PATH_TEXTS, batch, strict=True):
        alone = dense.dense_array(seed=3, contents=[text], **args)
        assert alone.dtype == batch.dtype
        assert alone.tobytes() == row.tobytes()


@settings(max_examples=25, deadline=None)
@given(texts, st.sampled_from([8, 16, 384]), st.sampled_from(["byte", "bit"]))
def test_byte_and_bit_ranges(text: str, dimensions: int, element_type: str) -> None:
    vector = embed(text, dimensions=dimensions, element_type=element_type)
    assert len(vector) == (dimensions // 8 if element_type == "bit" else dimensions)
    assert all(isinstance(x, int) and -128 <= x <= 127 for x in vector)


@settings(max_examples=25, deadline=None)
@given(texts)
def test_input_type_shifts_slightly_and_consistently(text: str) -> None:
    search = embed(text, input_type="search", dimensions=768)
    ingest = embed(text, input_type="ingest", dimensions=768)
    assert search == embed(text, input_type="SEARCH", dimensions=768)
    assert search != ingest
    assert cosine(search, ingest) > 0.95


def test_seed_endpoint_and_task_change_the_vector() -> None:
    vector = embed("hello")
    assert vector != embed("hello", seed=1)
    assert vector != embed("hello", inference_id="other")
    assert vector != embed("hello", task_type="embedding")
    assert vector == embed("hello", similarity="COSINE", element_type="Float")


@pytest.mark.parametrize(
    "text", ["", " ", "🙂🙃", "\ud800", "日本語のテキスト", "a" * 100_000, "word " * 20_000]
)
def test_awkward_inputs(text: str) -> None:
    vector = embed(text, dimensions=1536)
    assert len(vector) == 1536
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"dimensions": 0},
        {"dimensions": 12, "element_type": "bit"},
        {"similarity": "euclidean"},
        {"element_type": "half"},
    ],
)
def test_invalid_settings(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        embed("x", **overrides)


def test_empty_batch() -> None:
    assert dense_vectors(seed=0, contents=[], **BASE) == []


#: Texts that push the coefficients to their bounds: one huge word, a long text scaled down to
#: the budget, a repeated word whose weight saturates, many distinct words, and no word at all.
EXTREME_TEXTS = [
    "a" * 100_000,
    "supercalifragilistic " * 5000,
    "word " * 20_000,
    " ".join(f"w{i}x{i * 7919 % 10007}" for i in range(4000)),
    "",
    "!?",
]


@pytest.mark.parametrize("input_type", [None, "search"])
def test_float32_product_is_exact_at_the_coefficient_bound(input_type: str | None) -> None:
    coefficients = dense._coefficients(range(len(EXTREME_TEXTS)), EXTREME_TEXTS, input_type)
    assert np.abs(coefficients).sum(axis=1).max() <= 133616  # so float32 sums stay exact
    basis = dense._basis(0, "my-e5", "text_embedding", 1536)
    assert np.abs(basis).max() == 63
    in_float32 = coefficients.astype(np.float32) @ basis
    exact = coefficients.astype(np.int64) @ basis.astype(np.int64)
    assert np.array_equal(in_float32.astype(np.int64), exact)


def test_a_single_text_keeps_the_gil_while_its_vector_is_made() -> None:
    """The server shares a test's process: a release of the GIL mid-request would let a busy
    test thread run a whole switch interval before the server's thread got it back. The
    server renders the array itself (`dense_array`), so that is what is watched, on texts
    whose words are known and on texts of words never seen (whose rows are built then)."""
    known = [f"the quick brown fox jumps {n}" for n in range(20)]
    settings = {**BASE, "input_type": "search"}

    def generate(text: str) -> None:
        dense.dense_array(seed=0, contents=[text], **settings)

    for text in known:
        generate(text)
    unseen = (" ".join(f"w{n}x{i}" for i in range(8)) for n in itertools.count())
    inside = threading.Event()
    stop = threading.Event()
    entered_while_inside = 0

    def busy() -> None:
        nonlocal entered_while_inside
        while not stop.is_set():
            if inside.is_set():
                entered_while_inside += 1  # only runs if the main thread let the GIL go
            time.sleep(0)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)  # the busy thread gets the GIL only when it is released
    thread = threading.Thread(target=busy)
    thread.start()
    try:
        for _ in range(10):
            for text in known:
                inside.set()
                generate(text)
                generate("")  # no word at all: the vector is the extras alone
                for _ in range(10):
                    generate(next(unseen))
                inside.clear()
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        thread.join()
    assert entered_while_inside == 0
