"""OpenAI's API as mockinfer serves it: `/v1/embeddings` and `/v1/chat/completions` requests
parsed into the same inference calls `/_inference` makes, and refused as OpenAI refuses them.

An embeddings call runs on the endpoint a cluster's `openai` service would hold for the model
(built by `create_endpoint`, so dimensions and similarity get the same defaults), and endpoints
are seeded by their model: a text gets the same vector here and through `/_inference` on an
`openai` endpoint of that model. A chat call runs on an endpoint named after its model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mockinfer.wire.endpoints import Endpoint, create_endpoint
from mockinfer.wire.errors import ProviderError
from mockinfer.wire.requests import ChatRequest, InferenceCall, InferenceInput
from mockinfer.wire.services import MAX_DIMENSIONS, MODEL_DIMENSIONS
from mockinfer.wire.tasks import TaskType

SERVICE = "openai"
INVALID_REQUEST = "invalid_request_error"
#: What OpenAI allows in one embeddings request.
MAX_EMBEDDING_INPUTS = 2048
#: Models whose vectors have a fixed length: `dimensions` is refused for them.
_FIXED_DIMENSIONS = frozenset({"text-embedding-ada-002"})
#: The models `GET /v1/models` lists; every other name is served too.
LISTED_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o4-mini",
    "text-embedding-3-large",
    "text-embedding-3-small",
    "text-embedding-ada-002",
)
_EMBEDDING_FIELDS = frozenset({"input", "model", "dimensions", "encoding_format", "user"})
#: Chat fields that change the reply, kept in the request the generator sees; the others are
#: accepted and play no part.
_CHAT_KEPT = ("messages", "max_completion_tokens", "stop", "temperature", "top_p", "tools")
_CHAT_FIELDS = frozenset(
    {
        *_CHAT_KEPT,
        "model",
        "tool_choice",
        "max_tokens",
        "n",
        "stream",
        "stream_options",
        "user",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "seed",
        "service_tier",
        "parallel_tool_calls",
        "store",
        "metadata",
        "modalities",
        "prediction",
        "audio",
        "reasoning_effort",
        "verbosity",
        "web_search_options",
        "prompt_cache_key",
        "safety_identifier",
    }
)
#: Message fields the generator reads; the rest (`name`, `refusal`, `audio`) are dropped.
_MESSAGE_KEPT = ("role", "content", "tool_call_id", "tool_calls")
_API_REFERENCE = "Please check the API reference: https://platform.openai.com/docs/api-reference."


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> ProviderError:
    """A 400 `invalid_request_error`."""
    return ProviderError(400, INVALID_REQUEST, message, param=param, code=code)


def invalid_json() -> ProviderError:
    """What OpenAI answers to a body that is not JSON."""
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
        "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
        "contact us through our help center at help.openai.com.)"
    )


def body_object(data: Any) -> dict[str, Any]:
    """The body as an object, or OpenAI's refusal of any other JSON value."""
    if not isinstance(data, dict):
        raise invalid(f"{json.dumps(data)[:80]} is not of type 'object'")
    return data


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = [key for key in data if key not in known]
    if unknown:
        raise invalid(f"Unrecognized request argument supplied: {unknown[0]}")


def _model(data: Mapping[str, Any], default: str | None = None) -> str:
    model = data.get("model", default)
    if model is None:
        raise invalid("you must provide a model parameter")
    if not isinstance(model, str) or not model:
        raise _wrong_type("model", "a string", model)
    return model


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass(frozen=True)
class EmbeddingsCall:
    """A validated `/v1/embeddings` request and how its answer is written."""

    call: InferenceCall
    model: str
    base64: bool
    #: How many tokens the inputs hold when they are token arrays; None for texts.
    tokens: int | None


def parse_embeddings(data: dict[str, Any]) -> EmbeddingsCall:
    """Validate a `/v1/embeddings` body as OpenAI does."""
    _reject_unknown(data, _EMBEDDING_FIELDS)
    model = _model(data)
    if "input" not in data:
        raise invalid("'input' is a required property")
    inputs = _embedding_inputs(data["input"])
    encoding = data.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid(
            f"Invalid value for 'encoding_format' = {encoding}. Supported values are: 'float' "
            "and 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )
    settings: dict[str, Any] = {"model_id": model, "api_key": SERVICE}
    dimensions = data.get("dimensions")
    if dimensions is not None:
        settings["dimensions"] = _dimensions(model, dimensions)
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise _wrong_type("user", "a string", user)
    endpoint = create_endpoint(
        model, TaskType.TEXT_EMBEDDING.value, {"service": SERVICE, "service_settings": settings}
    )
    call = InferenceCall(endpoint, input=InferenceInput(inputs=inputs))
    return EmbeddingsCall(call, model, encoding == "base64", _token_total(data["input"]))


def _embedding_inputs(value: Any) -> tuple[str, ...]:
    """Texts, or token arrays (kept as their JSON, which is what generation keys on)."""
    bad = invalid(f"'$.input' is invalid. {_API_REFERENCE}")
    if isinstance(value, str):
        if not value:
            raise bad
        return (value,)
    if not isinstance(value, list) or not value:
        raise bad
    if all(_is_token(item) for item in value):  # one input, as token ids
        return (json.dumps(value),)
    if len(value) > MAX_EMBEDDING_INPUTS:
        raise bad
    if all(isinstance(item, str) and item for item in value):
        return tuple(value)
    if all(isinstance(item, list) and item and all(_is_token(t) for t in item) for item in value):
        return tuple(json.dumps(item) for item in value)
    raise bad


def _token_total(value: Any) -> int | None:
    """The tokens of token-array inputs (validated before); None for texts."""
    if not isinstance(value, list) or isinstance(value[0], str):
        return None
    return sum(len(item) for item in value) if isinstance(value[0], list) else len(value)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dimensions(model: str, value: Any) -> int:
    if model in _FIXED_DIMENSIONS:
        raise invalid("This model does not support specifying dimensions.")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type("dimensions", "an integer", value)
    if value < 1:
        raise invalid(
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got "
            f"{value} instead.",
            param="dimensions",
            code="integer_below_min_value",
        )
    largest = MODEL_DIMENSIONS.get(model, MAX_DIMENSIONS)
    if value > largest:
        raise invalid(
            "Invalid 'dimensions': integer above maximum value. Expected a value <= "
            f"{largest}, but got {value} instead.",
            param="dimensions",
            code="integer_above_max_value",
        )
    return int(value)


@dataclass(frozen=True)
class ChatCall:
    """A validated `/v1/chat/completions` request and how its answer is written."""

    call: InferenceCall
    include_usage: bool


def parse_chat_completion(data: dict[str, Any], default_model: str | None = None) -> ChatCall:
    """Validate a `/v1/chat/completions` body as OpenAI does; `default_model` serves a body
    without `model`, as a server hosting one model (Hugging Face's) does."""
    _reject_unknown(data, _CHAT_FIELDS)
    model = _model(data, default_model)
    if "messages" not in data:
        raise invalid("'messages' is a required property")
    messages = data["messages"]
    if not isinstance(messages, list):
        raise _wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            param="messages",
            code="empty_array",
        )
    n = data.get("n")
    if n is not None and (type(n) is not int or n != 1):
        raise invalid(
            "mockinfer answers one choice per request: 'n' must be 1.", param="n", code=None
        )
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _wrong_type("stream", "a boolean", stream)
    options = data.get("stream_options")
    if options is not None and not stream:
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    if options is not None and not isinstance(options, Mapping):
        raise _wrong_type("stream_options", "an object", options)
    for limit in ("max_tokens", "max_completion_tokens"):
        value = data.get(limit)
        if value is not None and (type(value) is not int or value < 1):
            raise invalid(
                f"Invalid '{limit}': integer below minimum value. Expected a value >= 1, but "
                f"got {value!r} instead.",
                param=limit,
                code="integer_below_min_value",
            )
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    request = _chat_request(data, messages)
    endpoint = Endpoint(model, TaskType.CHAT_COMPLETION, SERVICE, {"model_id": model})
    return ChatCall(InferenceCall(endpoint, chat=request, stream=bool(stream)), include_usage)


def _wrong_type(param: str, expected: str, value: Any) -> ProviderError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _chat_request(data: Mapping[str, Any], messages: Sequence[Any]) -> ChatRequest:
    """The request in the form `/_inference` chat completion takes, which the generator reads."""
    kept: dict[str, Any] = {k: data[k] for k in _CHAT_KEPT if data.get(k) is not None}
    kept["messages"] = [
        {k: m[k] for k in _MESSAGE_KEPT if m.get(k) is not None} if isinstance(m, Mapping) else m
        for m in messages
    ]
    if "max_completion_tokens" not in kept and isinstance(data.get("max_tokens"), int):
        kept["max_completion_tokens"] = data["max_tokens"]
    if isinstance(kept.get("stop"), str):
        kept["stop"] = [kept["stop"]]
    if data.get("tool_choice") is not None:
        kept["tool_choice"] = data["tool_choice"]
    try:
        return ChatRequest.model_validate(kept)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param(first["loc"])
        raise invalid(f"Invalid value for '{param}': {first['msg']}.", param=param) from None


def _param(location: Sequence[Any]) -> str:
    """OpenAI's way of naming a nested field: `messages[0].content`."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not name:
            name = str(part)
        elif str(part) in ("str", "list[ContentPart]", "literal['auto','none','required']"):
            continue  # pydantic names the union member it tried: not a field
        else:
            name += f".{part}"
    return name
