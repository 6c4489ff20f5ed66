"""The synthesize engine: deterministic, plausible results from the seeded generators."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from mockinfer.engines import plugins
from mockinfer.engines.helper import GeneratorHelper, HelperUnavailable
from mockinfer.engines.plugins import GeneratorSet, Plugin
from mockinfer.errors import PluginError
from mockinfer.generators import (
    DEFAULT_SEED,
    INSTANT,
    TimingProfile,
    canonical_json,
    chat_chunks,
    chat_reply,
    completion_text,
    dense_array,
    derive_seed,
    event_offsets,
    rerank,
    sparse_vector,
    split_deltas,
)
from mockinfer.plugins import ChatRequest as PluginChatRequest
from mockinfer.plugins import (
    CompletionRequest,
    EmbeddingRequest,
    RerankRequest,
    SparseRequest,
    Target,
)
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.models import seed_key
from mockinfer.wire.requests import ChatRequest, InferenceCall, InferenceInput
from mockinfer.wire.results import (
    ChatChunk,
    ChatReply,
    Completion,
    CompletionDelta,
    DenseEmbeddings,
    Ranking,
    Result,
    SparseEmbedding,
    SparseEmbeddings,
    StreamPlan,
    timed_stream,
)
from mockinfer.wire.tasks import TaskType

#: The token limit of ELSER-like sparse models before `is_truncated` turns true.
SPARSE_MAX_TOKENS = 512
_MAX_TOKEN_SETTINGS = ("max_tokens", "max_new_tokens", "max_completion_tokens")
#: Dense vectors kept per server: 4096 vectors of 1536 float32 are about 25 MB.
VECTOR_CACHE_SIZE = 4096

#: Calls arriving with others that need new vectors before a helper process is started for
#: them: a suite that sends new texts concurrently only now and then never pays for one.
HELPER_AFTER = 64
#: New texts a call may send to the helper. A bigger batch is generated on the server's
#: thread, where one batch costs far less per text than single texts do: with 16 calls at
#: once on a 2-core machine, calls of 2 texts were 0.9x as long through the helper, of 4
#: about as long, of 16 1.2-2x as long.
HELPER_BATCH = 2

#: Endpoints whose vector key shape is remembered; past it, the memory starts again.
_SHAPES_KEPT = 256

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

    def __contains__(self, key: object) -> bool:
        return key in self._entries  # one dict lookup: atomic, and leaves the order alone

    def put(self, key: K, value: V) -> V:
        """Store `value`, evicting the least recently used entry when full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


@dataclass(frozen=True)
class NewVectors:
    """Vectors a call needs that are not cached: their cache keys and `dense_array`'s
    arguments."""

    keys: list[tuple[Any, ...]]
    arguments: dict[str, Any]


def _input_type(call: InferenceInput, settings: Mapping[str, Any]) -> str | None:
    stored_type = settings.get("input_type")
    return call.input_type or (stored_type if isinstance(stored_type, str) else None)


class Synthesizer:
    """Answers every task type from the generators, seeded by one master seed, or from the
    generator plugin an endpoint is routed to."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        timing: TimingProfile = INSTANT,
        generators: GeneratorSet | None = None,
        *,
        generation_helper: bool = True,
    ) -> None:
        """`generation_helper` lets new texts of calls that arrive together be embedded in a
        helper process (see `mockinfer.engines.helper`)."""
        self.seed = seed
        self.timing = timing
        self.generators = generators if generators is not None else GeneratorSet()
        self.generation_helper = generation_helper
        self._vectors: BoundedCache[tuple[Any, ...], np.ndarray] = BoundedCache(VECTOR_CACHE_SIZE)
        # Weak: the provider routes make an endpoint per request, which must not outlive it.
        self._shapes: dict[int, tuple[weakref.ref[Endpoint], tuple[str, str, int, str, str]]] = {}
        self._helper: GeneratorHelper | None = None
        self._starting: asyncio.Future[None] | None = None
        self._crowded = 0

    def plugged(self, endpoint: Endpoint) -> bool:
        """Whether a plugin answers `endpoint` (answering may then take a while: the server
        runs it off the event loop)."""
        try:
            return self.generators.pick(endpoint) is not None
        except PluginError:
            return False  # answering raises it again, where it is rendered as an error

    def answer(self, call: InferenceCall) -> Result | StreamPlan:
        """The result (or, for `_stream`, the stream plan) of a validated call."""
        endpoint = call.endpoint
        if call.chat is not None:
            if call.stream:
                return self.stream_chat(endpoint, call.chat)
            return self.chat(endpoint, call.chat)
        assert call.input is not None
        if call.stream:
            return self.stream_completion(endpoint, call.input)
        return self.infer(endpoint, call.input)

    def infer(
        self, endpoint: Endpoint, call: InferenceInput
    ) -> DenseEmbeddings | SparseEmbeddings | Ranking | Completion:
        """The result of a non-chat task."""
        task = endpoint.task_type
        settings = {**endpoint.task_settings, **call.task_settings}
        if task in (TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING):
            input_type = _input_type(call, settings)
            vectors = self.dense(endpoint, call.inputs, input_type, settings)
            return DenseEmbeddings(task, endpoint.element_type, tuple(vectors))
        if task is TaskType.SPARSE_EMBEDDING:
            plugin = self.generators.pick(endpoint)
            if plugin is not None:
                request = SparseRequest(self._target(endpoint, settings), tuple(call.inputs))
                return SparseEmbeddings(tuple(plugins.sparse(plugin, request)))
            return SparseEmbeddings(tuple(self.sparse(endpoint, text) for text in call.inputs))
        if task is TaskType.RERANK:
            return self._rerank(endpoint, call, settings)
        return Completion(self._completion(endpoint, call, settings))

    def sparse(self, endpoint: Endpoint, text: str) -> SparseEmbedding:
        """The token weights of one input."""
        weights, truncated = sparse_vector(
            seed=self.seed,
            inference_id=seed_key(endpoint),
            task_type=endpoint.task_type.value,
            text=text,
            max_input_tokens=SPARSE_MAX_TOKENS,
        )
        return SparseEmbedding(weights, truncated)

    def dense(
        self,
        endpoint: Endpoint,
        contents: Sequence[str],
        input_type: str | None,
        task_settings: Mapping[str, Any] | None = None,
    ) -> list[np.ndarray]:
        """Read-only vectors, each generated once (in one batch with the other misses).

        A vector is a pure function of its key, so caching it changes no output; repeated
        inputs, the common case in test suites, then cost a dictionary lookup, and the same row
        object lets a renderer reuse its encoding.
        """
        plugin = self.generators.pick(endpoint)
        settings = endpoint.task_settings if task_settings is None else task_settings
        if plugin is not None and not plugin.deterministic:
            return list(self._plugged_dense(plugin, endpoint, contents, input_type, settings))
        keys = self._vector_keys(plugin, endpoint, settings, input_type, contents)
        encoded: dict[tuple[Any, ...], np.ndarray] = {}
        for key in keys:
            cached = self._vectors.get(key)
            if cached is not None:
                encoded[key] = cached
        missing = [key for key in dict.fromkeys(keys) if key not in encoded]
        if missing:
            texts = [key[-1] for key in missing]
            generated = (
                self._plugged_dense(plugin, endpoint, texts, input_type, settings)
                if plugin is not None
                else dense_array(**self._dense_arguments(endpoint, input_type, texts))
            )
            generated.setflags(write=False)
            for key, row in zip(missing, generated, strict=True):
                encoded[key] = self._vectors.put(key, row)
        return [encoded[key] for key in keys]

    def _vector_keys(
        self,
        plugin: Plugin | None,
        endpoint: Endpoint,
        settings: Mapping[str, Any],
        input_type: str | None,
        contents: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        shape = (
            # A plugin is told the endpoint and its settings: its answers are kept per both.
            (
                plugin.serial,
                endpoint.inference_id,
                canonical_json(endpoint.service_settings),
                canonical_json(settings),
            )
            if plugin
            else None,
            self.seed,
            *self._vector_shape(endpoint),
            input_type,
        )
        return [(*shape, content) for content in contents]

    def _vector_shape(self, endpoint: Endpoint) -> tuple[str, str, int, str, str]:
        """What an endpoint puts in the key of each of its vectors, remembered per endpoint
        object (the registry replaces an endpoint it changes): it is read on every call."""
        kept = self._shapes.get(id(endpoint))
        if kept is not None and kept[0]() is endpoint:
            return kept[1]
        shape = (
            seed_key(endpoint),
            endpoint.task_type.value,
            endpoint.dimensions,
            endpoint.similarity,
            endpoint.element_type,
        )
        if len(self._shapes) >= _SHAPES_KEPT:
            self._shapes.clear()
        self._shapes[id(endpoint)] = (weakref.ref(endpoint), shape)
        return shape

    def _dense_arguments(
        self, endpoint: Endpoint, input_type: str | None, contents: Sequence[str]
    ) -> dict[str, Any]:
        inference_id, task_type, dimensions, similarity, element_type = self._vector_shape(endpoint)
        return {
            "seed": self.seed,
            "inference_id": inference_id,
            "task_type": task_type,
            "contents": contents,
            "dimensions": dimensions,
            "similarity": similarity,
            "element_type": element_type,
            "input_type": input_type,
        }

    def helper_work(self, call: InferenceCall) -> NewVectors | None:
        """What the generation helper could make for a call the core generator answers (see
        `plugged`): the vectors it needs and nobody made yet. None when there are none, for
        other tasks and streams, and without a helper."""
        endpoint, inputs = call.endpoint, call.input
        if (
            not self.generation_helper
            or inputs is None
            or call.stream
            or endpoint.task_type not in (TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING)
        ):
            return None
        settings = {**endpoint.task_settings, **inputs.task_settings}
        input_type = _input_type(inputs, settings)
        keys = self._vector_keys(None, endpoint, settings, input_type, inputs.inputs)
        missing = [key for key in dict.fromkeys(keys) if key not in self._vectors]
        if not missing or len(missing) > HELPER_BATCH:
            return None
        texts = [key[-1] for key in missing]
        return NewVectors(missing, self._dense_arguments(endpoint, input_type, texts))

    async def generate_ahead(self, new: NewVectors) -> list[tuple[np.ndarray, bytes]]:
        """Generate `new` in the helper process and cache it, for a call that arrived with
        others: answering the call then finds its vectors made.

        The helper starts after `HELPER_AFTER` such calls. Until it is ready, or once it has
        failed, this does nothing and answering generates on the server's thread as always.
        Returns each row generated with its JSON, for a renderer to keep.
        """
        helper = self._helper
        if helper is None:
            self._crowded += 1
            if self._crowded >= HELPER_AFTER:
                self._helper = GeneratorHelper()
                self._starting = asyncio.ensure_future(self._helper.start())
            return []
        if not helper.ready:
            return []
        try:
            generated = await helper.dense(new.arguments)
        except HelperUnavailable:
            return []
        made = list(zip(generated.rows, generated.encoded, strict=True))
        for key, (row, _) in zip(new.keys, made, strict=True):
            self._vectors.put(key, row)
        return made

    @property
    def helper(self) -> GeneratorHelper | None:
        """The generation helper process, once started."""
        return self._helper

    def close_helper(self) -> None:
        """Stop the helper process; the next crowded calls may start another."""
        helper, self._helper, self._crowded = self._helper, None, 0
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if helper is not None:
            helper.close()

    def _target(self, endpoint: Endpoint, task_settings: Mapping[str, Any]) -> Target:
        return plugins.target(endpoint, self.seed, task_settings)

    def _plugged_dense(
        self,
        plugin: Plugin,
        endpoint: Endpoint,
        contents: Sequence[str],
        input_type: str | None,
        task_settings: Mapping[str, Any],
    ) -> np.ndarray:
        request = EmbeddingRequest(
            target=self._target(endpoint, task_settings),
            texts=tuple(contents),
            dimensions=endpoint.dimensions,
            similarity=endpoint.similarity,
            element_type=endpoint.element_type,
            input_type=input_type,
        )
        return plugins.embed(plugin, request)

    def _rerank(
        self, endpoint: Endpoint, call: InferenceInput, settings: Mapping[str, Any]
    ) -> Ranking:
        top_n = call.top_n if call.top_n is not None else settings.get("top_n")
        return_documents = call.return_documents
        if return_documents is None:
            return_documents = bool(settings.get("return_documents", False))
        plugin = self.generators.pick(endpoint)
        if plugin is not None:
            request = RerankRequest(
                self._target(endpoint, settings), call.query or "", tuple(call.inputs)
            )
            return Ranking(
                tuple(
                    plugins.rerank(
                        plugin,
                        request,
                        top_n=top_n if isinstance(top_n, int) else None,
                        return_documents=return_documents,
                    )
                )
            )
        ranked = rerank(
            seed=self.seed,
            inference_id=seed_key(endpoint),
            query=call.query or "",
            documents=call.inputs,
            top_n=top_n if isinstance(top_n, int) else None,
            return_documents=return_documents,
        )
        return Ranking(tuple(ranked))

    def _completion(
        self, endpoint: Endpoint, call: InferenceInput, settings: Mapping[str, Any]
    ) -> str:
        limit = next(
            (settings[k] for k in _MAX_TOKEN_SETTINGS if isinstance(settings.get(k), int)), None
        )
        plugin = self.generators.pick(endpoint)
        if plugin is not None:
            request = CompletionRequest(self._target(endpoint, settings), call.inputs[0], limit)
            return plugins.complete(plugin, request)
        return completion_text(
            seed=self.seed,
            inference_id=endpoint.inference_id,
            task_type=endpoint.task_type.value,
            prompt=call.inputs[0],
            max_tokens=limit,
        )

    def stream_completion(self, endpoint: Endpoint, call: InferenceInput) -> StreamPlan:
        """A completion as deltas that join to the non-streamed result."""
        settings = {**endpoint.task_settings, **call.task_settings}
        text = self._completion(endpoint, call, settings)
        stream_seed = self._stream_seed(endpoint, text)
        deltas = [CompletionDelta(d) for d in split_deltas(text, seed=stream_seed)]
        return timed_stream(deltas, self._offsets(stream_seed, len(deltas) + 1))

    def chat(self, endpoint: Endpoint, request: ChatRequest) -> ChatReply:
        """The chat reply for a request, the same whether streamed or not."""
        model = request.model or endpoint.model
        plugin = self.generators.pick(endpoint)
        if plugin is not None:
            body = request.as_body()
            messages = tuple(m for m in body.get("messages") or () if isinstance(m, Mapping))
            target = self._target(endpoint, endpoint.task_settings)
            return plugins.chat(plugin, PluginChatRequest(target, messages, body), model)
        return chat_reply(
            seed=self.seed,
            inference_id=endpoint.inference_id,
            request=request.as_body(),
            model=model,
        )

    def stream_chat(self, endpoint: Endpoint, request: ChatRequest) -> StreamPlan:
        """`chat.completion.chunk` events, one chunk per event, then `[DONE]`."""
        reply = self.chat(endpoint, request)
        stream_seed = self._stream_seed(endpoint, reply.id)
        chunks = [ChatChunk(chunk) for chunk in chat_chunks(reply, seed=stream_seed)]
        return timed_stream(chunks, self._offsets(stream_seed, len(chunks) + 1))

    def _stream_seed(self, endpoint: Endpoint, content: str) -> int:
        return derive_seed(self.seed, endpoint.inference_id, "stream", content)

    def _offsets(self, seed: int, count: int) -> list[float]:
        return event_offsets(self.timing, seed=seed, count=count)
