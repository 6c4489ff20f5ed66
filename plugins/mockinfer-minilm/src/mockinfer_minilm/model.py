"""all-MiniLM-L6-v2 in numpy float32: a 6-layer BERT, mean pooling, L2 normalisation.

Each text runs through the transformer alone, on its own unpadded token sequence, so every
array shape, and so every BLAS call, depends on that text only: a text gets the same bytes
whichever batch it arrives in. (BLAS kernels round a row of a product differently depending
on how many rows the product has, so stacking the tokens of several texts would not.)
"""

from __future__ import annotations

import json
import math
import mmap
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mockinfer_minilm.weights import DIMENSIONS, MODEL, TOKENIZER, WeightsMissingError, check

F32 = npt.NDArray[np.float32]

LAYERS = 6
HEADS = 12
HEAD_SIZE = DIMENSIONS // HEADS
INTERMEDIATE = 1536
VOCABULARY = 30522
MAX_POSITIONS = 512
#: sentence-transformers truncates at 256 tokens, [CLS] and [SEP] included.
MAX_TOKENS = 256
LAYER_NORM_EPS = np.float32(1e-12)
ATTENTION_SCALE = np.float32(1 / math.sqrt(HEAD_SIZE))

# erf as a ratio of odd and even polynomials of x on [-4, 4], outside of which erf is ±1 in
# float32: within a few float32 ulps of the exact erf the model was trained with.
_ERF_NUMERATOR = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_DENOMINATOR = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_SQRT_HALF = np.float32(math.sqrt(0.5))


def read_safetensors(path: Path) -> dict[str, F32]:
    """The float32 tensors of a safetensors file, as read-only views of a memory map.

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the raw data. Tensors of other dtypes are skipped.
    """
    with path.open("rb") as stream:
        # Mapped rather than read: most rows of the word embeddings are never touched.
        buffer = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    (header_size,) = struct.unpack_from("<Q", buffer, 0)
    header = json.loads(buffer[8 : 8 + header_size])
    start_of_data = 8 + header_size
    tensors: dict[str, F32] = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        count = math.prod(shape)
        if end - begin != 4 * count or start_of_data + end > len(buffer):
            raise ValueError(f"{path}: tensor {name} does not fit its byte range")
        tensors[name] = np.frombuffer(
            buffer, dtype="<f4", count=count, offset=start_of_data + begin
        ).reshape(shape)
    return tensors


@dataclass(frozen=True)
class _Linear:
    """y = x Wᵀ + b, with W as stored: (outputs, inputs)."""

    weight: F32
    bias: F32

    def __call__(self, x: F32) -> F32:
        y: F32 = x @ self.weight.T
        y += self.bias
        return y


@dataclass(frozen=True)
class _LayerNorm:
    weight: F32
    bias: F32

    def __call__(self, x: F32) -> F32:
        centred: F32 = x - x.mean(axis=-1, keepdims=True)
        variance = np.square(centred).mean(axis=-1, keepdims=True)
        centred /= np.sqrt(variance + LAYER_NORM_EPS)
        centred *= self.weight
        centred += self.bias
        return centred


@dataclass(frozen=True)
class _Layer:
    qkv: _Linear
    attention_output: _Linear
    attention_norm: _LayerNorm
    intermediate: _Linear
    output: _Linear
    output_norm: _LayerNorm

    def __call__(self, x: F32) -> F32:
        x = self.attention_norm(self.attention_output(_attention(self.qkv(x))) + x)
        return self.output_norm(self.output(_gelu(self.intermediate(x))) + x)


def _attention(qkv: F32) -> F32:
    """Multi-head self-attention of one sequence, from its stacked query, key and value rows."""
    length = qkv.shape[0]
    # (3, heads, length, head size): query, key and value of each head.
    heads = qkv.reshape(length, 3, HEADS, HEAD_SIZE).transpose(1, 2, 0, 3)
    scores: F32 = heads[0] @ heads[1].transpose(0, 2, 1)
    scores *= ATTENTION_SCALE
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    context: F32 = (scores @ heads[2]).transpose(1, 0, 2).reshape(length, DIMENSIONS)
    return context


def _erf(x: F32) -> F32:
    x = np.clip(x, np.float32(-4), np.float32(4))
    square = x * x
    numerator = np.full_like(x, _ERF_NUMERATOR[0])
    for coefficient in _ERF_NUMERATOR[1:]:
        numerator *= square
        numerator += coefficient
    denominator = np.full_like(x, _ERF_DENOMINATOR[0])
    for coefficient in _ERF_DENOMINATOR[1:]:
        denominator *= square
        denominator += coefficient
    numerator *= x
    numerator /= denominator
    return numerator


def _gelu(x: F32) -> F32:
    """The exact (erf) GELU, as BERT's `gelu` activation is."""
    y = _erf(x * _SQRT_HALF)
    y += np.float32(1)
    y *= x
    y *= np.float32(0.5)
    return y


def _expect(tensors: dict[str, F32], name: str, *shape: int) -> F32:
    tensor = tensors.get(name)
    if tensor is None or tensor.shape != shape:
        found = "absent" if tensor is None else f"shape {tensor.shape}"
        raise ValueError(f"{MODEL.name}: {name} should have shape {shape}, it is {found}")
    return tensor


class MiniLMModel:
    """The encoder: texts in, L2-normalised float32 rows of 384 out."""

    def __init__(self, folder: Path) -> None:
        problems = {w: s for w, s in check(folder, verify=False).items() if s != "ok"}
        if problems:
            raise WeightsMissingError(folder, problems)
        self.folder = folder
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER.name))
        # The file ships with padding and truncation at 128: sentence-transformers uses 256.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tokenizer

        tensors = read_safetensors(folder / MODEL.name)

        def linear(prefix: str, outputs: int, inputs: int) -> _Linear:
            return _Linear(
                _expect(tensors, f"{prefix}.weight", outputs, inputs),
                _expect(tensors, f"{prefix}.bias", outputs),
            )

        def norm(prefix: str) -> _LayerNorm:
            return _LayerNorm(
                _expect(tensors, f"{prefix}.weight", DIMENSIONS),
                _expect(tensors, f"{prefix}.bias", DIMENSIONS),
            )

        self._words = _expect(tensors, "embeddings.word_embeddings.weight", VOCABULARY, DIMENSIONS)
        self._positions = _expect(
            tensors, "embeddings.position_embeddings.weight", MAX_POSITIONS, DIMENSIONS
        )
        # Every token of a single sentence has token type 0.
        self._token_type = _expect(
            tensors, "embeddings.token_type_embeddings.weight", 2, DIMENSIONS
        )[0]
        self._embedding_norm = norm("embeddings.LayerNorm")
        layers = []
        for index in range(LAYERS):
            prefix = f"encoder.layer.{index}"
            query, key, value = (
                linear(f"{prefix}.attention.self.{part}", DIMENSIONS, DIMENSIONS)
                for part in ("query", "key", "value")
            )
            layers.append(
                _Layer(
                    # One product for the three projections instead of three small ones.
                    qkv=_Linear(
                        np.concatenate([query.weight, key.weight, value.weight]),
                        np.concatenate([query.bias, key.bias, value.bias]),
                    ),
                    attention_output=linear(
                        f"{prefix}.attention.output.dense", DIMENSIONS, DIMENSIONS
                    ),
                    attention_norm=norm(f"{prefix}.attention.output.LayerNorm"),
                    intermediate=linear(f"{prefix}.intermediate.dense", INTERMEDIATE, DIMENSIONS),
                    output=linear(f"{prefix}.output.dense", DIMENSIONS, INTERMEDIATE),
                    output_norm=norm(f"{prefix}.output.LayerNorm"),
                )
            )
        self._layers = tuple(layers)

    def tokenize(self, text: str) -> list[int]:
        """The token ids of `text`, [CLS] and [SEP] included, truncated to 256."""
        return self._tokenizer.encode(text).ids

    def embed_one(self, text: str) -> F32:
        """The unit-length embedding of one text."""
        ids = self.tokenize(text)
        x = self._words[ids] + self._token_type
        x += self._positions[: len(ids)]
        x = self._embedding_norm(x)
        for layer in self._layers:
            x = layer(x)
        pooled: F32 = x.mean(axis=0)
        pooled /= max(np.float32(np.sqrt(np.square(pooled).sum())), np.float32(1e-12))
        return pooled

    def embed(self, texts: Sequence[str]) -> F32:
        """One unit-length row per text, each computed as if it came alone."""
        rows = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for index, text in enumerate(texts):
            rows[index] = self.embed_one(text)
        return rows


_models: dict[Path, MiniLMModel] = {}
_lock = threading.Lock()


def load(folder: Path) -> MiniLMModel:
    """The model of `folder`, loaded on the first call and shared by every later one."""
    folder = folder.absolute()
    with _lock:
        model = _models.get(folder)
        if model is None:
            model = _models[folder] = MiniLMModel(folder)
        return model
