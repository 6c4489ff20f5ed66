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

import numpy as np

from mockinfer.generators.seeds import derive_seed, to_float32
from mockinfer.generators.text import STOP_WORDS, char_ngrams, iter_words, stem

SIMILARITIES = frozenset({"cosine", "dot_product", "l2_norm", "max_inner_product"})
ELEMENT_TYPES = frozenset({"float", "byte", "bit"})
MAX_DIMENSIONS = 8192  # keeps every integer squared norm below 2**63 (see the docstring)

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


def _weighted_features(content: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for word in iter_words(content[:_MAX_CHARS]):
        if word in STOP_WORDS:
            counts["s\x1f" + word] += 1
            continue
        counts["w\x1f" + stem(word)] += 1
        counts.update("g\x1f" + gram for gram in char_ngrams(word))
    base = {"s": _STOP, "w": _WORD, "g": _GRAM}
    # tf saturation 2tf/(tf+1): repeating a word helps, but less and less.
    return {f: 2 * base[f[0]] * tf // (tf + 1) for f, tf in counts.items()}


def _add(c: np.ndarray, probes: Probes, weight: int) -> None:
    np.add.at(c, list(probes[:3]), [s * weight for s in probes[3:]])


def _coefficients(
    seed: int, inference_id: str, task_type: str, content: str, input_type: str | None
) -> np.ndarray:
    weights = _weighted_features(content)
    c = np.zeros(_ROWS, dtype=np.int64)
    if weights:
        probes = np.array([_probes(f) for f in weights], dtype=np.int64)
        values = probes[:, 3:] * np.fromiter(weights.values(), np.int64, len(weights))[:, None]
        # bincount sums in float64, exact here: every partial sum is an integer below 2**53.
        c = np.bincount(probes[:, :3].ravel(), values.ravel(), _ROWS).astype(np.int64)
        l1 = int(np.abs(c).sum())
        if l1 > _CONTENT_L1:
            c = (c * _CONTENT_L1) // l1
    norm_sq = int(c @ c) or _EMPTY_NORM_SQ
    noise = derive_seed(seed, inference_id, task_type, content)
    # Each extra has three probes, so its squared norm is 3*w**2: w = isqrt(norm_sq * f**2 / 3).
    _add(c, _probes("\x00bias"), math.isqrt(norm_sq // 48))  # 1/4 of the content norm
    _add(c, _probe_bits(noise), math.isqrt(norm_sq // 300))  # 1/10
    if input_type:
        type_probes = _probes("\x00type\x1f" + input_type.lower())
        _add(c, type_probes, math.isqrt(int(c @ c) * 3 // 400))  # 0.15
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
    sign bytes. ``input_type`` (any case) shifts vectors slightly and consistently.
    """
    _check(dimensions, similarity, element_type)
    if not contents:
        return []
    coefficients = np.stack(
        [_coefficients(seed, inference_id, task_type, t, input_type) for t in contents]
    )
    exact = coefficients.astype(np.float64) @ _basis(seed, inference_id, task_type, dimensions)
    ints = exact.astype(np.int64)
    norm_sq = np.einsum("ij,ij->i", ints, ints)
    ints[norm_sq == 0, 0] = 1  # a zero vector has no direction; only possible for tiny dims
    norm_sq[norm_sq == 0] = 1
    unit = ints.astype(np.float64) / np.sqrt(norm_sq.astype(np.float64))[:, None]
    if element_type == "bit":
        packed = np.packbits(unit > 0.0, axis=1).view(np.int8)
        bits: list[list[int]] = packed.tolist()
        return bits
    if element_type == "byte":
        peak = np.abs(unit).max(axis=1)[:, None]
        quantized = np.clip(np.rint(unit * (127.0 / peak)), -128, 127).astype(np.int8)
        as_bytes: list[list[int]] = quantized.tolist()
        return as_bytes
    if similarity in ("l2_norm", "max_inner_product"):
        noise = [derive_seed(seed, inference_id, task_type, t) for t in contents]
        unit *= np.array([1.0 + (n % 4096) / 16384.0 for n in noise])[:, None]
    rounded = to_float32(unit.ravel())
    return [rounded[i * dimensions : (i + 1) * dimensions] for i in range(len(contents))]


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
