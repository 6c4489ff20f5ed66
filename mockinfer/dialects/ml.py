"""The trained-model API's wire: `{"inference_results": [{"predicted_value": ...}, ...]}`.

One result per document, in document order: a vector for text embedding, token weights for
text expansion (dots in tokens written as `__`, `is_truncated` only when true), a score for
text similarity. Errors are ES's envelope.
"""

from __future__ import annotations

from typing import Any

from mockinfer.dialects.es import EsDialect, encode_vector
from mockinfer.wire.results import DenseEmbeddings, Document, Ranking, Result, SparseEmbeddings


class MlDialect(EsDialect):
    """`POST /_ml/trained_models/{model_id}/_infer` results."""

    def document(self, result: Result) -> Any:
        if isinstance(result, DenseEmbeddings):
            results = [{"predicted_value": encode_vector(row)} for row in result.vectors]
        elif isinstance(result, SparseEmbeddings):
            results = []
            for item in result.items:
                weights = {token.replace(".", "__"): w for token, w in item.weights.items()}
                entry: dict[str, Any] = {"predicted_value": weights}
                if item.is_truncated:
                    entry["is_truncated"] = True
                results.append(entry)
        elif isinstance(result, Ranking):
            in_order = sorted(result.documents, key=lambda d: d.index)
            results = [{"predicted_value": d.relevance_score} for d in in_order]
        elif isinstance(result, Document):
            return result.body
        else:
            raise TypeError(f"the trained-model API has no result of this kind: {result!r}")
        return {"inference_results": results}


ML = MlDialect()
