"""Stubs: replies a test registers for the requests it cares about.

A stub matches on inference id, task type and the request's text (any input, the rerank
query, or the last user message of a chat). In the reply chain stubs come after faults and
before the cassette and synthesis: a stubbed request is answered here and never recorded. For
embeddings a stub answers per input, so a batch mixes stubbed and generated vectors exactly as
a model would answer each input on its own.

Every argument is checked when the stub is made, so a mistake fails in the test that made it,
with a message naming the argument, not later as a server error.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from mockinfer.engines.arguments import TASK_NAMES, is_count, is_number
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.errors import ConfigurationError
from mockinfer.generators import (
    chat_chunks,
    count_tokens,
    derive_seed,
)
from mockinfer.generators.chat import last_user_text, prompt_tokens
from mockinfer.generators.seeds import canonical_json
from mockinfer.wire.errors import EsError
from mockinfer.wire.requests import ChatRequest, InferenceCall
from mockinfer.wire.results import (
    ChatChunk,
    ChatReply,
    Completion,
    CompletionDelta,
    DenseEmbeddings,
    Document,
    Ending,
    JsonEvent,
    Result,
    SparseEmbedding,
    SparseEmbeddings,
    StreamEvent,
    StreamPlan,
    ToolCall,
    timed_stream,
)
from mockinfer.wire.tasks import TaskType

TextMatcher = str | re.Pattern[str] | Callable[[str], bool] | None

_REPLIES = ("body", "error", "result", "text", "deltas", "chunks", "tool_calls")
_GENERATIVE = frozenset({TaskType.COMPLETION.value, TaskType.CHAT_COMPLETION.value})
_DENSE = frozenset({TaskType.TEXT_EMBEDDING.value, TaskType.EMBEDDING.value})
_SPARSE = TaskType.SPARSE_EMBEDDING.value
_EMBEDDING = _DENSE | {_SPARSE}


@dataclass(frozen=True)
class StubToolCall:
    """A tool call a stubbed chat reply makes."""

    name: str
    arguments: Mapping[str, Any]
    id: str = "call_stub"


@dataclass
class Stub:
    """One registered reply and the requests it answers.

    Give exactly one kind of reply:
    - `body` (with `status` and `headers`): the whole JSON answer, errors included;
    - `error`: `(status, type, reason)` served as the ES error envelope (with `headers`);
    - `result`: the per-input result of an embedding task (a vector, or a token-weight map);
    - `text`: completion text or chat content (streamed as deltas split on spaces);
    - `deltas` (with `gaps`, seconds before each event): a scripted completion or chat stream;
    - `chunks` (with `gaps`): raw chat chunk objects streamed as they are;
    - `tool_calls`: a chat reply that calls tools.
    `times` limits how often the stub answers (None: always).
    """

    inference_id: str | None = None
    task_type: str | None = None
    match: TextMatcher = None
    body: Any = None
    status: int = 200
    headers: Mapping[str, str] | None = None
    error: tuple[int, str, str] | None = None
    result: Any = None
    text: str | None = None
    deltas: Sequence[str] | None = None
    chunks: Sequence[Mapping[str, Any]] | None = None
    tool_calls: Sequence[StubToolCall] | None = None
    gaps: Sequence[float] | None = None
    times: int | None = None
    used: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        given = [name for name in _REPLIES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ConfigurationError(
                f"a stub needs exactly one reply ({', '.join(_REPLIES)}), got {given or 'none'}"
            )
        _check_target(self.inference_id, self.task_type, self.match)
        _check_reply(self)
        if self.times is not None and not is_count(self.times, 1):
            raise ConfigurationError(f"stub times must be an integer >= 1, got {self.times!r}")

    @property
    def kind(self) -> str:
        """The name of the reply this stub gives."""
        return next(name for name in _REPLIES if getattr(self, name) is not None)

    def matches_target(self, inference_id: str, task_type: str) -> bool:
        """Whether the stub is for this endpoint and task type, and its reply fits the task."""
        if self.times is not None and self.used >= self.times:
            return False
        if self.tool_calls is not None and task_type != TaskType.CHAT_COMPLETION.value:
            return False
        if self.kind in ("text", "deltas", "chunks") and task_type not in _GENERATIVE:
            return False
        if self.result is not None and task_type != self.result_task(task_type):
            return False
        return self.inference_id in (None, inference_id) and self.task_type in (None, task_type)

    def result_task(self, task_type: str) -> str | None:
        """The task a `result` stub answers: a map is sparse, a vector dense (of either kind)."""
        if isinstance(self.result, Mapping):
            return _SPARSE
        return task_type if task_type in _DENSE else TaskType.TEXT_EMBEDDING.value

    def matches_text(self, text: str) -> bool:
        """Whether the stub's matcher accepts this text (no matcher accepts everything)."""
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match == text
        if isinstance(self.match, re.Pattern):
            return self.match.search(text) is not None
        return bool(self.match(text))


def _check_target(inference_id: Any, task_type: Any, match: Any) -> None:
    if inference_id is not None and (not isinstance(inference_id, str) or not inference_id):
        raise ConfigurationError(
            f"stub inference_id must be a non-empty string, got {inference_id!r}"
        )
    if task_type is not None and task_type not in TASK_NAMES:
        raise ConfigurationError(
            f"stub task_type must be one of {', '.join(TASK_NAMES)}, got {task_type!r}"
        )
    if match is not None and not isinstance(match, str | re.Pattern) and not callable(match):
        raise ConfigurationError(
            f"stub match must be a string, a compiled regex or a predicate, got {match!r}"
        )


def _check_reply(stub: Stub) -> None:
    kind = stub.kind
    if kind == "error":
        _check_error(stub.error)
    elif kind == "body":
        try:
            orjson.dumps(stub.body)
        except TypeError as exc:
            raise ConfigurationError(f"stub body must be JSON-serializable: {exc}") from None
    if not isinstance(stub.status, int) or not 100 <= stub.status <= 599:
        raise ConfigurationError(f"stub status must be an HTTP status code, got {stub.status!r}")
    if stub.status != 200 and kind != "body":
        raise ConfigurationError("stub status goes with body; an error gives its own status")
    if stub.headers is not None:
        if kind not in ("body", "error"):
            raise ConfigurationError("stub headers go with body or error")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in stub.headers.items()):
            raise ConfigurationError(
                f"stub headers must map strings to strings, got {stub.headers!r}"
            )
    if kind == "result":
        _check_result(stub.result)
    elif kind == "text" and not isinstance(stub.text, str):
        raise ConfigurationError(f"stub text must be a string, got {stub.text!r}")
    elif kind == "deltas" and (
        isinstance(stub.deltas, str) or not all(isinstance(d, str) for d in stub.deltas or ())
    ):
        raise ConfigurationError(f"stub deltas must be a list of strings, got {stub.deltas!r}")
    elif kind == "chunks" and not all(isinstance(c, Mapping) for c in stub.chunks or ()):
        raise ConfigurationError("stub chunks must be a list of chat.completion.chunk objects")
    elif kind == "tool_calls" and (
        not stub.tool_calls or not all(isinstance(c, StubToolCall) for c in stub.tool_calls)
    ):
        raise ConfigurationError("stub tool_calls must be a non-empty list of StubToolCall")
    _check_task_fits(stub)
    _check_gaps(stub)


def _check_error(error: Any) -> None:
    example = "(429, 'status_exception', 'rate limited')"
    if (
        not isinstance(error, tuple | list)
        or len(error) != 3
        or not isinstance(error[0], int)
        or not 400 <= error[0] <= 599
        or not all(isinstance(part, str) and part for part in error[1:])
    ):
        raise ConfigurationError(
            f"stub error must be (status 400-599, error type, reason), e.g. {example}; "
            f"got {error!r}"
        )


def _check_result(result: Any) -> None:
    if isinstance(result, Mapping):
        valid = all(isinstance(k, str) and is_number(v) for k, v in result.items())
    else:
        valid = (
            isinstance(result, Sequence)
            and not isinstance(result, str | bytes)
            and bool(result)
            and all(is_number(v) for v in result)
        )
    if valid:
        return
    raise ConfigurationError(
        "stub result must be a vector (a non-empty list of numbers) or a token-weight map "
        f"(strings to numbers), got {result!r}"
    )


def _check_task_fits(stub: Stub) -> None:
    task = stub.task_type
    if task is None:
        return
    kind = stub.kind
    fits = (
        (kind == "result" and stub.result_task(task) == task)
        or (kind in ("text", "deltas", "chunks") and task in _GENERATIVE)
        or (kind == "tool_calls" and task == TaskType.CHAT_COMPLETION.value)
        or kind in ("body", "error")
    )
    if kind == "chunks" and task != TaskType.CHAT_COMPLETION.value:
        fits = False
    if not fits:
        raise ConfigurationError(f"a stub {kind} cannot answer task_type {task!r}")


def _check_gaps(stub: Stub) -> None:
    if stub.gaps is None:
        return
    if stub.deltas is None and stub.chunks is None:
        raise ConfigurationError("stub gaps go with deltas or chunks")
    events = len(stub.deltas if stub.deltas is not None else stub.chunks or ())
    gaps = list(stub.gaps)
    if not all(is_number(g) and g >= 0 for g in gaps):
        raise ConfigurationError(f"stub gaps must be seconds >= 0, got {stub.gaps!r}")
    if len(gaps) > events + 1:
        raise ConfigurationError(
            f"stub gaps: at most one per event plus one before [DONE] ({events + 1}), "
            f"got {len(gaps)}"
        )


def _split(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


class StubRegistry:
    """The stubs of one server, tried newest first so a test can override a broader stub."""

    def __init__(self) -> None:
        self._stubs: list[Stub] = []
        self._lock = threading.Lock()

    def add(self, stub: Stub) -> Stub:
        """Register a stub."""
        with self._lock:
            self._stubs.insert(0, stub)
        return stub

    def clear(self) -> None:
        """Forget every stub."""
        with self._lock:
            self._stubs.clear()

    def find(self, inference_id: str, task_type: str, texts: Sequence[str]) -> Stub | None:
        """The newest whole-request stub for this target matching any of the texts."""
        with self._lock:
            for stub in self._stubs:
                if (
                    stub.result is None
                    and stub.matches_target(inference_id, task_type)
                    and any(stub.matches_text(t) for t in texts)
                ):
                    stub.used += 1
                    return stub
        return None

    def per_input(
        self, inference_id: str, task_type: str, text: str, *, take: bool = True
    ) -> Stub | None:
        """The newest `result` stub for one input of an embedding request.

        `take=False` only looks: the stub's `times` is not used up.
        """
        with self._lock:
            for stub in self._stubs:
                if (
                    stub.result is not None
                    and stub.matches_target(inference_id, task_type)
                    and stub.matches_text(text)
                ):
                    if take:
                        stub.used += 1
                    return stub
        return None

    def __len__(self) -> int:
        return len(self._stubs)  # one atomic read: no lock on every request

    def answer(
        self, call: InferenceCall, synthesizer: Synthesizer, *, per_input: bool = True
    ) -> Result | StreamPlan | None:
        """The stubbed answer to a call, or None when no stub matches it.

        `per_input=False` leaves embedding stubs out: the rest of a batch cannot be generated
        for an endpoint mockinfer only stands in for. Raises `EsError` for an `error` stub.
        """
        endpoint = call.endpoint
        task = endpoint.task_type.value
        if call.chat is not None:
            texts = [last_user_text(call.chat.as_body())]
        else:
            assert call.input is not None
            texts = [*call.input.inputs, *([call.input.query] if call.input.query else [])]
        stub = self.find(endpoint.inference_id, task, texts)
        if stub is None:
            if call.input is None or call.stream or task not in _EMBEDDING:
                return None
            return self._per_input(call, synthesizer, partial=per_input)
        if stub.error is not None:
            status, error_type, reason = stub.error
            raise EsError(status, error_type, reason, headers=stub.headers)
        if stub.body is not None:
            if call.stream:
                return timed_stream([JsonEvent(stub.body)], [0.0, 0.0])
            return Document(stub.body, stub.status, stub.headers)
        if call.chat is not None:
            return _chat(call, call.chat, stub, synthesizer.seed)
        if call.stream:
            return _scripted(stub, lambda piece, first: CompletionDelta(piece))
        return Completion(stub.text if stub.text is not None else "".join(stub.deltas or ()))

    def _per_input(
        self, call: InferenceCall, synthesizer: Synthesizer, *, partial: bool
    ) -> Result | None:
        """Stubbed inputs with the rest generated; `partial=False`: only when all are stubbed."""
        assert call.input is not None
        endpoint = call.endpoint
        task = endpoint.task_type.value
        texts = call.input.inputs
        found = [self.per_input(endpoint.inference_id, task, t, take=False) for t in texts]
        if not any(found) or (not partial and not all(found)):
            return None
        stubbed = [self.per_input(endpoint.inference_id, task, t) for t in texts]
        if all(stubbed):
            return _stubbed_only(call, [s.result for s in stubbed if s is not None])
        generated = synthesizer.infer(endpoint, call.input)
        if isinstance(generated, DenseEmbeddings):
            vectors = tuple(
                list(s.result) if s is not None else row
                for s, row in zip(stubbed, generated.vectors, strict=True)
            )
            return replace(generated, vectors=vectors)
        assert isinstance(generated, SparseEmbeddings)
        items = tuple(
            SparseEmbedding(dict(s.result)) if s is not None else item
            for s, item in zip(stubbed, generated.items, strict=True)
        )
        return SparseEmbeddings(items)


def _stubbed_only(call: InferenceCall, results: list[Any]) -> Result:
    """An embedding answer made of stub results alone."""
    endpoint = call.endpoint
    if endpoint.task_type is TaskType.SPARSE_EMBEDDING:
        return SparseEmbeddings(tuple(SparseEmbedding(dict(r)) for r in results))
    return DenseEmbeddings(
        endpoint.task_type, endpoint.element_type, tuple(list(r) for r in results)
    )


def _scripted(stub: Stub, frame: Callable[[str, bool], StreamEvent]) -> StreamPlan:
    """The stream of a `deltas`, `chunks` or `text` stub; `frame(piece, first)` wraps pieces."""
    events: list[StreamEvent]
    if stub.chunks is not None:
        events = [ChatChunk(dict(chunk)) for chunk in stub.chunks]
    else:
        pieces = list(stub.deltas) if stub.deltas is not None else _split(stub.text or "")
        events = [frame(piece, i == 0) for i, piece in enumerate(pieces)]
    gaps = list(stub.gaps or [])
    offsets = list(
        itertools.accumulate(gaps[i] if i < len(gaps) else 0.0 for i in range(len(events) + 1))
    )
    return timed_stream(events, offsets)


def _chat(call: InferenceCall, request: ChatRequest, stub: Stub, seed: int) -> Result | StreamPlan:
    reply = _chat_reply(call, request, stub, seed)
    if not call.stream:
        return reply
    if stub.chunks is None and stub.deltas is None:
        chunks = [ChatChunk(c) for c in chat_chunks(reply, seed=seed)]
        return timed_stream(chunks, [0.0] * (len(chunks) + 1))
    scripted = _scripted(stub, lambda piece, first: ChatChunk(_content_chunk(reply, piece, first)))
    if stub.chunks is not None:
        return scripted
    tail = [ChatChunk(c) for c in chat_chunks(reply, seed=seed) if _is_tail(c)]
    end = scripted.end_offset
    events = [t.event for t in scripted.events] + list(tail)
    offsets = [t.offset for t in scripted.events] + [end] * (len(tail) + 1)
    return timed_stream(events, offsets, Ending.DONE)


def _chat_reply(call: InferenceCall, request: ChatRequest, stub: Stub, seed: int) -> ChatReply:
    content = stub.text if stub.text is not None else "".join(stub.deltas or ())
    calls = tuple(
        ToolCall(id=c.id, name=c.name, arguments=json.dumps(dict(c.arguments)))
        for c in stub.tool_calls or ()
    )
    body = request.as_body()
    endpoint = call.endpoint
    derived = derive_seed(seed, endpoint.inference_id, "stub", canonical_json(body))
    return ChatReply(
        id=f"chatcmpl-stub{derived % 10**12:012d}",
        model=request.model or endpoint.model,
        content=None if calls else content,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
        prompt_tokens=prompt_tokens(body),
        completion_tokens=count_tokens(content) + sum(count_tokens(c.arguments) for c in calls),
    )


def _content_chunk(reply: ChatReply, delta: str, first: bool) -> Mapping[str, Any]:
    content: dict[str, Any] = {"content": delta}
    if first:
        content["role"] = "assistant"
    return {
        "id": reply.id,
        "choices": [{"delta": content, "index": 0}],
        "model": reply.model,
        "object": "chat.completion.chunk",
    }


def _is_tail(chunk: Mapping[str, Any]) -> bool:
    """The finish-reason chunk and the usage chunk that close a chat stream."""
    choices = chunk.get("choices") or []
    return not choices or "finish_reason" in choices[0]
