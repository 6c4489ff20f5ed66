"""Hugging Face text-embeddings-inference's wire: bare JSON arrays, `{"error": ...}` errors.

Dense answers are one vector per input (`[[...], [...]]`), token weights one object per input
(`[{"token": weight}]`, the form `HuggingFaceElserResponseEntity` reads), rerank answers
`[{"index", "score", "text"?}]` best first, as TEI's `/rerank` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockinfer.dialects.base import WithoutStreams
from mockinfer.dialects.es import encode_vector
from mockinfer.wire.errors import EsError
from mockinfer.wire.results import (
    DenseEmbeddings,
    Document,
    Ranking,
    Result,
    SparseEmbeddings,
)


class HuggingFaceDialect(WithoutStreams):
    """Answers of TEI's routes."""

    provider = "hugging_face"

    def document(self, result: Result) -> Any:
        if isinstance(result, DenseEmbeddings):
            return [encode_vector(row) for row in result.vectors]
        if isinstance(result, SparseEmbeddings):
            return [dict(item.weights) for item in result.items]
        if isinstance(result, Ranking):
            ranked = []
            for document in result.documents:
                entry: dict[str, Any] = {"index": document.index, "score": document.relevance_score}
                if document.text is not None:
                    entry["text"] = document.text
                ranked.append(entry)
            return ranked
        if isinstance(result, Document):
            return result.body
        raise TypeError(f"text-embeddings-inference has no answer of this kind: {result!r}")

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        kind = (
            error.error_type
            if not error.error_type.endswith("_exception")
            else _TYPES.get(error.status, "Backend")
        )
        return {"error": error.reason, "error_type": kind}

    def headers(self, status: int, request_id: str) -> Mapping[str, str]:
        return {"x-request-id": request_id, "x-compute-type": "cpu"}


#: TEI's `error_type` for a status no TEI-worded error explains.
_TYPES = {
    400: "Validation",
    413: "Validation",
    422: "Validation",
    424: "Backend",
    429: "Overloaded",
}

HUGGING_FACE = HuggingFaceDialect()
