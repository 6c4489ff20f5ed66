"""Elasticsearch's `_inference` wire: JSON results, and SSE as its stream listener writes it.

Two dialects share the framing (`mockinfer.wire.sse`): `ES` for every task but chat, with the
ES error envelope; `ES_CHAT` for chat completion, whose objects and chunks are OpenAI-shaped
and whose errors use the OpenAI-style body (on streams and off, as ES answers them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from mockinfer.generators.chat import chat_completion_object
from mockinfer.wire.errors import EsError
from mockinfer.wire.results import (
    ChatChunk,
    ChatReply,
    Completion,
    CompletionDelta,
    DenseEmbeddings,
    Document,
    JsonEvent,
    Ranking,
    RawEvent,
    Recorded,
    Result,
    SparseEmbeddings,
    StreamEvent,
)
from mockinfer.wire.sse import DONE_EVENT, encode_event
from mockinfer.wire.tasks import dense_result_key

#: Encoded rows kept: 4096 vectors of 1536 floats are about 60 MB of JSON text.
ENCODED_ROWS = 4096


class _EncodedRows:
    """orjson fragments of read-only numpy rows, by identity.

    The synthesizer hands out the same row object for the same input, so a repeated input (the
    common case in test suites) costs a lookup instead of float formatting. The row is kept with
    its fragment, so an identity can never be reused by another row while cached.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[np.ndarray, orjson.Fragment]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, row: np.ndarray, encoded: bytes) -> orjson.Fragment:
        """Keep `encoded` as the JSON of the read-only `row`; its fragment."""
        fragment = orjson.Fragment(encoded)
        with self._lock:
            self._entries[id(row)] = (row, fragment)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return fragment

    def encode(self, row: Any) -> Any:
        if not isinstance(row, np.ndarray):
            return row
        key = id(row)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is row:
                self._entries.move_to_end(key)
                return entry[1]
        # orjson writes each float32 with its shortest round-trip digits, in C.
        encoded = orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY)
        if row.flags.writeable:
            return orjson.Fragment(encoded)
        return self.remember(row, encoded)


_ROWS = _EncodedRows(ENCODED_ROWS)


def remember_encoding(row: np.ndarray, encoded: bytes) -> None:
    """Keep `encoded`, the JSON orjson writes for the read-only `row`, as its encoding."""
    _ROWS.remember(row, encoded)


def encode_vector(row: Any) -> Any:
    """A vector ready for orjson: a cached fragment for a read-only numpy row, else as it is."""
    return _ROWS.encode(row)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


PRODUCT_HEADER = ("X-elastic-product", "Elasticsearch")
_PRODUCT_HEADERS: Mapping[str, str] = dict((PRODUCT_HEADER,))


class EsDialect:
    """Results of `/_inference` in ES's JSON, SSE as ES frames it, errors in the ES envelope."""

    provider: str | None = None
    errors_as_events = True
    chat_errors = False

    def headers(self, status: int, request_id: str) -> Mapping[str, str]:
        return _PRODUCT_HEADERS

    def event(self, event: StreamEvent) -> bytes:
        if isinstance(event, RawEvent):
            return event.raw
        if isinstance(event, CompletionDelta):
            return encode_event(_json({"completion": [{"delta": event.text}]}))
        if isinstance(event, ChatChunk):
            return encode_event(_json(event.chunk))
        if isinstance(event, JsonEvent):
            return encode_event(_json(event.payload))
        raise TypeError(f"not a stream event: {event!r}")

    def done(self) -> bytes:
        return DONE_EVENT

    def error_event(self, error: EsError) -> bytes:
        return encode_event(_json(self.error_document(error)), "error")

    def document(self, result: Result) -> Any:
        if isinstance(result, DenseEmbeddings):
            key = dense_result_key(result.task_type, result.element_type)
            return {key: [{"embedding": encode_vector(row)} for row in result.vectors]}
        if isinstance(result, SparseEmbeddings):
            items = [{"is_truncated": i.is_truncated, "embedding": i.weights} for i in result.items]
            return {"sparse_embedding": items}
        if isinstance(result, Ranking):
            return {
                "rerank": [_ranked(d.index, d.relevance_score, d.text) for d in result.documents]
            }
        if isinstance(result, Completion):
            return {"completion": [{"result": result.text}]}
        if isinstance(result, ChatReply):
            return chat_completion_object(result)
        if isinstance(result, Document):
            return result.body
        if isinstance(result, Recorded):
            raise TypeError("a recorded response is served as recorded, not rendered")
        raise TypeError(f"not a result: {result!r}")

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        return error.body(with_trace=with_trace)


class EsChatDialect(EsDialect):
    """Chat completion inside ES: OpenAI-shaped objects and chunks, OpenAI-style errors."""

    chat_errors = True

    def error_document(self, error: EsError, *, with_trace: bool = False) -> Any:
        return error.openai_body()


def _ranked(index: int, score: float, text: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index, "relevance_score": score}
    if text is not None:
        entry["text"] = text
    return entry


ES = EsDialect()
ES_CHAT = EsChatDialect()
