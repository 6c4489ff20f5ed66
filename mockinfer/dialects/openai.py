"""OpenAI's own wire: embeddings lists, `chat.completion` objects and chunks, OpenAI errors.

Streams are framed as OpenAI frames them: `data: <json>` and a blank line, no byte order
mark, `data: [DONE]` at the end; an error in the middle of a stream is one `event: error` whose
data is the error body: Elasticsearch's `OpenAiUnifiedStreamingProcessor` reads it by its name,
and OpenAI's own client by its `error` key. Chunks carry `usage: null` and a final usage chunk
only when `stream_options.include_usage` asked for them. Every response has an `x-request-id`
and OpenAI's rate-limit headers, which Elasticsearch quotes when it is refused with a 429.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mockinfer.dialects.es import encode_vector
from mockinfer.generators.chat import chat_completion_object
from mockinfer.wire.errors import EsError, ProviderError
from mockinfer.wire.results import (
    ChatChunk,
    ChatReply,
    DenseEmbeddings,
    Document,
    JsonEvent,
    RawEvent,
    Result,
    StreamEvent,
)

#: A fixed `created` time (2025-10-01), so that answers are the same in every run.
CREATED = 1759276800
SYSTEM_FINGERPRINT = "fp_mockinfer"
_REQUESTS_PER_MINUTE = 10_000
_TOKENS_PER_MINUTE = 10_000_000
#: OpenAI's `type` and `code` for an error status that no OpenAI-worded error explains.
_STATUS_TYPES: Mapping[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    405: ("invalid_request_error", None),
    406: ("invalid_request_error", None),
    408: ("timeout", None),
    409: ("invalid_request_error", None),
    413: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


def data_event(payload: bytes) -> bytes:
    """One OpenAI SSE event: a `data:` line and a blank line."""
    return b"data: " + payload + b"\n\n"


DONE = data_event(b"[DONE]")


@dataclass(frozen=True)
class OpenAiDialect:
    """Answers of OpenAI's API; one instance per request carries how its answer is written."""

    model: str = ""
    base64: bool = False
    include_usage: bool = False
    prompt_tokens: int = 0

    provider = "openai"
    errors_as_events = False
    chat_errors = True

    def document(self, result: Result) -> Any:
        if isinstance(result, DenseEmbeddings):
            data = [
                {"object": "embedding", "index": i, "embedding": self._vector(row)}
                for i, row in enumerate(result.vectors)
            ]
            usage = {"prompt_tokens": self.prompt_tokens, "total_tokens": self.prompt_tokens}
            return {"object": "list", "data": data, "model": self.model, "usage": usage}
        if isinstance(result, ChatReply):
            return _completion(result)
        if isinstance(result, Document):
            return result.body
        raise TypeError(f"OpenAI's API has no answer of this kind: {result!r}")

    def _vector(self, row: Any) -> Any:
        if not self.base64:
            return encode_vector(row)
        little_endian = np.asarray(row, dtype="<f4").tobytes()
        return base64.b64encode(little_endian).decode("ascii")

    def event(self, event: StreamEvent) -> bytes:
        if isinstance(event, RawEvent):
            return event.raw
        if isinstance(event, ChatChunk):
            chunk = self._chunk(event.chunk)
            return b"" if chunk is None else data_event(orjson.dumps(chunk))
        if isinstance(event, JsonEvent):
            return data_event(orjson.dumps(event.payload))
        raise TypeError(f"OpenAI's API streams chat chunks only, not {event!r}")

    def _chunk(self, chunk: Mapping[str, Any]) -> dict[str, Any] | None:
        """A generated chunk in OpenAI's form; None for the usage chunk nobody asked for."""
        choices = chunk.get("choices") or []
        usage = chunk.get("usage")
        if not choices and usage is not None and not self.include_usage:
            return None
        out: dict[str, Any] = {
            "id": chunk.get("id"),
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": chunk.get("model"),
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": c.get("index", 0),
                    "delta": _delta(c.get("delta", {})),
                    "logprobs": None,
                    "finish_reason": c.get("finish_reason"),
                }
                for c in choices
                if isinstance(c, Mapping)
            ],
        }
        if self.include_usage:
            out["usage"] = _usage(usage) if isinstance(usage, Mapping) else None
        return out

    def done(self) -> bytes:
        return DONE

    def error_event(self, error: EsError) -> bytes:
        return b"event: error\n" + data_event(orjson.dumps(self.error_document(error)))

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        if isinstance(error, ProviderError):
            kind, param, code = error.error_type, error.param, error.code
        else:
            kind, code = _STATUS_TYPES.get(error.status, ("server_error", None))
            if not error.error_type.endswith("_exception"):
                kind = error.error_type  # a type a fault rule names, such as insufficient_quota
            param = None
        return {"error": {"message": error.reason, "type": kind, "param": param, "code": code}}

    def headers(self, status: int, request_id: str) -> Mapping[str, str]:
        limited = status == 429
        return {
            "x-request-id": request_id,
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": str(_REQUESTS_PER_MINUTE),
            "x-ratelimit-limit-tokens": str(_TOKENS_PER_MINUTE),
            "x-ratelimit-remaining-requests": "0" if limited else str(_REQUESTS_PER_MINUTE - 1),
            "x-ratelimit-remaining-tokens": "0" if limited else str(_TOKENS_PER_MINUTE - 1),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }


def _delta(delta: Mapping[str, Any]) -> Mapping[str, Any]:
    """A delta as OpenAI streams it: a tool call's `id` and `type` in its first piece only."""
    calls = delta.get("tool_calls")
    if not isinstance(calls, list):
        return delta
    pieces = [
        {k: v for k, v in call.items() if k != "type" or "id" in call}
        if isinstance(call, Mapping)
        else call
        for call in calls
    ]
    return {**delta, "tool_calls": pieces}


def _usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(reply: ChatReply) -> dict[str, Any]:
    """The `chat.completion` object with every field OpenAI sends, in its order."""
    generated = chat_completion_object(reply)
    message = generated["choices"][0]["message"]
    calls = [
        {"id": c["id"], "type": "function", "function": c["function"]}
        for c in message.get("tool_calls", [])
    ]
    openai_message: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if calls:
        openai_message["tool_calls"] = calls
    openai_message.update(refusal=None, annotations=[])
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": CREATED,
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": openai_message,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": _usage(generated["usage"]),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
