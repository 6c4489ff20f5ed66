"""Inference request bodies: parsed and validated with the messages a cluster gives.

ES parses these bodies with strict object parsers: an unknown field, or a value of the wrong
JSON type, fails with `x_content_parse_exception` naming the parser and the token's location.
The dataclasses below are what the rest of mockinfer works with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.errors import EsError, bad_request, validation_failed
from mockinfer.wire.tasks import TaskType

INFERENCE_PARSER = "cluster:internal/xpack/inference"
CHAT_PARSER = "UnifiedCompletionRequest"
INPUT_TYPES = ("classification", "clustering", "ingest", "search")
_INPUT_TYPE_ALIASES = {"internal_search": "search", "internal_ingest": "ingest"}


#: The deepest JSON mockinfer takes. ES's parser allows 1000 levels; mockinfer stops well
#: before its own encoders and matchers would (orjson writes at most 254), and no inference
#: request nests more than a few levels.
MAX_NESTING_DEPTH = 200
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets in strings do not count)."""
    brackets = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = np.isin(brackets, _OPEN).astype(np.int32) - np.isin(brackets, _CLOSE)
    return int(np.cumsum(steps).max(initial=0))


_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)


def check_depth(raw: bytes) -> None:
    """Refuse JSON nested deeper than mockinfer takes, before anything parses it."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING_DEPTH:
        return  # too few brackets to nest that deep: the common case costs two counts
    depth = nesting_depth(raw)
    if depth > MAX_NESTING_DEPTH:
        raise bad_request(
            "x_content_parse_exception",
            f"[1:1] Document nesting depth ({depth}) exceeds the maximum allowed "
            f"({MAX_NESTING_DEPTH})",
        )


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body, answering malformed JSON and bad UTF-8 as ES does."""
    check_depth(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            "x_content_parse_exception",
            f"[1:{exc.start + 1}] Invalid UTF-8 start byte 0x{raw[exc.start]:02x}",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(
            "x_content_parse_exception",
            f"[{exc.lineno}:{exc.colno}] Unexpected character: {exc.msg}",
        ) from None
    if _SURROGATE_ESCAPE.search(raw):
        try:  # a pair is one character; a lone half could never be written back
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request(
                "x_content_parse_exception",
                "[1:1] Invalid UTF-8: a lone surrogate escape is not a character",
            ) from None
    return data


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Body:
    """A parsed JSON object body with its raw text, for locating tokens in error messages."""

    data: dict[str, Any]
    raw: str

    @classmethod
    def from_bytes(cls, raw: bytes, parser: str) -> Body:
        """Parse a body that must be a JSON object."""
        data = parse_json_body(raw)
        if not isinstance(data, dict):
            raise bad_request(
                "x_content_parse_exception",
                f"[1:1] [{parser}] Expected START_OBJECT but was: {_token_name(data)}",
            )
        return cls(data=data, raw=raw.decode("utf-8"))

    def location(self, key: str, *, value: bool = False) -> str:
        """`line:column` of a top-level key (or of its value), 1-based like ES's parser."""
        match = re.search(r'"' + re.escape(json.dumps(key)[1:-1]) + r'"\s*:\s*', self.raw)
        if match is None:
            return "1:2"
        offset = match.end() if value else match.start()
        line = self.raw.count("\n", 0, offset) + 1
        column = offset - (self.raw.rfind("\n", 0, offset) + 1) + 1
        return f"{line}:{column}"

    def parse_error(self, parser: str, key: str, message: str, *, value: bool = True) -> EsError:
        """An `x_content_parse_exception` at the key's location."""
        return bad_request(
            "x_content_parse_exception",
            f"[{self.location(key, value=value)}] [{parser}] {message}",
        )

    def reject_unknown(self, parser: str, allowed: Sequence[str]) -> None:
        """Fail on the first field the parser does not declare, as ObjectParser does."""
        for key in self.data:
            if key not in allowed:
                raise self.parse_error(parser, key, f"unknown field [{key}]", value=False)

    def wrong_type(self, parser: str, key: str) -> EsError:
        """The error for a value whose JSON type the field does not take."""
        token = _token_name(self.data[key])
        return self.parse_error(parser, key, f"{key} doesn't support values of type: {token}")


def _token_name(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, (int, float)):
        return "VALUE_NUMBER"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"


def _as_text(value: Any) -> str | None:
    """ES reads numbers and booleans in string fields as their text; objects are not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


@dataclass(frozen=True)
class InferenceInput:
    """A validated perform-inference request for any non-chat task type.

    `inputs` holds one string per input: the text itself, or for multimodal items the
    canonical JSON of the item, which is what generation and matching key on.
    """

    inputs: tuple[str, ...]
    input_type: str | None = None
    task_settings: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None
    return_documents: bool | None = None
    top_n: int | None = None


_FIELDS: dict[TaskType, tuple[str, ...]] = {
    TaskType.TEXT_EMBEDDING: ("input", "input_type", "task_settings", "timeout"),
    TaskType.EMBEDDING: ("input", "input_type", "task_settings", "timeout"),
    TaskType.SPARSE_EMBEDDING: ("input", "input_type", "task_settings", "timeout"),
    TaskType.COMPLETION: ("input", "input_type", "task_settings", "timeout"),
    TaskType.RERANK: (
        "input",
        "query",
        "return_documents",
        "top_n",
        "input_type",
        "task_settings",
        "timeout",
    ),
}


def parse_inference(body: Body, task_type: TaskType) -> InferenceInput:
    """Validate a perform-inference body for an endpoint of `task_type`."""
    data = body.data
    body.reject_unknown(INFERENCE_PARSER, _FIELDS[task_type])
    multimodal = task_type in (TaskType.EMBEDDING, TaskType.RERANK)
    inputs = _parse_inputs(body, multimodal=multimodal)
    input_type = _parse_input_type(body)
    task_settings = data.get("task_settings") or {}
    if not isinstance(task_settings, dict):
        raise body.wrong_type(INFERENCE_PARSER, "task_settings")
    errors: list[str] = []
    if inputs is None:
        errors.append("Field [input] cannot be null")
    elif not inputs:
        errors.append("Field [input] cannot be an empty array")
    query: str | None = None
    if task_type is TaskType.RERANK:
        query = _parse_query(body)
        if query is None:
            errors.append("Field [query] cannot be null for task type [rerank]")
        elif query == "":
            errors.append("Field [query] cannot be empty for task type [rerank]")
    dense = task_type in (TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING)
    if input_type is not None and not dense:
        errors.append(f"Field [input_type] cannot be specified for task type [{task_type}]")
    top_n = _optional(body, "top_n", int)
    if top_n is not None and top_n < 1:
        errors.append("Field [top_n] must be a positive integer")
    if errors:
        raise validation_failed(*errors)
    assert inputs is not None
    return InferenceInput(
        inputs=tuple(inputs),
        input_type=input_type,
        task_settings=task_settings,
        query=query,
        return_documents=_optional(body, "return_documents", bool),
        top_n=top_n,
    )


def _optional(body: Body, key: str, kind: type) -> Any:
    value = body.data.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if kind is bool and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise body.wrong_type(INFERENCE_PARSER, key)
    return value


def _parse_inputs(body: Body, *, multimodal: bool) -> list[str] | None:
    value = body.data.get("input")
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    texts: list[str] = []
    for item in items:
        text = _as_text(item)
        if text is None and multimodal and isinstance(item, dict):
            text = _canonical_item(body, item)
        if text is None:
            raise body.parse_error(INFERENCE_PARSER, "input", "failed to parse field [input]")
        texts.append(text)
    return texts


_ITEM_TYPES = ("text", "image", "audio", "video", "pdf")


def _canonical_item(body: Body, item: dict[str, Any]) -> str:
    """A multimodal input object as canonical JSON; text items collapse to their text."""
    content = item.get("content", item)
    parts = content if isinstance(content, list) else [content]
    for part in parts:
        if not isinstance(part, dict) or part.get("type") not in _ITEM_TYPES:
            raise body.parse_error(INFERENCE_PARSER, "input", "failed to parse field [input]")
        if not isinstance(part.get("value"), str):
            raise body.parse_error(INFERENCE_PARSER, "input", "failed to parse field [input]")
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["value"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parse_query(body: Body) -> str | None:
    value = body.data.get("query")
    if value is None:
        return None
    text = _as_text(value)
    if text is None and isinstance(value, dict) and isinstance(value.get("value"), str):
        text = value["value"]
    if text is None:
        raise body.wrong_type(INFERENCE_PARSER, "query")
    return text


def _parse_input_type(body: Body) -> str | None:
    value = body.data.get("input_type")
    if value is None:
        return None
    if not isinstance(value, str):
        raise body.wrong_type(INFERENCE_PARSER, "input_type")
    name = _INPUT_TYPE_ALIASES.get(value.lower(), value.lower())
    if name not in INPUT_TYPES:
        cause = EsError(
            400,
            "illegal_argument_exception",
            f"Unrecognized input_type [{value}], must be one of "
            f"[{', '.join(t.upper() for t in INPUT_TYPES)}]",
        )
        error = body.parse_error(
            INFERENCE_PARSER, "input_type", "failed to parse field [input_type]"
        )
        error.caused_by = cause
        raise error
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContentPart(_Strict):
    """One part of a message's content: text, an image URL or a file."""

    type: Literal["text", "image_url", "file"]
    text: str | None = None
    image_url: dict[str, Any] | None = None
    file: dict[str, Any] | None = None


class ToolCallFunction(_Strict):
    """The function a previous assistant turn called."""

    name: str
    arguments: str


class ToolCallRef(_Strict):
    """A tool call carried in an assistant message of the conversation."""

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class Message(_Strict):
    """One chat message."""

    role: Literal["user", "assistant", "system", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCallRef] | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None


class FunctionSpec(_Strict):
    """A function offered as a tool."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    """A tool offered to the model."""

    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(_Strict):
    """The function a tool_choice object forces."""

    name: str


class ToolChoiceObject(_Strict):
    """`{"type": "function", "function": {"name": ...}}`."""

    type: Literal["function"]
    function: NamedFunction


class ChatRequest(_Strict):
    """The OpenAI-style chat completion body (`RequestChatCompletion` in the specification)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    messages: list[Message]
    model: str | None = None
    max_completion_tokens: int | None = None
    stop: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: Literal["auto", "none", "required"] | ToolChoiceObject | None = None
    tools: list[Tool] | None = None
    reasoning: dict[str, Any] | None = None
    timeout: str | None = None

    def as_body(self) -> dict[str, Any]:
        """The request as the model sees it: the fields given, without the transport timeout."""
        return self.model_dump(exclude_none=True, exclude={"timeout"})


def parse_chat(body: Body) -> ChatRequest:
    """Validate a chat completion body; errors name the first offending top-level field."""
    data = body.data
    body.reject_unknown(CHAT_PARSER, tuple(ChatRequest.model_fields))
    if "messages" not in data:
        raise EsError(400, "illegal_argument_exception", "Required [messages]")
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as exc:
        key = str(exc.errors()[0]["loc"][0])
        raise body.parse_error(CHAT_PARSER, key, f"failed to parse field [{key}]") from None
    if not request.messages:
        raise validation_failed("Field [messages] cannot be an empty array")
    return request


_DEDICATED_API_ERRORS = {
    TaskType.RERANK: "Incompatible task_type for rerank API, the inference endpoint [{id}] has "
    "task type [{actual}], expected [rerank]",
    TaskType.EMBEDDING: "Incompatible task_type for embedding API, the requested type [{actual}] "
    "must be one of [embedding]",
    TaskType.CHAT_COMPLETION: "Incompatible task_type for unified API, the requested type "
    "[{actual}] must be one of [chat_completion]",
}


def require_task(requested: TaskType | None, actual: TaskType, inference_id: str) -> None:
    """Fail when the URL's task type does not match the endpoint's, with the API's own message."""
    if requested is None or requested is actual:
        return
    template = _DEDICATED_API_ERRORS.get(
        requested,
        "Incompatible task_type, the requested type [{requested}] does not match the model type "
        "[{actual}]",
    )
    reason = template.format(id=inference_id, actual=actual.value, requested=requested.value)
    raise EsError(400, "status_exception", reason)


def require_single_input(call: InferenceInput, completion_label: str) -> None:
    """Completion providers take exactly one input, and say so with their own name."""
    if len(call.inputs) > 1:
        raise EsError(
            400, "status_exception", f"{completion_label} completions only accepts 1 input"
        )


@dataclass(frozen=True)
class InferenceCall:
    """A validated perform-inference request: its endpoint, what it asks, whether streamed.

    Exactly one of `input` (every task but chat) and `chat` is set.
    """

    endpoint: Endpoint
    input: InferenceInput | None = None
    chat: ChatRequest | None = None
    stream: bool = False
