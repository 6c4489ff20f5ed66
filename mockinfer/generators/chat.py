"""Synthesized chat completions: a reply (text or one tool call) and its wire shapes.

The reply is a function of (seed, endpoint, the whole request as canonical JSON). Whether it
calls a tool follows one documented rule:

* no tools offered, ``tool_choice`` ``"none"``, or the last message is a ``tool`` result: text
  (the model answers the tool output instead of looping);
* ``tool_choice`` ``{"type": "function", "function": {"name": N}}``: call N;
* ``"required"``: call the best-matching tool;
* ``"auto"`` (the default when tools are offered): call the best-matching tool if it shares at
  least one word with the last user message, else answer with text.

"Best-matching": the most shared words between the last user message and the tool's name
(split at ``_``, ``-`` and camelCase) plus its description, compared as stemmed non-stop words;
ties go to the tool listed first. Arguments are generated from the tool's ``parameters`` schema
(see :mod:`mockinfer.generators.schema`), so they validate against it.

Wire shapes follow Elasticsearch's own serializers (``StreamingUnifiedChatCompletionResults``,
``UnifiedChatCompletionResults``): keys ``id, choices, model, object[, usage]``; choice keys
``delta|message, finish_reason, index``; message keys ``content, refusal, role, reasoning,
tool_calls``, null ones left out; tool call keys ``index, id, function{arguments, name}, type``.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Mapping, Sequence
from typing import Any

from mockinfer.generators.completion import compose_text, split_deltas
from mockinfer.generators.schema import value_for_schema
from mockinfer.generators.seeds import canonical_json, derive_seed
from mockinfer.generators.text import STOP_WORDS, count_tokens, identifier_words, stem
from mockinfer.wire.results import ChatReply, ToolCall

_ALPHANUMERIC = string.ascii_letters + string.digits
_EMPTY_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
_MESSAGE_OVERHEAD = 3  # tokens per message for role and separators, as OpenAI counts them


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = (p.get("text") for p in content if isinstance(p, Mapping))
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _messages(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for m in request.get("messages") or [] if isinstance(m, Mapping)]


def last_user_text(request: Mapping[str, Any]) -> str:
    """The text of the last user message, which replies and stubs answer."""
    users = [m for m in _messages(request) if m.get("role") == "user"]
    return text_of(users[-1].get("content")) if users else ""


def _stems(text: str) -> set[str]:
    return {stem(w) for w in identifier_words(text) if w not in STOP_WORDS}


def _choose_tool(request: Mapping[str, Any], user_text: str) -> Mapping[str, Any] | None:
    """The function to call, by the rule in the module docstring; None means answer in text."""
    messages = _messages(request)
    tools = [t for t in request.get("tools") or [] if isinstance(t, Mapping)]
    functions = [t["function"] for t in tools if isinstance(t.get("function"), Mapping)]
    choice = request.get("tool_choice", "auto")
    if not functions or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        return next((f for f in functions if f.get("name") == name), {"name": name})
    asked = _stems(user_text)

    def overlap(function: Mapping[str, Any]) -> int:
        about = f"{function.get('name', '')} {function.get('description', '')}"
        return len(asked & _stems(about))

    best = max(functions, key=overlap)  # max() keeps the first of equal scores
    return best if choice == "required" or overlap(best) > 0 else None


def prompt_tokens(request: Mapping[str, Any]) -> int:
    total = 0
    for message in _messages(request):
        total += _MESSAGE_OVERHEAD + count_tokens(text_of(message.get("content")))
        for call in message.get("tool_calls") or []:
            total += count_tokens(canonical_json(call.get("function")))
    if request.get("tools"):
        total += count_tokens(canonical_json(request["tools"]))
    return total


def _random_id(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALPHANUMERIC) for _ in range(length))


def chat_reply(
    *, seed: int, inference_id: str, request: Mapping[str, Any], model: str
) -> ChatReply:
    """The assistant's reply to an OpenAI-style chat request body.

    Text (from the last user message, ``finish_reason`` ``"length"`` when
    ``max_completion_tokens`` cut it) or a single tool call (``"tool_calls"``). A tool is
    called when ``tool_choice`` names it, or is ``"required"`` (best-matching tool), or is
    ``"auto"`` and some tool's name or description shares a word with the last user message;
    never after a ``tool`` message. See the module docstring for the full rule.
    """
    derived = derive_seed(seed, inference_id, "chat_completion", canonical_json(request))
    rng = random.Random(derived)
    user_text = last_user_text(request)
    reply_id = "chatcmpl-" + _random_id(rng, 29)
    prompt_count = prompt_tokens(request)
    function = _choose_tool(request, user_text)
    if function is not None:
        name = str(function.get("name"))
        parameters = function.get("parameters") or _EMPTY_PARAMETERS
        try:
            value = value_for_schema(parameters, seed=rng.getrandbits(64))
        except (ValueError, TypeError, RecursionError):
            # A schema nothing can satisfy (or that is not valid JSON Schema) gets empty
            # arguments, as a model would answer; the request itself is not at fault.
            value = {}
        call = ToolCall(
            id="call_" + _random_id(rng, 24),
            name=name,
            arguments=json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        )
        return ChatReply(
            id=reply_id,
            model=model,
            content=None,
            tool_calls=(call,),
            finish_reason="tool_calls",
            prompt_tokens=prompt_count,
            completion_tokens=count_tokens(name) + count_tokens(call.arguments),
        )
    limit = request.get("max_completion_tokens")
    text, truncated = compose_text(derived, user_text, limit if isinstance(limit, int) else None)
    return ChatReply(
        id=reply_id,
        model=model,
        content=text,
        tool_calls=(),
        finish_reason="length" if truncated else "stop",
        prompt_tokens=prompt_count,
        completion_tokens=count_tokens(text),
    )


def text_reply(
    *, seed: int, inference_id: str, request: Mapping[str, Any], model: str, text: str
) -> ChatReply:
    """A reply of `text` (written elsewhere) to a chat request, with the id and token counts
    :func:`chat_reply` would give it."""
    derived = derive_seed(seed, inference_id, "chat_completion", canonical_json(request))
    return ChatReply(
        id="chatcmpl-" + _random_id(random.Random(derived), 29),
        model=model,
        content=text,
        tool_calls=(),
        finish_reason="stop",
        prompt_tokens=prompt_tokens(request),
        completion_tokens=count_tokens(text),
    )


def _message(
    content: str | None, role: str | None, tool_calls: list[dict[str, Any]]
) -> dict[str, Any]:
    """A delta or message with Elasticsearch's key order, null fields left out."""
    message: dict[str, Any] = {}
    if content is not None:
        message["content"] = content
    if role is not None:
        message["role"] = role
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _tool_call(index: int, call_id: str | None, arguments: str, name: str | None) -> dict[str, Any]:
    function = {"arguments": arguments} if name is None else {"arguments": arguments, "name": name}
    head = {"index": index} if call_id is None else {"index": index, "id": call_id}
    return {**head, "function": function, "type": "function"}


def _usage(reply: ChatReply) -> dict[str, int]:
    return {
        "completion_tokens": reply.completion_tokens,
        "prompt_tokens": reply.prompt_tokens,
        "total_tokens": reply.completion_tokens + reply.prompt_tokens,
    }


def _argument_pieces(arguments: str, rng: random.Random) -> list[str]:
    pieces, start = [], 0
    while start < len(arguments):
        size = rng.randint(2, 10)  # a few characters, like an LLM streams JSON
        pieces.append(arguments[start : start + size])
        start += size
    return pieces


def chat_chunks(reply: ChatReply, *, seed: int) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed reply, one per SSE event.

    Content deltas (the first also carries ``role``), or per tool call a header delta (id,
    name, empty arguments) and argument pieces; then a chunk with ``finish_reason`` and an empty
    delta; then the usage chunk with ``choices: []``. Deltas and pieces join to the reply.
    """
    rng = random.Random(seed)
    deltas: list[dict[str, Any]] = []
    if reply.content is not None or not reply.tool_calls:
        pieces = split_deltas(reply.content or "", seed=seed) or [""]
        deltas += [_message(piece, None, []) for piece in pieces]
    for index, call in enumerate(reply.tool_calls):
        deltas.append(_message(None, None, [_tool_call(index, call.id, "", call.name)]))
        for piece in _argument_pieces(call.arguments, rng):
            deltas.append(_message(None, None, [_tool_call(index, None, piece, None)]))
    first = deltas[0]
    deltas[0] = _message(first.get("content"), "assistant", first.get("tool_calls", []))
    head: dict[str, Any] = {"id": reply.id}
    tail: dict[str, Any] = {"model": reply.model, "object": "chat.completion.chunk"}
    chunks: list[dict[str, Any]] = [
        {**head, "choices": [{"delta": d, "index": 0}], **tail} for d in deltas
    ]
    finish = {"delta": {}, "finish_reason": reply.finish_reason, "index": 0}
    chunks.append({**head, "choices": [finish], **tail})
    chunks.append({**head, "choices": [], **tail, "usage": _usage(reply)})
    return chunks


def chat_completion_object(reply: ChatReply) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object (no ``created``: it would not be stable)."""
    calls = [_tool_call(i, c.id, c.arguments, c.name) for i, c in enumerate(reply.tool_calls)]
    message = _message(reply.content, "assistant", calls)
    return {
        "id": reply.id,
        "choices": [{"message": message, "finish_reason": reply.finish_reason, "index": 0}],
        "model": reply.model,
        "object": "chat.completion",
        "usage": _usage(reply),
    }
