"""Cohere's own wire: embed answers (a list of floats in v1, vectors by type otherwise), rerank
results, and `{"message": ...}` errors.

Keys come in the order Elasticsearch's older parsers need: `embeddings` and `results` before
`meta`; a rerank result holds `index`, `relevance_score` and `document` only, the keys
`CohereRankedResponseEntity` accepts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mockinfer.dialects.base import WithoutStreams
from mockinfer.dialects.es import encode_vector
from mockinfer.wire.errors import EsError
from mockinfer.wire.results import DenseEmbeddings, Document, Ranking, Result


@dataclass(frozen=True)
class CohereDialect(WithoutStreams):
    """Answers of Cohere's API; one instance per request carries how its answer is written."""

    version: int = 2
    request_id: str = ""
    texts: tuple[str, ...] = ()
    #: The requested embedding type; None for v1's plain list of floats.
    embedding_type: str | None = None
    input_tokens: int = 0

    provider = "cohere"

    def document(self, result: Result) -> Any:
        if isinstance(result, DenseEmbeddings):
            return self._embeddings(result)
        if isinstance(result, Ranking):
            results = []
            for ranked in result.documents:
                entry: dict[str, Any] = {"index": ranked.index}
                entry["relevance_score"] = ranked.relevance_score
                if ranked.text is not None:
                    entry["document"] = {"text": ranked.text}
                results.append(entry)
            return {"id": self._id(), "results": results, "meta": self._meta("search_units", 1)}
        if isinstance(result, Document):
            return result.body
        raise TypeError(f"Cohere's API has no answer of this kind: {result!r}")

    def _embeddings(self, result: DenseEmbeddings) -> dict[str, Any]:
        vectors = [self._typed(row) for row in result.vectors]
        answer: dict[str, Any] = {"id": self._id()}
        if self.embedding_type is None:
            answer.update(texts=list(self.texts), embeddings=vectors)
            answer["meta"] = self._meta("input_tokens", self.input_tokens)
            answer["response_type"] = "embeddings_floats"
            return answer
        answer.update(embeddings={self.embedding_type: vectors}, texts=list(self.texts))
        answer["meta"] = self._meta("input_tokens", self.input_tokens)
        answer["response_type"] = "embeddings_by_type"
        return answer

    def _typed(self, row: Any) -> Any:
        """A row as the requested type: unsigned types shift the signed bytes generated, and
        a stub's floats are quantised as the provider quantises its own (scaled to int8, or one
        bit per dimension, packed), since Elasticsearch reads only integers for these types."""
        kind = self.embedding_type
        if kind in (None, "float"):
            return encode_vector(row)
        values = np.asarray(row)
        if values.dtype.kind == "f":
            if kind in ("int8", "uint8"):
                values = np.clip(np.rint(values * 127), -128, 127)
            else:
                values = np.packbits(values > 0).view(np.int8)
        signed = values.astype(np.int16)
        if kind == "uint8":
            return (signed + 128).tolist()
        if kind == "ubinary":
            return (signed & 0xFF).tolist()
        return signed.tolist()

    def _id(self) -> str:
        return str(uuid.UUID(hex=self.request_id[-32:].rjust(32, "0"))) if self.request_id else ""

    def _meta(self, unit: str, count: int) -> dict[str, Any]:
        return {"api_version": {"version": str(self.version)}, "billed_units": {unit: count}}

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        return {"message": error.reason}

    def headers(self, status: int, request_id: str) -> Mapping[str, str]:
        return {"x-debug-trace-id": request_id.removeprefix("req_")}
