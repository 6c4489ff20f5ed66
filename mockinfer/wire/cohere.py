"""Cohere's API as mockinfer serves it: `/v1|v2/embed` and `/v1|v2/rerank` requests parsed into
inference calls on the endpoint a cluster's `cohere` service would hold for the model.

Elasticsearch calls the v2 routes for endpoints it creates and the v1 routes for older ones;
both take the bodies its `CohereV1*`/`CohereV2*` request classes write. Cohere's `input_type`
maps back to the cluster's (`search_document` is `ingest`, `search_query` is `search`), so a text
gets the same vector here and through `/_inference` with the matching input type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockinfer.wire.endpoints import create_endpoint
from mockinfer.wire.errors import ProviderError
from mockinfer.wire.requests import InferenceCall, InferenceInput
from mockinfer.wire.tasks import TaskType

SERVICE = "cohere"
#: What Cohere allows in one embed request; ES splits its batches to fit.
MAX_TEXTS = 96
#: What Cohere allows in one rerank request.
MAX_DOCUMENTS = 1000
INPUT_TYPES: Mapping[str, str] = {
    "search_document": "ingest",
    "search_query": "search",
    "classification": "classification",
    "clustering": "clustering",
}
#: Cohere's embedding types and the element type of the endpoint that makes them.
EMBEDDING_TYPES: Mapping[str, str] = {
    "float": "float",
    "int8": "int8",
    "uint8": "int8",
    "binary": "binary",
    "ubinary": "binary",
}
TRUNCATE = ("NONE", "START", "END")
_EMBED_FIELDS = {
    1: frozenset({"texts", "model", "input_type", "embedding_types", "truncate"}),
    2: frozenset(
        {"texts", "model", "input_type", "embedding_types", "truncate", "output_dimension"}
        | {"max_tokens"}
    ),
}
_RERANK_FIELDS = frozenset(
    {
        "model",
        "query",
        "documents",
        "top_n",
        "return_documents",
        "max_chunks_per_doc",
        "max_tokens_per_doc",
        "rank_fields",
    }
)


def invalid(message: str, status: int = 400) -> ProviderError:
    """Cohere's refusal: `{"message": "invalid request: ..."}`."""
    return ProviderError(status, "invalid_request", f"invalid request: {message}")


def invalid_json() -> ProviderError:
    """What Cohere answers to a body that is not JSON."""
    return invalid("unable to parse the request body as JSON")


def body_object(data: Any) -> dict[str, Any]:
    """The body as an object, or Cohere's refusal of any other JSON value."""
    if not isinstance(data, dict):
        raise invalid("the request body must be a JSON object")
    return data


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in data:
        if key not in known:
            raise invalid(f"unknown field: parameter {key} is not a valid field")


def _model(data: Mapping[str, Any], version: int) -> str | None:
    model = data.get("model")
    if model is None and version == 2:
        raise invalid("model is required")
    if model is not None and (not isinstance(model, str) or not model):
        raise invalid("model must be a string")
    return model


def _strings(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        raise invalid(f"{key} is required")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{key} must be a list of strings")
    if not value:
        raise invalid(f"list of {key} must not be empty")
    return value


@dataclass(frozen=True)
class EmbedCall:
    """A validated embed request and how its answer is written."""

    call: InferenceCall
    #: The requested type (`float`, `int8`...), None for v1's plain list of floats.
    embedding_type: str | None


def parse_embed(data: dict[str, Any], version: int) -> EmbedCall:
    """Validate a `/v1/embed` or `/v2/embed` body as Cohere does."""
    _reject_unknown(data, _EMBED_FIELDS[version])
    model = _model(data, version) or "embed-english-v2.0"
    texts = _strings(data, "texts")
    if len(texts) > MAX_TEXTS:
        raise invalid(f"total number of texts must be at most {MAX_TEXTS} - received {len(texts)}")
    input_type = data.get("input_type")
    if input_type is None and version == 2:
        raise invalid("input_type is required")
    if input_type is not None and (
        not isinstance(input_type, str) or input_type not in INPUT_TYPES
    ):
        raise invalid(
            f"input_type must be one of {', '.join(INPUT_TYPES)}; received {json.dumps(input_type)}"
        )
    embedding_type = _embedding_type(data.get("embedding_types"), version)
    truncate = data.get("truncate")
    if truncate is not None and (not isinstance(truncate, str) or truncate.upper() not in TRUNCATE):
        raise invalid(f"truncate must be one of {', '.join(TRUNCATE)}")
    settings: dict[str, Any] = {"model_id": model, "api_key": SERVICE}
    settings["embedding_type"] = EMBEDDING_TYPES[embedding_type or "float"]
    dimensions = data.get("output_dimension")
    if dimensions is not None:
        if dimensions not in (256, 512, 1024, 1536):
            raise invalid("output_dimension must be one of 256, 512, 1024, 1536")
        settings["dimensions"] = dimensions
    endpoint = create_endpoint(
        model, TaskType.TEXT_EMBEDDING.value, {"service": SERVICE, "service_settings": settings}
    )
    call = InferenceCall(
        endpoint,
        input=InferenceInput(
            inputs=tuple(texts), input_type=INPUT_TYPES[input_type] if input_type else None
        ),
    )
    return EmbedCall(call, embedding_type)


def _embedding_type(value: Any, version: int) -> str | None:
    if value is None:
        return "float" if version == 2 else None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in EMBEDDING_TYPES for v in value)
    ):
        raise invalid(f"embedding_types must be a list of {', '.join(EMBEDDING_TYPES)}")
    if len(set(value)) > 1:
        raise invalid("mockinfer answers one embedding type per request")
    return str(value[0])


def parse_rerank(data: dict[str, Any], version: int) -> InferenceCall:
    """Validate a `/v1/rerank` or `/v2/rerank` body as Cohere does."""
    _reject_unknown(data, _RERANK_FIELDS)
    model = _model(data, version) or "rerank-english-v2.0"
    query = data.get("query")
    if not isinstance(query, str) or not query:
        raise invalid("query is required and must be a non-empty string")
    raw_documents = data.get("documents")
    if not isinstance(raw_documents, list) or not raw_documents:
        raise invalid("list of documents must not be empty")
    if len(raw_documents) > MAX_DOCUMENTS:
        raise invalid(
            f"too many documents, max is {MAX_DOCUMENTS} documents, got {len(raw_documents)}"
        )
    documents = [_document_text(d) for d in raw_documents]
    top_n = data.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise invalid("top_n must be a positive integer")
    return_documents = data.get("return_documents")
    if return_documents is not None and not isinstance(return_documents, bool):
        raise invalid("return_documents must be a boolean")
    endpoint = create_endpoint(
        model,
        TaskType.RERANK.value,
        {"service": SERVICE, "service_settings": {"model_id": model, "api_key": SERVICE}},
    )
    return InferenceCall(
        endpoint,
        input=InferenceInput(
            inputs=tuple(documents),
            query=query,
            top_n=top_n,
            return_documents=bool(return_documents),
        ),
    )


def _document_text(document: Any) -> str:
    """A document: a string, or (v1) an object whose `text` is ranked."""
    if isinstance(document, str):
        return document
    if isinstance(document, Mapping) and isinstance(document.get("text"), str):
        return str(document["text"])
    raise invalid("documents must be strings or objects with a text field")
