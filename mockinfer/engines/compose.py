"""The engine the server asks: stubs first, then synthesis."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mockinfer.engines.replies import JsonReply, StreamReply, compact_json, message_stream
from mockinfer.engines.stubs import Stub, StubRegistry
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.generators import (
    ChatReply,
    ToolCall,
    canonical_json,
    chat_chunks,
    chat_completion_object,
    count_tokens,
    derive_seed,
)
from mockinfer.generators.chat import last_user_text, prompt_tokens
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.requests import ChatRequest, InferenceInput
from mockinfer.wire.tasks import TaskType, dense_result_key


class Responder:
    """Answers validated calls: a matching stub wins, anything else is synthesized."""

    def __init__(self, synthesizer: Synthesizer, stubs: StubRegistry | None = None) -> None:
        self.synthesizer = synthesizer
        self.stubs = stubs or StubRegistry()

    def infer(self, endpoint: Endpoint, call: InferenceInput) -> JsonReply:
        """A perform-inference reply for any non-chat task."""
        task = endpoint.task_type
        texts = [*call.inputs, *([call.query] if call.query else [])]
        stub = self._whole(endpoint, texts)
        if stub is not None:
            reply = stub.whole_reply()
            if reply is not None:
                return reply
            text = stub.text if stub.text is not None else "".join(stub.deltas or ())
            return JsonReply({"completion": [{"result": text}]})
        body = self.synthesizer.infer(endpoint, call)
        if task in (TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING):
            key = dense_result_key(task, endpoint.element_type)
            self._override_inputs(endpoint, call, body[key])
        elif task is TaskType.SPARSE_EMBEDDING:
            self._override_inputs(endpoint, call, body["sparse_embedding"])
        return JsonReply(body)

    def _whole(self, endpoint: Endpoint, texts: list[str]) -> Stub | None:
        return self.stubs.find(endpoint.inference_id, endpoint.task_type.value, texts)

    def _override_inputs(
        self, endpoint: Endpoint, call: InferenceInput, results: list[dict[str, Any]]
    ) -> None:
        for text, result in zip(call.inputs, results, strict=True):
            stub = self.stubs.per_input(endpoint.inference_id, endpoint.task_type.value, text)
            if stub is not None:
                result["embedding"] = stub.result

    def stream_completion(self, endpoint: Endpoint, call: InferenceInput) -> StreamReply:
        """A streamed completion: a scripted stub stream, else synthesized deltas."""
        stub = self._whole(endpoint, list(call.inputs))
        if stub is None:
            return self.synthesizer.stream_completion(endpoint, call)
        whole = stub.whole_reply()
        if whole is not None:
            return message_stream([compact_json(whole.body)], [0.0, 0.0])
        return stub.scripted_events(lambda delta, first: {"completion": [{"delta": delta}]})

    def chat(self, endpoint: Endpoint, request: ChatRequest) -> JsonReply:
        """A non-streamed chat completion."""
        stub = self._whole(endpoint, [last_user_text(request.as_body())])
        if stub is None:
            return JsonReply(self.synthesizer.chat_object(endpoint, request))
        whole = stub.whole_reply()
        if whole is not None:
            return whole
        return JsonReply(chat_completion_object(self._stub_reply(endpoint, request, stub)))

    def stream_chat(self, endpoint: Endpoint, request: ChatRequest) -> StreamReply:
        """A streamed chat completion."""
        stub = self._whole(endpoint, [last_user_text(request.as_body())])
        if stub is None:
            return self.synthesizer.stream_chat(endpoint, request)
        whole = stub.whole_reply()
        if whole is not None:
            return message_stream([compact_json(whole.body)], [0.0, 0.0])
        reply = self._stub_reply(endpoint, request, stub)
        if stub.chunks is None and stub.deltas is None:
            chunks = chat_chunks(reply, seed=self.synthesizer.seed)
            return message_stream([compact_json(c) for c in chunks], [0.0] * (len(chunks) + 1))
        scripted = stub.scripted_events(lambda delta, first: _content_chunk(reply, delta, first))
        if stub.chunks is not None:
            return scripted
        tail = [c for c in chat_chunks(reply, seed=self.synthesizer.seed) if _is_tail(c)]
        end = scripted.events[-1].offset
        events = list(scripted.events[:-1])
        closing = message_stream([compact_json(c) for c in tail], [end] * (len(tail) + 1))
        return StreamReply(tuple(events) + closing.events)

    def _stub_reply(self, endpoint: Endpoint, request: ChatRequest, stub: Stub) -> ChatReply:
        content = stub.text if stub.text is not None else "".join(stub.deltas or ())
        calls = tuple(
            ToolCall(id=c.id, name=c.name, arguments=json.dumps(dict(c.arguments)))
            for c in stub.tool_calls or ()
        )
        body = request.as_body()
        seed = derive_seed(
            self.synthesizer.seed, endpoint.inference_id, "stub", canonical_json(body)
        )
        return ChatReply(
            id=f"chatcmpl-stub{seed % 10**12:012d}",
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
