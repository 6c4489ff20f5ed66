"""The numpy encoder against sentence-transformers, and its determinism."""

from __future__ import annotations

import json
import random
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mockinfer_minilm.model import MAX_TOKENS, MiniLMModel, read_safetensors

WORDS = (
    *("the", "search", "engine", "returns", "vectors", "for", "every", "shard", "of", "a"),
    *("query", "waits;", "Café", "Zürich", "naïve", "東京", "🎉", "42", "3.14", "e-mail"),
    *("user@example.com", "UPPER", "MiXeD", "punctuation!?", "(brackets)", "{curly}", "..."),
    *("inference", "endpoint", "deterministic", "bytes", "batch", "tokens", "truncation"),
)


def varied_texts() -> list[str]:
    """Texts from empty to past the 256-token limit, in a fixed pseudo-random order."""
    rng = random.Random(20240315)
    lengths = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300]
    lengths += [rng.randint(1, 60) for _ in range(20)]
    rng.shuffle(lengths)
    return [" ".join(rng.choice(WORDS) for _ in range(n)) for n in lengths]


def cosines(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a, b = a.astype(np.float64), b.astype(np.float64)
    result: np.ndarray[Any, Any] = (a * b).sum(axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    )
    return result


def test_matches_sentence_transformers(model: MiniLMModel, golden: dict[str, Any]) -> None:
    texts = [entry["text"] for entry in golden["sentences"]]
    expected = np.array([entry["vector"] for entry in golden["sentences"]])
    similarity = cosines(model.embed(texts), expected)
    worst = int(np.argmin(similarity))
    assert similarity[worst] >= 0.9999, f"{texts[worst]!r}: cosine {similarity[worst]}"


def test_tokenizes_and_truncates_as_sentence_transformers(
    model: MiniLMModel, golden: dict[str, Any]
) -> None:
    counts = [len(model.tokenize(entry["text"])) for entry in golden["sentences"]]
    assert counts == [entry["tokens"] for entry in golden["sentences"]]
    assert MAX_TOKENS in counts, "the golden set should hold a text past the token limit"


def test_text_past_the_limit_is_truncated(model: MiniLMModel) -> None:
    long = " ".join(["word"] * 300)
    assert len(model.tokenize(long)) == MAX_TOKENS
    assert model.embed_one(long).tobytes() == model.embed_one(long + " extra words").tobytes()


def test_rows_are_unit_float32(model: MiniLMModel) -> None:
    rows = model.embed(["a", "two words", "", "🎉"])
    assert rows.dtype == np.float32
    assert rows.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    assert model.embed([]).shape == (0, 384)


def test_a_text_gets_the_same_bytes_alone_and_in_any_batch(model: MiniLMModel) -> None:
    texts = varied_texts()
    alone = [model.embed([text])[0].tobytes() for text in texts]
    assert [row.tobytes() for row in model.embed(texts)] == alone

    order = list(range(len(texts)))
    random.Random(5).shuffle(order)
    shuffled = model.embed([texts[i] for i in order])
    assert [shuffled[at].tobytes() for at in np.argsort(order)] == alone

    for start in range(0, len(texts), 7):
        batch = model.embed(texts[start : start + 7])
        assert [row.tobytes() for row in batch] == alone[start : start + 7]


def test_concurrent_calls_get_the_same_bytes(model: MiniLMModel) -> None:
    texts = [text for text in varied_texts() if len(text.split()) <= 60]
    expected = model.embed(texts).tobytes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: model.embed(texts).tobytes(), range(4)))
    assert results == [expected] * 4


def _safetensors(path: Path, header: dict[str, Any], data: bytes) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def test_reads_safetensors(tmp_path: Path) -> None:
    matrix = np.arange(6, dtype="<f4").reshape(2, 3)
    ids = np.arange(4, dtype="<i8")
    header = {
        "__metadata__": {"format": "pt"},
        "ids": {"dtype": "I64", "shape": [4], "data_offsets": [0, 32]},
        "matrix": {"dtype": "F32", "shape": [2, 3], "data_offsets": [32, 56]},
    }
    tensors = read_safetensors(
        _safetensors(tmp_path / "t.safetensors", header, ids.tobytes() + matrix.tobytes())
    )
    assert list(tensors) == ["matrix"]
    np.testing.assert_array_equal(tensors["matrix"], matrix)


def test_refuses_a_tensor_outside_its_byte_range(tmp_path: Path) -> None:
    header = {"matrix": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 40]}}
    path = _safetensors(tmp_path / "t.safetensors", header, bytes(24))
    with pytest.raises(ValueError, match="matrix does not fit its byte range"):
        read_safetensors(path)
