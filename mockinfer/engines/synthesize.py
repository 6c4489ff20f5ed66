"""The synthesize engine: deterministic, plausible results from the seeded generators."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import orjson

from mockinfer.engines.replies import StreamReply, compact_json, message_stream
from mockinfer.generators import (
    DEFAULT_SEED,
    INSTANT,
    ChatReply,
    TimingProfile,
    chat_chunks,
    chat_completion_object,
    chat_reply,
    completion_text,
    dense_array,
    derive_seed,
    event_offsets,
    rerank,
    sparse_vector,
    split_deltas,
)
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.requests import ChatRequest, InferenceInput
from mockinfer.wire.tasks import TaskType, dense_result_key

#: The token limit of ELSER-like sparse models before `is_truncated` turns true.
SPARSE_MAX_TOKENS = 512
_MAX_TOKEN_SETTINGS = ("max_tokens", "max_new_tokens", "max_completion_tokens")
#: Encoded dense vectors kept per server: 4096 vectors of 1536 floats are about 60 MB.
VECTOR_CACHE_SIZE = 4096

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe least-recently-used mapping with a fixed number of entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value for `key`, marked as recently used; None when absent."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        """Store `value`, evicting the least recently used entry when full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


class Synthesizer:
    """Answers every task type from the generators, seeded by one master seed."""

    def __init__(self, seed: int = DEFAULT_SEED, timing: TimingProfile = INSTANT) -> None:
        self.seed = seed
        self.timing = timing
        self._vectors: BoundedCache[tuple[Any, ...], orjson.Fragment] = BoundedCache(
            VECTOR_CACHE_SIZE
        )

    def infer(self, endpoint: Endpoint, call: InferenceInput) -> dict[str, Any]:
        """The JSON result for a non-chat task, keyed as the endpoint's task type dictates."""
        task = endpoint.task_type
        settings = {**endpoint.task_settings, **call.task_settings}
        if task in (TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING):
            stored_type = settings.get("input_type")
            input_type = call.input_type or (stored_type if isinstance(stored_type, str) else None)
            vectors = self._dense(endpoint, call.inputs, input_type)
            key = dense_result_key(task, endpoint.element_type)
            return {key: [{"embedding": vector} for vector in vectors]}
        if task is TaskType.SPARSE_EMBEDDING:
            results = []
            for text in call.inputs:
                weights, truncated = sparse_vector(
                    seed=self.seed,
                    inference_id=endpoint.inference_id,
                    task_type=task.value,
                    text=text,
                    max_input_tokens=SPARSE_MAX_TOKENS,
                )
                results.append({"is_truncated": truncated, "embedding": weights})
            return {"sparse_embedding": results}
        if task is TaskType.RERANK:
            return {"rerank": self._rerank(endpoint, call, settings)}
        return {"completion": [{"result": self._completion(endpoint, call, settings)}]}

    def _dense(
        self, endpoint: Endpoint, contents: Sequence[str], input_type: str | None
    ) -> list[orjson.Fragment]:
        """Encoded vectors, each generated (in one batch with the other misses) and encoded once.

        A vector is a pure function of its key, so caching it changes no output; repeated
        inputs, the common case in test suites, then cost a dictionary lookup.
        """
        shape = (
            self.seed,
            endpoint.inference_id,
            endpoint.task_type.value,
            endpoint.dimensions,
            endpoint.similarity,
            endpoint.element_type,
            input_type,
        )
        keys = [(*shape, content) for content in contents]
        encoded: dict[tuple[Any, ...], orjson.Fragment] = {}
        for key in keys:
            cached = self._vectors.get(key)
            if cached is not None:
                encoded[key] = cached
        missing = [key for key in dict.fromkeys(keys) if key not in encoded]
        if missing:
            generated = dense_array(
                seed=self.seed,
                inference_id=endpoint.inference_id,
                task_type=endpoint.task_type.value,
                contents=[key[-1] for key in missing],
                dimensions=endpoint.dimensions,
                similarity=endpoint.similarity,
                element_type=endpoint.element_type,
                input_type=input_type,
            )
            for key, row in zip(missing, generated, strict=True):
                # orjson writes each float32 with its shortest round-trip digits, in C.
                fragment = orjson.Fragment(
                    orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY).decode()
                )
                encoded[key] = self._vectors.put(key, fragment)
        return [encoded[key] for key in keys]

    def _rerank(
        self, endpoint: Endpoint, call: InferenceInput, settings: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        top_n = call.top_n if call.top_n is not None else settings.get("top_n")
        return_documents = call.return_documents
        if return_documents is None:
            return_documents = bool(settings.get("return_documents", False))
        ranked = rerank(
            seed=self.seed,
            inference_id=endpoint.inference_id,
            query=call.query or "",
            documents=call.inputs,
            top_n=top_n if isinstance(top_n, int) else None,
            return_documents=return_documents,
        )
        results: list[dict[str, Any]] = []
        for doc in ranked:
            entry: dict[str, Any] = {"index": doc.index, "relevance_score": doc.relevance_score}
            if doc.text is not None:
                entry["text"] = doc.text
            results.append(entry)
        return results

    def _completion(
        self, endpoint: Endpoint, call: InferenceInput, settings: Mapping[str, Any]
    ) -> str:
        limit = next(
            (settings[k] for k in _MAX_TOKEN_SETTINGS if isinstance(settings.get(k), int)), None
        )
        return completion_text(
            seed=self.seed,
            inference_id=endpoint.inference_id,
            task_type=endpoint.task_type.value,
            prompt=call.inputs[0],
            max_tokens=limit,
        )

    def stream_completion(self, endpoint: Endpoint, call: InferenceInput) -> StreamReply:
        """A completion as `{"completion":[{"delta":...}]}` events; deltas join to the result."""
        settings = {**endpoint.task_settings, **call.task_settings}
        text = self._completion(endpoint, call, settings)
        stream_seed = self._stream_seed(endpoint, text)
        payloads = [
            compact_json({"completion": [{"delta": d}]})
            for d in split_deltas(text, seed=stream_seed)
        ]
        return message_stream(payloads, self._offsets(stream_seed, len(payloads) + 1))

    def chat(self, endpoint: Endpoint, request: ChatRequest) -> ChatReply:
        """The chat reply for a request, the same whether streamed or not."""
        return chat_reply(
            seed=self.seed,
            inference_id=endpoint.inference_id,
            request=request.as_body(),
            model=request.model or endpoint.model,
        )

    def chat_object(self, endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
        """A non-streamed `chat.completion` object."""
        return chat_completion_object(self.chat(endpoint, request))

    def stream_chat(self, endpoint: Endpoint, request: ChatRequest) -> StreamReply:
        """`chat.completion.chunk` events, one chunk per event, then `[DONE]`."""
        reply = self.chat(endpoint, request)
        stream_seed = self._stream_seed(endpoint, reply.id)
        payloads = [compact_json(chunk) for chunk in chat_chunks(reply, seed=stream_seed)]
        return message_stream(payloads, self._offsets(stream_seed, len(payloads) + 1))

    def _stream_seed(self, endpoint: Endpoint, content: str) -> int:
        return derive_seed(self.seed, endpoint.inference_id, "stream", content)

    def _offsets(self, seed: int, count: int) -> list[float]:
        return event_offsets(self.timing, seed=seed, count=count)
