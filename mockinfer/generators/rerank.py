"""Rerank scores from query-document overlap, one (query, document) pair at a time.

A real cross-encoder scores each (query, document) pair on its own, and the determinism rule
says each input's result depends only on (seed, endpoint, task type, that input). So the input
here is the pair, and a document's score never depends on the other documents of the request:
there is no corpus-wide idf. Instead:

* term match: BM25 (k1=1.2, b=0.75) over the query's content stems, with a fixed average
  document length of 32 words and a length-based idf (longer words are rarer), normalised by
  the best score the query could reach;
* fuzzy match: the share of the query's character 3-grams found in the document;
* jitter: up to 0.02 from a blake2b hash of (seed, endpoint, query, document), so documents
  without any overlap still get distinct, stable scores.

``0.01 + 0.96 * (0.75 * term + 0.25 * fuzzy) + jitter`` lies in [0.01, 0.99), strictly inside
(0, 1), and is rounded to float32.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from mockinfer.generators.seeds import canonical_json, to_float32, unit_fraction
from mockinfer.generators.text import char_ngrams, content_stems
from mockinfer.wire.results import RankedDocument

_K1, _B, _AVG_LEN = 1.2, 0.75, 32.0
_MAX_CHARS = 65536  # a cross-encoder reads a bounded window; this also bounds the work


def _idf(term: str) -> float:
    return 1.0 + min(len(term), 12) / 6.0


def _trigrams(stems: list[str]) -> set[str]:
    return {gram for word in set(stems) for gram in char_ngrams(word)}


def _pair_score(query_stems: list[str], query_grams: set[str], document: str) -> float:
    doc_stems = content_stems(document[:_MAX_CHARS])
    tf = Counter(doc_stems)
    length_norm = 1.0 - _B + _B * len(doc_stems) / _AVG_LEN
    terms = sorted(set(query_stems))  # a fixed order: float sums must not follow hash order
    best = sum(_idf(t) * (_K1 + 1.0) for t in terms)
    got = sum(_idf(t) * tf[t] * (_K1 + 1.0) / (tf[t] + _K1 * length_norm) for t in terms if tf[t])
    term = got / best if best else 0.0
    fuzzy = len(query_grams & _trigrams(doc_stems)) / len(query_grams) if query_grams else 0.0
    return 0.75 * min(term, 1.0) + 0.25 * fuzzy


def rerank(
    *,
    seed: int,
    inference_id: str,
    query: str,
    documents: Sequence[str],
    top_n: int | None,
    return_documents: bool,
) -> list[RankedDocument]:
    """Documents by descending relevance (ties: lower index first), cut to ``top_n``.

    Each score is a function of (seed, endpoint, query, that document) only; see the module
    docstring. ``text`` holds the document when ``return_documents`` is true, else None.
    """
    if top_n is not None and top_n < 0:
        raise ValueError(f"top_n must not be negative, got {top_n}")
    query_stems = content_stems(query[:_MAX_CHARS])
    query_grams = _trigrams(query_stems)
    raw = []
    for document in documents:
        jitter = unit_fraction(str(seed), inference_id, "rerank", canonical_json([query, document]))
        raw.append(0.01 + 0.96 * _pair_score(query_stems, query_grams, document) + 0.02 * jitter)
    return ranked(to_float32(raw), documents, top_n=top_n, return_documents=return_documents)


def ranked(
    scores: Sequence[float],
    documents: Sequence[str],
    *,
    top_n: int | None,
    return_documents: bool,
) -> list[RankedDocument]:
    """Documents by descending score (ties: lower index first), cut to ``top_n``."""
    order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
    if top_n is not None:
        order = order[:top_n]
    return [RankedDocument(i, scores[i], documents[i] if return_documents else None) for i in order]
