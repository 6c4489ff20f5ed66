"""Shared tokenization: words, stop words, a tiny stemmer and character n-grams.

Every generator that needs to know whether two texts "talk about the same thing" goes through
these functions, so dense, sparse and rerank agree on what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Letters and digits; underscores split words so that tool names like get_weather match.
_WORD_RE = re.compile(r"[^\W_]+")
# The rough tokenizer for usage counts: each word and each punctuation mark is a token.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_STOP_TEXT = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())


def normalize(text: str) -> str:
    """NFKC-normalized, case-folded text: "Café" and "CAFÉ" become the same words."""
    return unicodedata.normalize("NFKC", text).casefold()


def iter_words(text: str) -> Iterator[str]:
    """The normalized words of `text`, lazily (long inputs can stop early)."""
    return (m.group() for m in _WORD_RE.finditer(normalize(text)))


def words(text: str) -> list[str]:
    """The normalized words of `text`, in order."""
    return _WORD_RE.findall(normalize(text))


def term_frequencies(text: str) -> dict[str, int]:
    """How often each normalized word occurs in `text`, in order of first occurrence."""
    counts: dict[str, int] = {}
    for word in words(text):
        counts[word] = counts.get(word, 0) + 1
    return counts


def identifier_words(name: str) -> list[str]:
    """Words of an identifier or phrase, also split at camelCase: searchDocs -> search, docs."""
    return words(_CAMEL_RE.sub(" ", name))


def stem(word: str) -> str:
    """A deliberately small suffix stripper: sitting->sit, walked->walk, cities->city, cats->cat."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3:
            # Undo consonant doubling (sitting -> sitt -> sit) but keep "fall", "pass", "buzz".
            if base[-1] == base[-2] and base[-1] not in "aeioulsz":
                base = base[:-1]
            return base
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_stems(text: str) -> list[str]:
    """Stems of the non-stop words of `text`; falls back to all words for stop-word-only text."""
    all_words = words(text)
    stems = [stem(w) for w in all_words if w not in STOP_WORDS]
    return stems if stems else all_words


def char_ngrams(word: str, n: int = 3) -> list[str]:
    """Character n-grams of `word` with boundary markers, fastText style: <ca, cat, at>."""
    padded = f"<{word}>"
    if len(padded) <= n:
        return [padded]
    return [padded[i : i + n] for i in range(len(padded) - n + 1)]


def count_tokens(text: str) -> int:
    """Rough token count: one per word and one per punctuation mark."""
    return len(_TOKEN_RE.findall(text))


def token_end(text: str, limit: int) -> int | None:
    """Offset just after the `limit`-th token of `text`, or None if it has fewer tokens."""
    if limit <= 0:
        return 0
    for count, match in enumerate(_TOKEN_RE.finditer(text), start=1):
        if count == limit:
            return match.end()
    return None
