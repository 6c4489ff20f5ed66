"""Seed derivation, canonical JSON and float32 rounding shared by every generator.

Everything here is a pure function whose output is identical across processes, machines and
Python hash seeds: seeds come from ``hashlib.blake2b``, never from ``hash()``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_SEED: int = 0

# Domain separation: these digests never collide with other blake2b uses of the same bytes.
_PERSON = b"mockinfer.seed"


def canonical_json(value: object) -> str:
    """JSON text with sorted keys and no whitespace: one spelling per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _part(data: bytes) -> bytes:
    # Length-prefixing makes ("ab", "c") and ("a", "bc") hash differently.
    return len(data).to_bytes(8, "big") + data


def _utf8(text: str) -> bytes:
    # surrogatepass: JSON bodies may carry lone surrogates ("\ud800"); they must still hash.
    return text.encode("utf-8", "surrogatepass")


def derive_seed(master_seed: int, inference_id: str, task_type: str, canonical_input: str) -> int:
    """64-bit unsigned seed for one input of one endpoint, derived with blake2b."""
    digest = hashlib.blake2b(digest_size=8, person=_PERSON)
    for data in (str(master_seed).encode("ascii"), _utf8(inference_id), _utf8(task_type)):
        digest.update(_part(data))
    digest.update(_part(_utf8(canonical_input)))
    return int.from_bytes(digest.digest(), "big")


def unit_fraction(*parts: str) -> float:
    """A deterministic float in [0, 1) from the given strings (blake2b, length-prefixed)."""
    digest = hashlib.blake2b(digest_size=8, person=_PERSON)
    for part in parts:
        digest.update(_part(_utf8(part)))
    return int.from_bytes(digest.digest(), "big") / 2.0**64


# Powers of ten built without libm pow(): Fraction -> float rounds correctly everywhere.
_EXP_LO, _EXP_HI = -14, 12
_POW10 = np.array([float(Fraction(10) ** e) for e in range(_EXP_LO, _EXP_HI + 1)], dtype=np.float64)
_EXACT_POW10 = np.array([float(10**e) for e in range(23)], dtype=np.float64)  # exact to 1e22


def _nearest_decimal(
    x: np.ndarray, x32: np.ndarray, exp: np.ndarray, digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """x rounded to `digits` significant digits, and whether that still reads back as x32."""
    scale = digits - 1 - exp
    # An integer divided (or multiplied) by an exact power of ten rounds once, so the result
    # is the double nearest to the decimal, and its repr is that decimal.
    if scale.size and scale.min() >= 0:
        p = _EXACT_POW10[scale]
        cand = np.rint(x * p) / p
    else:
        p = _EXACT_POW10[np.abs(scale)]
        cand = np.where(scale >= 0, np.rint(x * p) / p, np.rint(x / p) * p)
    return cand, cand.astype(np.float32) == x32


def _shortest(x: np.ndarray) -> np.ndarray:
    x32 = x.astype(np.float32)
    # Decimal exponent by table lookup: no log10, whose last bit varies between libms.
    exp = np.searchsorted(_POW10, np.abs(x), side="right") - 1 + _EXP_LO
    best: np.ndarray = x.copy()
    # From 9 digits (always enough for float32) down to 1: the last candidate that still
    # reads back as the same float32 is the shortest.
    for digits in range(9, 0, -1):
        cand, ok = _nearest_decimal(x, x32, exp, digits)
        np.copyto(best, cand, where=ok)
    return best


def to_float32(values: Sequence[float] | npt.NDArray[np.floating[Any]]) -> list[float]:
    """Round to float32 and return the Python floats whose repr is the shortest round-trip form.

    ``json.dumps`` then writes ``0.018569946`` (as Java's ``Float.toString`` would) instead of
    the float64 expansion ``0.01856994628906250``.
    """
    x32 = np.asarray(values, dtype=np.float32).ravel()
    out = x32.astype(np.float64)
    mag = np.abs(out)
    fast = (mag >= _POW10[0]) & (mag < _POW10[-1] * 10.0)
    if fast.all():
        out = _shortest(out)
    else:
        out[fast] = _shortest(out[fast])
    for i in np.flatnonzero(~fast & (mag != 0.0) & np.isfinite(mag)):
        # Rare magnitudes: numpy's float32 str is the shortest round-trip (Dragon4).
        out[i] = float(str(x32[i]))
    out[mag == 0.0] = 0.0  # also turns -0.0 into 0.0
    result: list[float] = out.tolist()
    return result
