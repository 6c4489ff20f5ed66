"""Dense embeddings by feature hashing: texts that share words or n-grams point the same way.

How a vector is made:

1. The text's features (stemmed words, stop words, character 3-grams of words) get integer
   weights that saturate with term frequency.
2. Each feature hashes (blake2b) to three signed rows of a 1024-row random basis, so the text
   becomes an integer coefficient vector ``c``. Long texts are scaled down to a fixed L1 budget.
3. A shared "bias" direction (real models have a common component), a small per-text "noise"
   direction (so "Cat" and "cat!" still differ a little) and, when ``input_type`` is given, a
   per-type direction (queries and passages shift consistently) are added, each sized as a
   fixed fraction of the content's norm with exact integer arithmetic.
4. ``v = c @ B`` where the basis ``B`` (odd integers in [-255, 255]) comes from
   ``hashlib.shake_256`` keyed by the endpoint, never from numpy's RNG streams.

All sums up to the final division are exact integers (every partial sum stays below 2**53), so
BLAS blocking, SIMD and summation order cannot change a bit: the same input gives the same bytes
on every machine, alone or inside a batch.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from mockinfer.generators.seeds import derive_seed, to_float32
from mockinfer.generators.text import STOP_WORDS, char_ngrams, iter_words, stem
from mockinfer.wire.services import MAX_DIMENSIONS

SIMILARITIES = frozenset({"cosine", "dot_product", "l2_norm", "max_inner_product"})
ELEMENT_TYPES = frozenset({"float", "byte", "bit"})

_ROWS = 1024
_CONTENT_L1 = 1 << 16  # per-text coefficient budget; with the extras, |v_i| < 2**25
_WORD, _STOP, _GRAM = 128, 16, 32  # base weights: a word says more than one of its 3-grams
_EMPTY_NORM_SQ = 512 * 512  # stands in for the content norm of a text without any word
_MAX_CHARS = 32768  # like a real model's context window (~8k tokens); the rest is not read

# (row, row, row, sign, sign, sign): three signed basis rows per feature, so that a row
# shared by two unrelated features adds noise that cancels out on average.
Probes = tuple[int, int, int, int, int, int]


def _probe_bits(bits: int) -> Probes:
    s0, s1, s2 = (1 if (bits >> (30 + i)) & 1 else -1 for i in range(3))
    return bits & 1023, (bits >> 10) & 1023, (bits >> 20) & 1023, s0, s1, s2


@lru_cache(maxsize=1 << 16)
def _probes(feature: str) -> Probes:
    data = feature.encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8, person=b"mockinfer.dense").digest()
    return _probe_bits(int.from_bytes(digest, "big"))


@lru_cache(maxsize=4)
def _basis(seed: int, inference_id: str, task_type: str, dimensions: int) -> np.ndarray:
    """The endpoint's random basis: odd integers in [-255, 255], shape (rows, dimensions)."""
    key = derive_seed(seed, inference_id, task_type, f"dense-basis:{dimensions}")
    raw = hashlib.shake_256(key.to_bytes(8, "big")).digest(_ROWS * dimensions)
    basis = np.frombuffer(raw, dtype=np.uint8).reshape(_ROWS, dimensions).astype(np.float64)
    basis *= 2.0
    basis -= 255.0
    basis.flags.writeable = False
    return basis


@lru_cache(maxsize=1 << 14)
def _word_features(word: str) -> tuple[str, ...]:
    """A word's features: the word itself if it is a stop word, else its stem and 3-grams."""
    if word in STOP_WORDS:
        return ("s\x1f" + word,)
    return ("w\x1f" + stem(word), *("g\x1f" + gram for gram in char_ngrams(word)))


_BASE_WEIGHTS = {"s": _STOP, "w": _WORD, "g": _GRAM}


def _weighted_features(content: str) -> dict[str, int]:
    counts = Counter(chain.from_iterable(map(_word_features, iter_words(content[:_MAX_CHARS]))))
    base = _BASE_WEIGHTS
    # tf saturation 2tf/(tf+1): repeating a word helps, but less and less.
    return {f: 2 * base[f[0]] * tf // (tf + 1) for f, tf in counts.items()}


def _add(c: np.ndarray, probes: Sequence[Probes], weights: Sequence[int]) -> None:
    """Add weights[i] along probes[i] to row i of c (the same basis row may repeat)."""
    if not probes:
        return
    table = np.array(probes, dtype=np.int64)
    owners = np.repeat(np.arange(len(probes)), 3)
    np.add.at(
        c, (owners, table[:, :3].ravel()), (table[:, 3:] * np.array(weights)[:, None]).ravel()
    )


#: From this many texts on, one matrix product over the rows any of them uses beats a
#: vector product per text over its own rows.
_BATCH = 8


def _project(coefficients: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """coefficients @ basis, reading only the basis rows the texts use.

    Bit-identical however it is computed: every partial sum is an integer below 2**53, exact
    in float64 whatever the order BLAS adds in.
    """
    if coefficients.shape[0] >= _BATCH:
        used = np.flatnonzero(coefficients.any(axis=0))
        product: np.ndarray = coefficients[:, used].astype(np.float64) @ basis[used]
        return product
    out = np.empty((coefficients.shape[0], basis.shape[1]), dtype=np.float64)
    for i, row in enumerate(coefficients):
        used = np.flatnonzero(row)
        out[i] = row[used].astype(np.float64) @ basis[used]
    return out


def _coefficients(
    seed: int, inference_id: str, task_type: str, contents: Sequence[str], input_type: str | None
) -> np.ndarray:
    """The integer coefficient matrix, one row per content; rows never interact."""
    probes: list[Probes] = []
    weights: list[int] = []
    owners: list[int] = []
    for i, content in enumerate(contents):
        features = _weighted_features(content)
        probes.extend(map(_probes, features))
        weights.extend(features.values())
        owners.extend([i] * len(features))
    n = len(contents)
    c = np.zeros((n, _ROWS), dtype=np.int64)
    if probes:
        table = np.fromiter(chain.from_iterable(probes), np.int64, 6 * len(probes)).reshape(-1, 6)
        flat = (np.array(owners)[:, None] * _ROWS + table[:, :3]).ravel()
        values = (table[:, 3:] * np.array(weights)[:, None]).ravel()
        # bincount sums in float64, exact here: every partial sum is an integer below 2**53.
        c = np.bincount(flat, values, n * _ROWS).astype(np.int64).reshape(n, _ROWS)
    l1 = np.abs(c).sum(axis=1)
    long = l1 > _CONTENT_L1
    c[long] = (c[long] * _CONTENT_L1) // l1[long, None]
    norm_sq = [int(x) or _EMPTY_NORM_SQ for x in np.einsum("ij,ij->i", c, c)]
    # Each extra has three probes, so its squared norm is 3*w**2: w = isqrt(norm_sq * f**2 / 3).
    _add(c, [_probes("\x00bias")] * n, [math.isqrt(q // 48) for q in norm_sq])  # 1/4
    noise = [_probe_bits(derive_seed(seed, inference_id, task_type, t)) for t in contents]
    _add(c, noise, [math.isqrt(q // 300) for q in norm_sq])  # 1/10
    if input_type:
        shifted_sq = np.einsum("ij,ij->i", c, c).tolist()
        type_probes = [_probes("\x00type\x1f" + input_type.lower())] * n
        _add(c, type_probes, [math.isqrt(q * 3 // 400) for q in shifted_sq])  # 0.15
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
    coefficients = _coefficients(seed, inference_id, task_type, contents, input_type)
    exact = _project(coefficients, _basis(seed, inference_id, task_type, dimensions))
    ints = exact.astype(np.int64)
    norm_sq = np.einsum("ij,ij->i", ints, ints)
    ints[norm_sq == 0, 0] = 1  # a zero vector has no direction; only possible for tiny dims
    norm_sq[norm_sq == 0] = 1
    unit = ints.astype(np.float64) / np.sqrt(norm_sq.astype(np.float64))[:, None]
    if element_type == "float" and similarity in ("l2_norm", "max_inner_product"):
        noise = [derive_seed(seed, inference_id, task_type, t) for t in contents]
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
    as_float32: npt.NDArray[Any] = rows.astype(np.float32) + np.float32(0.0)
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
