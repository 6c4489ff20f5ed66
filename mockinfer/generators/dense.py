"""Dense embeddings by feature hashing: texts that share words or n-grams point the same way.

How a vector is made:

1. Each distinct word of the text gets an integer row over a 496-row random basis: a stop word
   along the three signed basis rows its hash names, any other word along those of its stem
   and of each of its character 3-grams (a word says more than one of its 3-grams). Word rows
   are cached, so a text costs a few steps per word, not per feature.
2. The text's coefficient vector ``c`` is the sum of its word rows, each weighted by the word's
   term frequency, saturating (``8 tf // (tf + 1)``: repeating a word helps, but less and
   less). Long texts are scaled down to a fixed L1 budget.
3. A shared "bias" direction (real models have a common component), a small per-text "noise"
   direction (so "Cat" and "cat!" still differ a little) and, when ``input_type`` is given, a
   per-type direction (queries and passages shift consistently) are added, each sized as a
   fixed fraction of the content's norm with exact integer arithmetic.
4. ``v = c @ B`` where the basis ``B`` (odd integers in [-63, 63]) comes from
   ``hashlib.shake_256`` keyed by the endpoint, never from numpy's RNG streams.

All sums up to the final division are exact integers: the product runs in float32, whose
partial sums stay below 2**24 (``|c|_1 <= 133616`` with the extras, ``|B| <= 63``), and
everything before it in float64 or int64. So BLAS blocking, SIMD and summation order cannot
change a bit: the same input gives the same bytes on every machine, alone or inside a batch.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from mockinfer.generators.seeds import derive_seed, to_float32
from mockinfer.generators.text import STOP_WORDS, char_ngrams, stem, term_frequencies
from mockinfer.wire.services import MAX_DIMENSIONS

SIMILARITIES = frozenset({"cosine", "dot_product", "l2_norm", "max_inner_product"})
ELEMENT_TYPES = frozenset({"float", "byte", "bit"})

#: Basis rows. Below 500, numpy's threshold for releasing the GIL in element-wise work, so
#: that a single text's coefficient vector is handled without letting a busy thread in.
_ROWS = 496
#: Copied where zeros are needed: np.zeros lets the GIL go while it zeroes a kilobyte or more
#: (numpy's calloc path); a copy, or a fill of fewer than 500 elements, does not.
_ZERO_ROW = np.zeros(_ROWS, dtype=np.float32)
_CONTENT_L1 = 1 << 16  # per-text coefficient budget; with the extras, |c|_1 <= 133616
_WORD, _STOP, _GRAM = 32, 4, 8  # base weights, times 4 for a word seen once
_EMPTY_NORM_SQ = 512 * 512  # stands in for the content norm of a text without any word
_MAX_CHARS = 32768  # like a real model's context window (~8k tokens); the rest is not read

# (row, row, row, sign, sign, sign): three signed basis rows per feature, so that a row
# shared by two unrelated features adds noise that cancels out on average.
Probes = tuple[int, int, int, int, int, int]


def _probe_bits(bits: int) -> Probes:
    """Three rows from three 16-bit fields of a 64-bit hash (the modulo favours the first 64
    rows by 1/132) and three signs from the bits above them."""
    return (
        (bits & 0xFFFF) % _ROWS,
        ((bits >> 16) & 0xFFFF) % _ROWS,
        ((bits >> 32) & 0xFFFF) % _ROWS,
        1 if (bits >> 48) & 1 else -1,
        1 if (bits >> 49) & 1 else -1,
        1 if (bits >> 50) & 1 else -1,
    )


_FEATURE_HASH = hashlib.blake2b(digest_size=8, person=b"mockinfer.dense")


@lru_cache(maxsize=1 << 16)
def _probes(feature: str) -> Probes:
    digest = _FEATURE_HASH.copy()  # cheaper than setting up the personalised hash each time
    digest.update(feature.encode("utf-8", "surrogatepass"))
    return _probe_bits(int.from_bytes(digest.digest(), "big"))


@lru_cache(maxsize=4)
def _basis(seed: int, inference_id: str, task_type: str, dimensions: int) -> np.ndarray:
    """The endpoint's random basis: odd integers in [-63, 63], shape (rows, dimensions)."""
    key = derive_seed(seed, inference_id, task_type, f"dense-basis:{dimensions}")
    raw = hashlib.shake_256(key.to_bytes(8, "big")).digest(_ROWS * dimensions)
    levels = (np.frombuffer(raw, dtype=np.uint8) >> 2).reshape(_ROWS, dimensions)
    basis: np.ndarray = levels.astype(np.float32) * np.float32(2.0) - np.float32(63.0)
    basis.flags.writeable = False
    return basis


@lru_cache(maxsize=1 << 13)
def _word_row(word: str) -> npt.NDArray[np.float32]:
    """A word's integer row over the basis (float32: exact, its entries stay below 2**24)."""
    if word in STOP_WORDS:
        features = [("s\x1f" + word, _STOP)]
    else:
        features = [("w\x1f" + stem(word), _WORD)]
        features.extend(("g\x1f" + gram, _GRAM) for gram in char_ngrams(word))
    sums: defaultdict[int, int] = defaultdict(int)
    for feature, weight in features:
        _add(sums, _probes(feature), weight)
    row: npt.NDArray[np.float32] = _ZERO_ROW.copy()
    row.put(list(sums), list(sums.values()))
    row.flags.writeable = False
    return row


def _add(row: Any, probes: Probes, weight: int) -> None:
    """Add `weight` along `probes` to `row` (sums by row, or an array one element at a time:
    see `_coefficients`)."""
    r0, r1, r2, s0, s1, s2 = probes
    row[r0] += s0 * weight
    row[r1] += s1 * weight
    row[r2] += s2 * weight


def _term_weight(tf: int) -> int:
    return 8 * tf // (tf + 1)


#: Distinct words (counted per text) of the texts that share one frequency matrix, whose
#: columns are the group's distinct words: a bigger group would multiply mostly zeros.
_GROUP_WORDS = 256


def _content(contents: Sequence[str]) -> np.ndarray:
    """The coefficients of the texts' words, one row per text (float64, exact integers)."""
    blocks: list[np.ndarray] = []
    group: list[dict[str, int]] = []
    size = 0
    for content in contents:
        counts = term_frequencies(content[:_MAX_CHARS])
        group.append(counts)
        size += len(counts)
        if size >= _GROUP_WORDS:
            blocks.append(_word_sums(group))
            group, size = [], 0
    if group:
        blocks.append(_word_sums(group))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _word_sums(group: Sequence[Mapping[str, int]]) -> np.ndarray:
    """Each text's word rows weighted by term frequency and summed, as one matrix product."""
    columns: dict[str, int] = {}
    owners: list[int] = []
    cells: list[int] = []
    weights: list[int] = []
    for text, counts in enumerate(group):
        for word, tf in counts.items():
            owners.append(text)
            cells.append(columns.setdefault(word, len(columns)))
            weights.append(_term_weight(tf))
    if not columns:
        return np.full((len(group), _ROWS), 0.0)  # not np.zeros: see _ZERO_ROW
    width = len(columns)
    frequencies = np.full((len(group), width), 0.0)
    places = [owner * width + cell for owner, cell in zip(owners, cells, strict=True)]
    frequencies.put(places, weights)  # put, not indexing with arrays: see `_coefficients`
    word_rows = np.array([_word_row(word) for word in columns], dtype=np.float64)
    product: np.ndarray = frequencies @ word_rows
    return product


def _norms_sq(c: np.ndarray) -> list[int]:
    return [int(x) for x in np.einsum("ij,ij->i", c, c)]


_BIAS = _probes("\x00bias")


def _coefficients(
    noise_seeds: Sequence[int], contents: Sequence[str], input_type: str | None
) -> np.ndarray:
    """The coefficient matrix, one row per content (exact integers); rows never interact.

    Nothing here indexes with arrays, and extras are added one element at a time: indexing with
    arrays releases the GIL even for one text, and the server's thread then waits out the
    switch interval of every busy thread (a test's own, in a pytest process) to get it back.
    """
    c = _content(contents)
    l1 = np.abs(c).sum(axis=1)
    long = l1 > _CONTENT_L1
    if long.any():
        budget = np.maximum(l1, 1).astype(np.int64)[:, None]  # rows kept as they are may be 0
        scaled = c.astype(np.int64) * _CONTENT_L1 // budget
        c = np.where(long[:, None], scaled, c)
    norms_sq = [q or _EMPTY_NORM_SQ for q in _norms_sq(c)]
    for text, (noise_seed, norm_sq) in enumerate(zip(noise_seeds, norms_sq, strict=True)):
        # Each extra has three probes, so its squared norm is 3*w**2: w = isqrt(|c|^2 f^2 / 3).
        _add(c[text], _BIAS, math.isqrt(norm_sq // 48))  # 1/4
        _add(c[text], _probe_bits(noise_seed), math.isqrt(norm_sq // 300))  # 1/10
    if input_type:
        probes = _probes("\x00type\x1f" + input_type.lower())
        for text, shifted_sq in enumerate(_norms_sq(c)):
            _add(c[text], probes, math.isqrt(shifted_sq * 3 // 400))  # 0.15
    return c


def _check(dimensions: int, similarity: str, element_type: str) -> None:
    if not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ValueError(f"dimensions must be in [1, {MAX_DIMENSIONS}], got {dimensions}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}")
    if element_type not in ELEMENT_TYPES:
        raise ValueError(f"unknown element_type {element_type!r}")
    if element_type == "bit" and dimensions % 8:
        raise ValueError(f"bit vectors need dimensions divisible by 8, got {dimensions}")


def dense_array(
    *,
    seed: int,
    inference_id: str,
    task_type: str,
    contents: Sequence[str],
    dimensions: int,
    similarity: str,
    element_type: str,
    input_type: str | None,
) -> npt.NDArray[Any]:
    """The embeddings of :func:`dense_vectors` as one array, a row per content.

    ``float32`` for ``float``; ``int8`` for ``byte`` and for bit-packed ``bit`` rows. Callers
    that encode JSON in bulk use this to avoid formatting floats one by one in Python.
    """
    similarity, element_type = similarity.lower(), element_type.lower()  # ES ignores case
    _check(dimensions, similarity, element_type)
    if not contents:
        width = dimensions // 8 if element_type == "bit" else dimensions
        return np.zeros((0, width), dtype=np.float32 if element_type == "float" else np.int8)
    noise = [derive_seed(seed, inference_id, task_type, t) for t in contents]
    coefficients = _coefficients(noise, contents, input_type)
    exact = coefficients.astype(np.float32) @ _basis(seed, inference_id, task_type, dimensions)
    # Squares of exact integers, summed in int64: never rounded, in any order.
    norm_sq = np.einsum("ij,ij->i", exact, exact, dtype=np.int64, casting="unsafe")
    zero = norm_sq == 0
    if zero.any():  # a zero vector has no direction; only possible for tiny dims
        exact[zero, 0] = 1
        norm_sq[zero] = 1
    unit = exact.astype(np.float64)
    unit /= np.sqrt(norm_sq.astype(np.float64))[:, None]  # in place: one big array fewer
    if element_type == "float" and similarity in ("l2_norm", "max_inner_product"):
        unit *= np.array([1.0 + (n % 4096) / 16384.0 for n in noise])[:, None]
    return as_element_type(unit, element_type)


def as_element_type(rows: npt.NDArray[Any], element_type: str) -> npt.NDArray[Any]:
    """Float rows as ES sends them for `element_type`: float32 for `float`, int8 scaled to
    the row's peak for `byte`, bit-packed signs (as int8) for `bit`."""
    if element_type == "bit":
        packed: npt.NDArray[Any] = np.packbits(rows > 0.0, axis=1).view(np.int8)
        return packed
    if element_type == "byte":
        peak = np.abs(rows).max(axis=1)[:, None]
        peak[peak == 0] = 1.0
        quantized: npt.NDArray[Any] = np.clip(np.rint(rows * (127.0 / peak)), -128, 127).astype(
            np.int8
        )
        return quantized
    # float32 has no negative zero worth sending; ES never writes -0.0 for an embedding.
    as_float32: npt.NDArray[Any] = rows.astype(np.float32)
    as_float32 += np.float32(0.0)
    return as_float32


def dense_vectors(
    *,
    seed: int,
    inference_id: str,
    task_type: str,
    contents: Sequence[str],
    dimensions: int,
    similarity: str,
    element_type: str,
    input_type: str | None,
) -> list[list[float]] | list[list[int]]:
    """One embedding per content, each a function of (seed, endpoint, task, that content) only.

    ``seed`` is the master seed. ``cosine``/``dot_product`` vectors have unit length;
    ``l2_norm``/``max_inner_product`` ones a per-text length in [1, 1.25). ``float`` gives
    float32-rounded floats, ``byte`` ints in [-128, 127], ``bit`` ``dimensions // 8`` bit-packed
    sign bytes. ``input_type`` shifts vectors slightly and consistently. Settings ignore case.
    """
    array = dense_array(
        seed=seed,
        inference_id=inference_id,
        task_type=task_type,
        contents=contents,
        dimensions=dimensions,
        similarity=similarity,
        element_type=element_type,
        input_type=input_type,
    )
    if array.dtype == np.int8:
        ints: list[list[int]] = array.tolist()
        return ints
    rounded = to_float32(array.ravel())
    width = array.shape[1]
    return [rounded[i * width : (i + 1) * width] for i in range(array.shape[0])]


def dense_vector(
    *,
    seed: int,
    inference_id: str,
    task_type: str,
    content: str,
    dimensions: int,
    similarity: str,
    element_type: str,
    input_type: str | None,
) -> list[float] | list[int]:
    """The embedding of one content; identical to its entry in any :func:`dense_vectors` batch."""
    return dense_vectors(
        seed=seed,
        inference_id=inference_id,
        task_type=task_type,
        contents=[content],
        dimensions=dimensions,
        similarity=similarity,
        element_type=element_type,
        input_type=input_type,
    )[0]
