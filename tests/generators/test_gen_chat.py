"""Chat replies, tool calls and their wire shapes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import (
    ChatReply,
    ToolCall,
    chat_chunks,
    chat_completion_object,
    chat_reply,
    count_tokens,
)

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["location"],
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": WEATHER_PARAMETERS,
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "searchDocs",
        "description": "Full-text search over the handbook",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query", "limit"],
            "additionalProperties": False,
        },
    },
}


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def reply(request: dict[str, Any], seed: int = 0) -> ChatReply:
    return chat_reply(seed=seed, inference_id="my-chat", request=request, model="gpt-4o")


@pytest.mark.parametrize(
    ("seed", "reply_id", "call_id", "arguments"),
    [
        (0, "chatcmpl-Ao6ohBzhUuskFQIRy0Eo50qdNZ90o", "call_XmaQTaYLGXbiJZ4638z45IQn",
         '{"location":"North Lisa, KS","days":2}'),
        (42, "chatcmpl-U5nvvbegRHOFlm3OaVWXAM6JE9MgD", "call_uSfDHKeKUpsnFMFAyDf9L6lb",
         '{"location":"Hodgesside, VA"}'),
    ],
)  # fmt: skip
def test_golden_tool_call(seed: int, reply_id: str, call_id: str, arguments: str) -> None:
    request = user(
        "What's the weather like in Boston today?", tools=[WEATHER], tool_choice="required"
    )
    result = reply(request, seed)
    assert result.id == reply_id
    assert result.tool_calls == (ToolCall(call_id, "get_current_weather", arguments),)
    assert result.content is None and result.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("request_body", "tool"),
    [
        (user("What's the weather in Boston?", tools=[SEARCH, WEATHER]), "get_current_weather"),
        (user("search the docs for vacation", tools=[WEATHER, SEARCH]), "searchDocs"),
        (user("Tell me a joke", tools=[WEATHER, SEARCH]), None),
        (user("Tell me a joke", tools=[SEARCH, WEATHER], tool_choice="required"), "searchDocs"),
        (user("weather?", tools=[WEATHER], tool_choice="none"), None),
        (
            user(
                "hi",
                tools=[WEATHER, SEARCH],
                tool_choice={"type": "function", "function": {"name": "searchDocs"}},
            ),
            "searchDocs",
        ),
        (user("What's the weather?"), None),
        (
            {
                "messages": [
                    {"role": "user", "content": "weather in Oslo?"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_current_weather", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "tool", "content": "-3 C", "tool_call_id": "call_1"},
                ],
                "tools": [WEATHER],
                "tool_choice": "required",
            },
            None,
        ),
    ],
)
def test_tool_choice_rule(request_body: dict[str, Any], tool: str | None) -> None:
    result = reply(request_body)
    assert [c.name for c in result.tool_calls] == ([tool] if tool else [])
    if tool is None:
        assert result.content and result.finish_reason in ("stop", "length")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**64), st.sampled_from([WEATHER, SEARCH]))
def test_arguments_validate_against_the_tool_schema(seed: int, tool: dict[str, Any]) -> None:
    result = reply(user("please help", tools=[tool], tool_choice="required"), seed)
    (call,) = result.tool_calls
    jsonschema.validate(json.loads(call.arguments), tool["function"]["parameters"])
    assert call.id.startswith("call_") and len(call.id) == 29
    assert result.completion_tokens == count_tokens(call.name) + count_tokens(call.arguments)


def test_tool_without_parameters_gets_an_empty_object() -> None:
    tool = {"type": "function", "function": {"name": "ping"}}
    assert reply(user("ping", tools=[tool])).tool_calls[0].arguments == "{}"


def test_text_reply_uses_the_last_user_message_and_counts_tokens() -> None:
    parts = [
        {"type": "text", "text": "Explain vectors"},
        {"type": "image_url", "image_url": {"url": "data:,"}},
    ]
    result = reply(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": parts},
            ]
        }
    )
    assert result.content is not None and "vectors" in result.content.lower()
    assert result.finish_reason == "stop"
    assert result.completion_tokens == count_tokens(result.content)
    assert result.prompt_tokens == 3 + 3 + 3 + 2  # per-message overhead, words and "."
    assert result.id.startswith("chatcmpl-") and len(result.id) == 38


def test_max_completion_tokens_truncates_with_length() -> None:
    result = reply(user("Write an essay about search", max_completion_tokens=5))
    assert result.content is not None and count_tokens(result.content) == 5
    assert result.finish_reason == "length"


def test_reply_depends_on_the_whole_request() -> None:
    base = reply(user("hello"))
    assert base == reply(user("hello"))
    assert base.id != reply(user("hello", temperature=0.5)).id
    assert base.id != reply(user("hello"), seed=1).id


def keys(obj: dict[str, Any]) -> list[str]:
    return list(obj)


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=80), st.integers(0, 2**64), st.booleans())
def test_stream_chunks_follow_the_es_shape(text: str, seed: int, with_tool: bool) -> None:
    request = user(text, tools=[WEATHER], tool_choice="required") if with_tool else user(text)
    result = reply(request, seed)
    chunks = chat_chunks(result, seed=seed)
    assert chunks == chat_chunks(result, seed=seed)
    *body, finish, usage = chunks
    for chunk in body:
        assert keys(chunk) == ["id", "choices", "model", "object"]
        assert chunk["id"] == result.id and chunk["object"] == "chat.completion.chunk"
        (choice,) = chunk["choices"]
        assert keys(choice) == ["delta", "index"]
    deltas = [c["choices"][0]["delta"] for c in body]
    assert deltas[0]["role"] == "assistant" and all("role" not in d for d in deltas[1:])
    order = ["content", "refusal", "role", "reasoning", "tool_calls"]
    for delta in deltas:
        assert keys(delta) == [k for k in order if k in delta]
    assert finish["choices"] == [{"delta": {}, "finish_reason": result.finish_reason, "index": 0}]
    assert keys(finish["choices"][0]) == ["delta", "finish_reason", "index"]
    assert keys(usage) == ["id", "choices", "model", "object", "usage"] and usage["choices"] == []
    assert usage["usage"] == {
        "completion_tokens": result.completion_tokens,
        "prompt_tokens": result.prompt_tokens,
        "total_tokens": result.completion_tokens + result.prompt_tokens,
    }
    if with_tool:
        calls = [d["tool_calls"][0] for d in deltas]
        assert keys(calls[0]) == ["index", "id", "function", "type"]
        assert keys(calls[0]["function"]) == ["arguments", "name"]
        assert all(keys(c) == ["index", "function", "type"] for c in calls[1:])
        assert "".join(c["function"]["arguments"] for c in calls) == result.tool_calls[0].arguments
    else:
        assert "".join(d["content"] for d in deltas) == result.content


def test_first_chunk_matches_the_contract_example() -> None:
    result = ChatReply("chatcmpl-1", "gpt-4o-2024-08-06", "Elastic", (), "stop", 16, 1)
    first = json.dumps(chat_chunks(result, seed=0)[0], separators=(",", ":"))
    assert first == (
        '{"id":"chatcmpl-1","choices":[{"delta":{"content":"Elastic","role":"assistant"},'
        '"index":0}],"model":"gpt-4o-2024-08-06","object":"chat.completion.chunk"}'
    )


def test_completion_object_shape() -> None:
    text = chat_completion_object(reply(user("hello world")))
    assert keys(text) == ["id", "choices", "model", "object", "usage"]
    assert text["object"] == "chat.completion"
    (choice,) = text["choices"]
    assert keys(choice) == ["message", "finish_reason", "index"]
    assert keys(choice["message"]) == ["content", "role"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    tool = chat_completion_object(reply(user("weather", tools=[WEATHER])))
    message = tool["choices"][0]["message"]
    assert keys(message) == ["role", "tool_calls"]
    assert keys(message["tool_calls"][0]) == ["index", "id", "function", "type"]
    assert tool["choices"][0]["finish_reason"] == "tool_calls"


def test_named_tool_that_was_not_offered() -> None:
    choice = {"type": "function", "function": {"name": "ghost"}}
    (call,) = reply(user("hi", tools=[WEATHER], tool_choice=choice)).tool_calls
    assert (call.name, call.arguments) == ("ghost", "{}")
