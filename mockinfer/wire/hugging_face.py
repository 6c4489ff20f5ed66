"""Hugging Face's text-embeddings-inference (TEI) forms, as Elasticsearch's `hugging_face` and
`hugging_face_elser` services call them, served under `/hf/{model}/`.

Elasticsearch posts to the endpoint's `url` as it is, so the model is named in the path:
`/hf/{model}/embed` (dense, `{"inputs": [...]}` in, one vector per input out), `/hf/{model}/elser`
(token weights, `[{"token": weight}]`), `/hf/{model}/rerank` (`{"query", "texts"}` in,
`[{"index", "score"}]` out). An endpoint whose `url` has that form is seeded by the model it
names, so `/_inference` on it gives what the route gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mockinfer.wire.endpoints import create_endpoint
from mockinfer.wire.errors import ProviderError
from mockinfer.wire.requests import InferenceCall, InferenceInput
from mockinfer.wire.tasks import TaskType

PREFIX = "/hf/"
#: The most inputs one request takes (a TEI server's `--max-client-batch-size`, set high:
#: Elasticsearch sends its own batches).
MAX_BATCH = 2048
#: The path after the model, per task, and the service whose endpoints call it.
KINDS: Mapping[str, tuple[TaskType, str]] = {
    "embed": (TaskType.TEXT_EMBEDDING, "hugging_face"),
    "elser": (TaskType.SPARSE_EMBEDDING, "hugging_face_elser"),
    "rerank": (TaskType.RERANK, "hugging_face"),
}
_MODEL_URL = re.compile(r"/hf/(?P<model>.+)/(?:" + "|".join(KINDS) + r")/?$")
_EMBED_FIELDS = frozenset(
    {"inputs", "normalize", "truncate", "truncation_direction", "prompt_name", "parameters"}
    | {"options", "dimensions"}
)
_RERANK_FIELDS = frozenset({"query", "texts", "return_text", "raw_scores", "truncate", "top_n"})
_RERANK_FIELDS |= frozenset({"truncation_direction"})


def model_in_url(url: str) -> str | None:
    """The model a `.../hf/{model}/{embed|elser|rerank}` URL names, if it has that form."""
    path = url.split("?", 1)[0]
    match = _MODEL_URL.search(path)
    return match.group("model") if match else None


#: Hugging Face's hosted inference URLs name the model after `/models/`.
_HUB_MODEL_URL = re.compile(r"/models/(?P<model>[^/]+(?:/(?!pipeline(?:/|$))[^/]+)?)(?:/|$)")


def model_in_hub_url(url: str) -> str | None:
    """The model a Hugging Face hosted URL names (`.../models/{org}/{name}[/pipeline/...]`)."""
    match = _HUB_MODEL_URL.search(url.split("?", 1)[0].split("#", 1)[0])
    return match.group("model") if match else None


def invalid(message: str, status: int = 422) -> ProviderError:
    """TEI's refusal: `{"error": "...", "error_type": "Validation"}`."""
    return ProviderError(status, "Validation", message)


def invalid_json() -> ProviderError:
    """What TEI answers to a body that is not JSON."""
    return invalid("Failed to parse the request body as JSON", 400)


def body_object(data: Any) -> dict[str, Any]:
    """The body as an object, or TEI's refusal of any other JSON value."""
    if not isinstance(data, dict):
        raise invalid("Failed to deserialize the JSON body into the target type: expected a map")
    return data


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in data:
        if key not in known:
            raise invalid(
                f"Failed to deserialize the JSON body into the target type: unknown field `{key}`"
            )


def _inputs(data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("inputs")
    if value is None:
        raise invalid(
            "Failed to deserialize the JSON body into the target type: missing field `inputs`"
        )
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise invalid(
            "Failed to deserialize the JSON body into the target type: `inputs` must "
            "be a string or a list of strings"
        )
    if not texts or any(not t for t in texts):
        raise invalid("`inputs` cannot be empty")
    _check_batch(len(texts))
    return tuple(texts)


def _check_batch(size: int) -> None:
    if size > MAX_BATCH:
        raise invalid(f"batch size {size} > maximum allowed batch size {MAX_BATCH}", 413)


def _endpoint_body(model: str, kind: str) -> dict[str, Any]:
    """What a cluster's endpoint for this route holds: the route's path as its `url`."""
    service = KINDS[kind][1]
    return {"service": service, "service_settings": {"api_key": "hf", "url": route(model, kind)}}


def route(model: str, kind: str) -> str:
    """The path that serves `kind` for `model`."""
    return f"{PREFIX}{model}/{kind}"


def parse_embed(data: dict[str, Any], model: str, kind: str) -> InferenceCall:
    """Validate an `embed` (dense) or `elser` (token weights) body."""
    _reject_unknown(data, _EMBED_FIELDS)
    texts = _inputs(data)
    task = KINDS[kind][0]
    endpoint = create_endpoint(model, task.value, _endpoint_body(model, kind))
    return InferenceCall(endpoint, input=InferenceInput(inputs=texts))


def parse_rerank(data: dict[str, Any], model: str) -> InferenceCall:
    """Validate a `rerank` body as ES's `HuggingFaceRerankRequestEntity` writes it."""
    _reject_unknown(data, _RERANK_FIELDS)
    query = data.get("query")
    if not isinstance(query, str) or not query:
        raise invalid("`query` cannot be empty")
    texts = data.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise invalid(
            "Failed to deserialize the JSON body into the target type: `texts` must "
            "be a list of strings"
        )
    if not texts:
        raise invalid("`texts` cannot be empty")
    _check_batch(len(texts))
    top_n = data.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise invalid("`top_n` must be a positive integer")
    return_text = data.get("return_text")
    if return_text is not None and not isinstance(return_text, bool):
        raise invalid("`return_text` must be a boolean")
    endpoint = create_endpoint(model, TaskType.RERANK.value, _endpoint_body(model, "rerank"))
    call_input = InferenceInput(
        inputs=tuple(texts), query=query, top_n=top_n, return_documents=bool(return_text)
    )
    return InferenceCall(endpoint, input=call_input)
