"""ELSER-like sparse embeddings: the input's own words plus a few morphological expansions.

Each token's importance is a blake2b hash of (seed, endpoint, task type, token), so the same
token gets the same importance in every text of an endpoint, the way a learned model weights
vocabulary. That is what makes the sparse dot product of two texts grow with their shared words.
Tokens are whole lowercased words (no ``##`` word pieces); stop words keep a small weight.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import islice

from mockinfer.generators.seeds import to_float32, unit_fraction
from mockinfer.generators.text import STOP_WORDS, iter_words, stem

_STOP_FACTOR = 0.08  # stop words stay in the map, like ELSER's, but barely count
_MAX_EXPANSIONS = 2  # per source token


@lru_cache(maxsize=1 << 15)
def _importance(seed: int, inference_id: str, task_type: str, token: str) -> float:
    """A stable per-token importance in [0.35, 1)."""
    return 0.35 + 0.65 * unit_fraction(str(seed), inference_id, task_type, token)


def _plural(word: str) -> str:
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _expansions(token: str) -> list[str]:
    """Related surface forms: the stem and its plural (sitting -> sit, sits; cats -> cat)."""
    if len(token) < 3 or not token.isalpha():
        return []
    base = stem(token)
    variants = dict.fromkeys(v for v in (base, _plural(base)) if v != token)
    return list(variants)[:_MAX_EXPANSIONS]


def sparse_vector(
    *,
    seed: int,
    inference_id: str,
    task_type: str,
    text: str,
    max_input_tokens: int = 512,
) -> tuple[dict[str, float], bool]:
    """Token weights (float32, descending, ties by token) and whether the input was truncated.

    Only the first ``max_input_tokens`` words count; ``is_truncated`` is true when there were
    more. Weights lie in about (0.05, 2.8); expansions carry 30-60% of their source's weight.
    """
    tokens = list(islice(iter_words(text), max_input_tokens + 1))
    truncated = len(tokens) > max_input_tokens
    counts = Counter(tokens[:max_input_tokens])
    weights: dict[str, float] = {}
    for token, tf in counts.items():
        weight = 2.0 * _importance(seed, inference_id, task_type, token)
        weight *= 1.0 + 0.4 * (tf - 1) / tf  # repetition helps, saturating at 1.4x
        if token in STOP_WORDS:
            weights[token] = max(weights.get(token, 0.0), weight * _STOP_FACTOR)
            continue
        weights[token] = max(weights.get(token, 0.0), weight)
        for variant in _expansions(token):
            share = 0.3 + 0.3 * unit_fraction(str(seed), inference_id, token, variant)
            weights[variant] = max(weights.get(variant, 0.0), weight * share)
    rounded = dict(zip(weights, to_float32(list(weights.values())), strict=True))
    ordered = sorted(rounded.items(), key=lambda item: (-item[1], item[0]))
    return dict(ordered), truncated
