"""How well embedding cosines track graded semantic relatedness of sentence pairs.

Run from the repository root:

    .venv/bin/python benchmarks/semantic_fidelity.py [--pairs PATH]

The pairs file (``benchmarks/data/sentence_pairs.tsv`` by default) is tab-separated with a
``grade\tfirst\tsecond`` header; ``grade`` is an integer from 0 (unrelated) to 4 (paraphrase).
It includes paraphrases that share few words and unrelated pairs that share many (homonyms:
"bank", "bat", "match"...), so word overlap alone predicts the grade poorly.

Printed figures, all Spearman rank correlations (average ranks for ties):

* grade vs the core synthesizer's cosine (``mockinfer.generators.dense_array``, which carries
  only a lexical signal);
* when the ``mockinfer_minilm`` plugin and its weights are available: core cosine vs MiniLM
  cosine, and grade vs MiniLM cosine;

and a table of the mean cosine per grade for each embedder. Last, how reliably the core ranks
one shared word: over 2000 trials of three texts of eight random made-up words, where the
second shares one word with the first and the third none, how often the first is closer to
the second.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mockinfer.generators import dense_array

#: The model as Eland names it; the core seeds an endpoint of that model by it, too.
MODEL_ID = "sentence-transformers__all-minilm-l6-v2"
DIMENSIONS = 384
SEED = 0
DEFAULT_PAIRS = Path(__file__).resolve().parent / "data" / "sentence_pairs.tsv"
HEADER = ("grade", "first", "second")
GRADES = range(5)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Pair:
    grade: int
    first: str
    second: str


def read_pairs(path: Path) -> list[Pair]:
    """The graded pairs of a ``grade\\tfirst\\tsecond`` file; raises ValueError on bad rows."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        expected = "\t".join(HEADER)
        raise ValueError(f"{path}: the first line must be the header {expected!r}")
    pairs = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
        grade_text, first, second = fields
        try:
            grade = int(grade_text)
        except ValueError:
            raise ValueError(f"{path}:{number}: grade {grade_text!r} is not an integer") from None
        if grade not in GRADES:
            raise ValueError(f"{path}:{number}: grade {grade} is not in 0-4")
        if not first.strip() or not second.strip():
            raise ValueError(f"{path}:{number}: empty sentence")
        pairs.append(Pair(grade, first, second))
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs


def average_ranks(values: npt.ArrayLike) -> FloatArray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    order = np.argsort(x, kind="mergesort")
    position = np.empty(n, dtype=np.intp)
    position[order] = np.arange(n)
    ordered = x[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts)[position]  # 1-based tie group of each value
    bounds = np.r_[np.flatnonzero(starts), n]  # group g spans [bounds[g-1], bounds[g])
    ranks: FloatArray = 0.5 * (bounds[group - 1] + bounds[group] + 1)
    return ranks


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman's rho: the Pearson correlation of average ranks; NaN if either is constant."""
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.size != rb.size:
        raise ValueError(f"lengths differ: {ra.size} and {rb.size}")
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = float(np.sqrt((ra @ ra) * (rb @ rb)))
    return float(ra @ rb) / denominator if denominator else float("nan")


def unique_texts(pairs: Sequence[Pair]) -> list[str]:
    return list(dict.fromkeys(text for pair in pairs for text in (pair.first, pair.second)))


def pair_cosines(pairs: Sequence[Pair], texts: Sequence[str], vectors: npt.ArrayLike) -> FloatArray:
    """The cosine of each pair, given one vector per text of `texts` (in that order)."""
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.shape[0] != len(texts):
        raise ValueError(f"{matrix.shape[0]} vectors for {len(texts)} texts")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0.0, 1.0, norms)
    row = {text: i for i, text in enumerate(texts)}
    left = unit[[row[pair.first] for pair in pairs]]
    right = unit[[row[pair.second] for pair in pairs]]
    cosines: FloatArray = np.einsum("ij,ij->i", left, right)
    return cosines


def core_vectors(texts: Sequence[str]) -> npt.NDArray[Any]:
    return dense_array(
        seed=SEED,
        inference_id=MODEL_ID,
        task_type="text_embedding",
        contents=list(texts),
        dimensions=DIMENSIONS,
        similarity="cosine",
        element_type="float",
        input_type=None,
    )


def minilm_vectors(texts: Sequence[str]) -> tuple[npt.NDArray[Any] | None, str]:
    """MiniLM's vectors for `texts`, or None and the reason they are unavailable."""
    try:
        from mockinfer_minilm.generator import MiniLM  # an optional plugin
    except Exception as error:  # an absent plugin or a broken import: report either
        return None, f"mockinfer_minilm is not importable ({type(error).__name__}: {error})"
    from mockinfer.plugins import EmbeddingRequest, Target

    target = Target(
        inference_id=MODEL_ID,
        task="text_embedding",
        service="elasticsearch",
        model=MODEL_ID,
        seed=SEED,
    )
    request = EmbeddingRequest(
        target=target,
        texts=tuple(texts),
        dimensions=DIMENSIONS,
        similarity="cosine",
        element_type="float",
        input_type=None,
    )
    try:
        vectors = np.asarray(MiniLM().embed(request), dtype=np.float64)
    except Exception as error:  # most often missing weights; any failure skips the figures
        return None, f"MiniLM could not embed ({type(error).__name__}: {error})"
    if vectors.shape != (len(texts), DIMENSIONS):
        return None, f"MiniLM returned shape {vectors.shape}, not {(len(texts), DIMENSIONS)}"
    return vectors, ""


#: Trials of the shared-word ranking, and the size of its made-up vocabulary.
RANKING_TRIALS, RANKING_VOCABULARY = 2000, 3000


def shared_word_ranking(trials: int = RANKING_TRIALS) -> float:
    """The fraction of trials in which a text sharing one of its eight words with another is
    closer to it than a text sharing none (random words, so meaning plays no part)."""
    rng = random.Random(5)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = [
        "".join(rng.choice(letters) for _ in range(rng.randint(4, 9)))
        for _ in range(RANKING_VOCABULARY)
    ]
    wins = 0
    for _ in range(trials):
        first = rng.sample(vocabulary, 8)
        sharing = [*rng.sample(vocabulary, 7), first[0]]
        unrelated = rng.sample(vocabulary, 8)
        a, b, c = np.asarray(
            core_vectors([" ".join(first), " ".join(sharing), " ".join(unrelated)]),
            dtype=np.float64,
        )
        wins += bool(a @ b > a @ c)
    return wins / trials


def grade_table(grades: FloatArray, columns: dict[str, FloatArray | None]) -> list[str]:
    """Mean cosine per grade for each column ('-' for a column without figures)."""
    names = list(columns)
    lines = ["grade  pairs  " + "  ".join(f"{name:>13}" for name in names)]
    for grade in GRADES:
        mask = grades == grade
        if not mask.any():
            continue
        cells = []
        for name in names:
            values = columns[name]
            cells.append(f"{'-' if values is None else f'{values[mask].mean():.3f}':>13}")
        lines.append(f"{grade:>5}  {int(mask.sum()):>5}  " + "  ".join(cells))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs",
        type=Path,
        default=DEFAULT_PAIRS,
        help=f"tab-separated graded pairs (default: {DEFAULT_PAIRS})",
    )
    args = parser.parse_args(argv)
    try:
        pairs = read_pairs(args.pairs)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    grades = np.array([pair.grade for pair in pairs], dtype=np.float64)
    texts = unique_texts(pairs)
    core = pair_cosines(pairs, texts, core_vectors(texts))
    minilm_matrix, why_not = minilm_vectors(texts)
    minilm = None if minilm_matrix is None else pair_cosines(pairs, texts, minilm_matrix)

    print(f"{len(pairs)} pairs from {args.pairs}")
    print(f"  Spearman(grade, core cosine)         = {spearman(grades, core):+.3f}")
    if minilm is None:
        print(f"  MiniLM figures skipped: {why_not}")
    else:
        print(f"  Spearman(core cosine, MiniLM cosine) = {spearman(core, minilm):+.3f}")
        print(f"  Spearman(grade, MiniLM cosine)       = {spearman(grades, minilm):+.3f}")
    print()
    print("Mean cosine per grade (0 = unrelated ... 4 = paraphrase):")
    for line in grade_table(grades, {"core": core, "MiniLM": minilm}):
        print("  " + line)
    print()
    share = shared_word_ranking()
    print(f"One shared word in eight ranks above none in {share:.1%} of {RANKING_TRIALS} trials")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
