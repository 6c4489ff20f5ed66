"""Seeded, readable completion text and its split into streaming deltas.

Text comes from a per-reply Faker ``en_US`` generator seeded from the derived seed (never the
global Faker seed), so it is English-like and changes with the seed, the endpoint and the
prompt. The reply opens with the prompt's most distinctive word so it feels responsive.
"""

from __future__ import annotations

import random
import re
from itertools import accumulate, pairwise
from typing import Any

from faker import Factory

from mockinfer.generators.seeds import derive_seed
from mockinfer.generators.text import STOP_WORDS, count_tokens, iter_words, token_end

__all__ = ["completion_text", "compose_text", "count_tokens", "split_deltas"]

_DEFAULT_WORDS = (30, 60)
_MAX_NATURAL_TOKENS = 8192  # even a huge max_tokens does not make the mock write a book
_PROMPT_CHARS = 32768  # enough of the prompt to pick a keyword from
_OPENINGS = ("{Kw} is {rest}", "About {kw}: {rest}", "Regarding {kw}, {rest}", "So, {kw}. {Rest}")
# Words that ask for something rather than name the subject ("explain vectors" -> vectors).
_REQUEST_WORDS = frozenset(
    {"describe", "explain", "give", "help", "know", "like", "list", "make", "need", "please"}
    | {"show", "summarize", "tell", "want", "write"}
)
_PIECE_RE = re.compile(r"\s*\S+")
_GROUP_SIZES = (1, 1, 2, 2, 3, 4)  # words per delta: mostly short, like LLM tokens


def _keyword(prompt: str) -> str | None:
    """The prompt's topic guess: its longest alphabetic non-stop, non-request word of 4+
    letters, the last one on ties (questions tend to end with their subject)."""
    best: str | None = None
    for word in iter_words(prompt[:_PROMPT_CHARS]):
        if len(word) < 4 or not word.isalpha() or word in STOP_WORDS or word in _REQUEST_WORDS:
            continue
        if best is None or len(word) >= len(best):
            best = word
    return best


def _target_tokens(rng: random.Random, max_tokens: int | None) -> int:
    if max_tokens is None:
        return rng.randint(*_DEFAULT_WORDS)
    # A model with a budget often stops before it, sometimes runs into it.
    return min(rng.randint((max_tokens + 1) // 2, max_tokens * 5 // 4), _MAX_NATURAL_TOKENS)


def compose_text(derived_seed: int, prompt: str, max_tokens: int | None) -> tuple[str, bool]:
    """Text for an already derived seed, and whether ``max_tokens`` cut it short.

    Shared by completion and chat, which derive their seeds from different inputs.
    """
    limit = None if max_tokens is None else max(max_tokens, 0)
    # A per-reply Faker generator with only the lorem provider: same words as Faker("en_US"),
    # but built in 0.06 ms instead of 1 ms, which matters for every streamed reply.
    fake: Any = Factory.create("en_US", providers=["faker.providers.lorem"])
    fake.seed_instance(derived_seed)
    rng: random.Random = fake.random
    target = _target_tokens(rng, limit)
    keyword = _keyword(prompt)
    # A sentence of n words is n + 1 tokens, so target + 14 words always last; one bulk draw
    # is much cheaper than one Faker sentence() call per sentence.
    words: list[str] = fake.words(nb=target + 14)
    sentences: list[str] = []
    tokens = used = 0
    while tokens < target:
        count = rng.randint(5, 14)
        plain = " ".join(words[used : used + count])
        used += count
        sentence = plain[:1].upper() + plain[1:] + "."
        if not sentences and keyword:
            opening = rng.choice(_OPENINGS)
            sentence = opening.format(
                kw=keyword, Kw=keyword.capitalize(), rest=plain + ".", Rest=sentence
            )
        sentences.append(sentence)
        tokens += count_tokens(sentence)
    text = " ".join(sentences)
    if limit is not None and tokens > limit:
        return text[: token_end(text, limit)], True
    return text, False


def completion_text(
    *, seed: int, inference_id: str, task_type: str, prompt: str, max_tokens: int | None
) -> str:
    """Readable seeded text answering ``prompt``.

    Without ``max_tokens``: 30-60 tokens, varying with the seed. With it: a natural length
    between half and 1.25 times the budget (at most 8192), cut at ``max_tokens`` tokens
    (see :func:`count_tokens`) when longer; a negative budget counts as 0.
    """
    derived = derive_seed(seed, inference_id, task_type, prompt)
    return compose_text(derived, prompt, max_tokens)[0]


def split_deltas(text: str, *, seed: int) -> list[str]:
    """Seeded streaming deltas of 1-4 words, whitespace leading each word like LLM tokens.

    ``"".join(split_deltas(text, seed=s)) == text`` always; empty text gives [].
    """
    pieces = _PIECE_RE.findall(text)
    if not pieces:
        return [text] if text else []
    pieces[-1] += text[sum(map(len, pieces)) :]  # trailing whitespace rides on the last piece
    # One size draw per piece is more than enough; the running total marks where deltas end.
    ends = accumulate(random.Random(seed).choices(_GROUP_SIZES, k=len(pieces)))
    starts = [0, *(end for end in ends if end < len(pieces))]
    return ["".join(pieces[a:b]) for a, b in pairwise([*starts, len(pieces)])]
