"""The providers' routes: OpenAI's, Cohere's and Hugging Face's APIs, as a cluster and their own
clients call them.

The request bodies below are the literal JSON of Elasticsearch's request-entity unit tests
(`OpenAiEmbeddingsRequestEntityTests`, `OpenAiUnifiedChatCompletionRequestEntityTests`,
`CohereV1EmbeddingsRequestTests`, `CohereV2RerankRequestTests`,
`HuggingFaceRerankRequestEntityTests`...), and the answers are read with the expectations of
its response parsers (`OpenAiEmbeddingsResponseEntity`, `OpenAiUnifiedStreamingProcessor`,
`CohereEmbeddingsResponseEntity`, `CohereRankedResponseEntity`,
`HuggingFaceElserResponseEntity`...). The official `openai` client checks the rest.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
import yaml
from elasticsearch import Elasticsearch

from mockinfer import MockInferServer
from tests.server.http import RawResponse, raw_request

#: What ES sends: `XContentType.JSON.mediaType()`, with its charset.
ES_JSON = {"Content-Type": "application/json; charset=UTF-8", "Authorization": "Bearer secret"}
CHAT = [{"role": "user", "content": "Tell me about the harbour lights"}]
BASE_CHAT = {"model": "gpt-4o-mini", "messages": CHAT}


def post(server: MockInferServer, path: str, body: str | bytes) -> RawResponse:
    raw = body.encode() if isinstance(body, str) else body
    return raw_request(server.url, "POST", path, raw, ES_JSON)


def sse_payloads(body: bytes) -> list[str]:
    """The `data` of each event, read as ES's `ServerSentEventParser` reads OpenAI's stream;
    OpenAI's framing has no byte order mark and no event names."""
    assert b"\xef\xbb\xbf" not in body and b"event:" not in body
    assert body.endswith(b"\n\n")
    payloads = []
    for block in body.decode().split("\n\n")[:-1]:
        lines = block.split("\n")
        assert all(line.startswith("data: ") for line in lines), block
        payloads.append("\n".join(line[6:] for line in lines))
    return payloads


@pytest.fixture
def client(server: MockInferServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=0)


# --- OpenAI, as Elasticsearch's `openai` service calls it -------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"input":["abc"],"model":"model","user":"user"}',
        '{"input":["abc"],"model":"model"}',
        '{"input":["abc"],"model":"model","dimensions":100}',
        '{"input":["abc"],"model":"model","dimensions":100,"encoding_format":"base64"}',
        '{"input":["how big"],"model":"text-embedding-3-small","encoding_format":"base64"}',
    ],
)
def test_openai_embeddings_answer_what_elasticsearch_parses(
    server: MockInferServer, body: str
) -> None:
    sent = json.loads(body)
    response = post(server, "/v1/embeddings", body)
    assert response.status == 200, response.body
    text = response.body.decode()
    # The older parsers stop at the first nested object's end: `data` before `usage`, and
    # `embedding` the last key of each item.
    assert text.index('"data"') < text.index('"usage"')
    answer = response.json()
    assert [list(item) for item in answer["data"]] == [["object", "index", "embedding"]]
    embedding = answer["data"][0]["embedding"]
    if sent.get("encoding_format") == "base64":
        packed = base64.b64decode(embedding, validate=True)
        assert len(packed) % 4 == 0
        vector = struct.unpack(f"<{len(packed) // 4}f", packed)
    else:
        vector = embedding
    expected = sent.get("dimensions") or (1536 if sent["model"].startswith("text-") else 384)
    assert len(vector) == expected
    assert answer["model"] == sent["model"] and answer["object"] == "list"
    assert answer["usage"]["prompt_tokens"] == answer["usage"]["total_tokens"] > 0


def test_base64_and_float_answers_carry_the_same_float32_vector(server: MockInferServer) -> None:
    floats = post(server, "/v1/embeddings", '{"input":["abc"],"model":"m","dimensions":16}')
    packed = post(
        server,
        "/v1/embeddings",
        '{"input":["abc"],"model":"m","dimensions":16,"encoding_format":"base64"}',
    )
    decoded = np.frombuffer(base64.b64decode(packed.json()["data"][0]["embedding"]), "<f4")
    assert decoded.tolist() == np.float32(floats.json()["data"][0]["embedding"]).tolist()


STREAMED_CHAT = (
    '{"messages":[{"content":"Hello, world!","role":"user"}],"model":"test-endpoint","n":1,'
    '"stream":true,"stream_options":{"include_usage":true},"user":"a_user"}'
)


def test_openai_chat_stream_is_what_the_unified_streaming_processor_reads(
    server: MockInferServer,
) -> None:
    response = post(server, "/v1/chat/completions", STREAMED_CHAT)
    assert response.status == 200
    assert response.header("Content-Type") == "text/event-stream"
    payloads = sse_payloads(response.body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    text = ""
    for chunk in chunks:
        assert isinstance(chunk["id"], str) and isinstance(chunk["choices"], list)
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "test-endpoint"
        assert "usage" in chunk  # null but present: include_usage asked for it
        for choice in chunk["choices"]:
            assert isinstance(choice["index"], int) and isinstance(choice["delta"], dict)
            # The completion path's processor refuses a null content.
            assert choice["delta"].get("content", "") is not None
            text += choice["delta"].get("content", "")
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "stop"
    # The same request without streaming gives the same text.
    whole = post(
        server,
        "/v1/chat/completions",
        STREAMED_CHAT.replace('"stream":true,', "").replace(
            ',"stream_options":{"include_usage":true}', ""
        ),
    )
    assert whole.json()["choices"][0]["message"]["content"] == text


def test_without_include_usage_a_stream_has_no_usage_chunk(server: MockInferServer) -> None:
    body = {"messages": CHAT, "model": "gpt-4o-mini", "stream": True}
    chunks = [
        json.loads(p)
        for p in sse_payloads(post(server, "/v1/chat/completions", json.dumps(body)).body)[:-1]
    ]
    assert all(chunk["choices"] for chunk in chunks)
    assert all("usage" not in chunk for chunk in chunks)


def test_openai_chat_without_stream_answers_the_completion_object(
    server: MockInferServer,
) -> None:
    body = (
        '{"messages":[{"content":"Hello, world!","role":"user"}],"max_completion_tokens":128,'
        '"model":"gpt-5.6","n":1,"stream":false,"user":"a_user"}'
    )
    answer = post(server, "/v1/chat/completions", body).json()
    message = answer["choices"][0]["message"]
    assert isinstance(message["content"], str) and message["content"]
    assert answer["object"] == "chat.completion" and answer["model"] == "gpt-5.6"
    assert answer["usage"]["completion_tokens"] <= 128


# --- OpenAI, through its own client -------------------------------------------------------------


def test_official_openai_client_embeddings_in_floats_base64_and_tokens(
    client: openai.OpenAI,
) -> None:
    # The client asks for base64 and decodes it; with floats asked for, the same numbers.
    decoded = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["a cat", "a dog"], encoding_format="float"
    )
    # JSON carries each float32's shortest digits: equal once read back as float32.
    assert [np.float32(d.embedding).tolist() for d in decoded.data] == [
        np.float32(d.embedding).tolist() for d in floats.data
    ]
    assert [d.index for d in decoded.data] == [0, 1]
    assert len(decoded.data[0].embedding) == 1536 and decoded.model == "text-embedding-3-small"
    small = client.embeddings.create(model="text-embedding-3-large", input="a cat", dimensions=256)
    assert len(small.data[0].embedding) == 256
    assert abs(float(np.linalg.norm(small.data[0].embedding)) - 1.0) < 1e-5
    tokens = client.embeddings.create(model="text-embedding-3-small", input=[[9906, 1917]])
    assert len(tokens.data) == 1 and tokens.usage.prompt_tokens > 0
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-ratelimit-remaining-requests"] == "9999"
    assert "x-elastic-product" not in raw.headers


def test_official_openai_client_chat_streams_and_tool_calls(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=CHAT,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        else:
            usage = chunk.usage
    assert "".join(pieces) == whole.choices[0].message.content
    assert usage is not None and usage.total_tokens == whole.usage.total_tokens  # type: ignore[union-attr]

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    asked = [{"role": "user", "content": "What is the weather in Paris?"}]
    called = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=asked,
        tools=tools,
        tool_choice="required",  # type: ignore[arg-type]
    )
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert called.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    streamed = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=asked,
        tools=tools,
        tool_choice="required",
        stream=True,  # type: ignore[arg-type]
    )
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""  # type: ignore[index,union-attr]
        for c in streamed
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert arguments == call.function.arguments


@pytest.mark.asyncio
async def test_official_async_openai_client(server: MockInferServer) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=0)
    async with client:
        embedded = await client.embeddings.create(model="text-embedding-3-small", input="a cat")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=CHAT,
            stream=True,  # type: ignore[arg-type]
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        models = await client.models.list()
    assert len(embedded.data[0].embedding) == 1536
    assert text
    assert "text-embedding-3-small" in [m.id for m in models.data]


def test_openai_refusals_are_worded_and_typed_as_openai_words_them(
    client: openai.OpenAI, server: MockInferServer
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=8)
    assert refused.value.body == {
        "message": "This model does not support specifying dimensions.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="m", input="x", extra_body={"colour": "red"})
    assert refused.value.body["message"] == "Unrecognized request argument supplied: colour"  # type: ignore[index]
    for body, message in [
        (b"{not json", "We could not parse the JSON body of your request."),
        (b'{"input":"x"}', "you must provide a model parameter"),
        (b'{"model":"m","input":[]}', "'$.input' is invalid."),
        (b'{"model":"m","input":"x","dimensions":0}', "Invalid 'dimensions': integer below"),
        (b'{"model":"m","messages":[]}', "Unrecognized request argument supplied: messages"),
    ]:
        response = post(server, "/v1/embeddings", body)
        assert response.status == 400
        error = response.json()["error"]
        assert error["message"].startswith(message) and error["type"] == "invalid_request_error"
    response = post(server, "/v1/chat/completions", b'{"model":"m","messages":[]}')
    assert response.json()["error"]["code"] == "empty_array"
    response = post(server, "/v1/chat/completions", b'{"model":"m","messages":[{"role":"x"}]}')
    assert response.json()["error"]["param"] == "messages[0].role"


def test_a_provider_key_is_required_only_when_the_server_has_one() -> None:
    with MockInferServer(provider_api_key="sk-right") as server:
        base = f"{server.url}/v1"
        wrong = openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.embeddings.create(model="m", input="x")
        assert refused.value.body["code"] == "invalid_api_key"  # type: ignore[index]
        right = openai.OpenAI(base_url=base, api_key="sk-right", max_retries=0)
        assert right.embeddings.create(model="m", input="x").data
        anonymous = raw_request(server.url, "POST", "/v2/embed", b"{}", {})
        assert anonymous.status == 401 and anonymous.json() == {"message": "invalid api token"}
        # Elasticsearch's own API is not the provider's: no key asked for there.
        assert raw_request(server.url, "GET", "/").status == 200


# --- Cohere, as Elasticsearch's `cohere` service calls it ---------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "body",
    [
        '{"texts":["abc"],"model":"model","input_type":"search_document","embedding_types":["float"],"truncate":"start"}',
        '{"texts":["abc"],"model":"model","input_type":"search_query","embedding_types":["int8"],"truncate":"none"}',
        '{"texts":["abc"],"model":"model","input_type":"search_query","embedding_types":["binary"],"truncate":"none"}',
    ],
)
def test_cohere_embed_answers_by_type(server: MockInferServer, version: int, body: str) -> None:
    wanted = json.loads(body)["embedding_types"][0]
    response = post(server, f"/v{version}/embed", body)
    assert response.status == 200, response.body
    text = response.body.decode()
    assert text.index('"embeddings"') < text.index('"meta"')
    answer = response.json()
    assert list(answer["embeddings"]) == [wanted]
    (vector,) = answer["embeddings"][wanted]
    if wanted == "float":
        assert len(vector) == 384 and all(isinstance(v, float) for v in vector)
    else:
        assert all(isinstance(v, int) and -128 <= v <= 127 for v in vector)
        assert len(vector) == (384 if wanted == "int8" else 384 // 8)
    assert answer["meta"]["api_version"]["version"] == str(version)


def test_cohere_v1_without_types_answers_a_plain_list_of_floats(server: MockInferServer) -> None:
    answer = post(server, "/v1/embed", '{"texts":["abc"]}').json()
    assert answer["response_type"] == "embeddings_floats"
    assert isinstance(answer["embeddings"], list) and len(answer["embeddings"][0]) == 384


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "body",
    [
        '{"model":"model","query":"query","documents":["abc"],"return_documents":true,"top_n":22,"max_chunks_per_doc":3}',
        '{"model":"model","query":"query","documents":["abc"]}',
        '{"model":"model","query":"query","documents":["abc","def","ghi"],"return_documents":false,"top_n":2}',
        '{"model":"model","query":"test query","documents":["abc","def"],"return_documents":true,"top_n":33}',
    ],
)
def test_cohere_rerank_results_hold_only_the_keys_elasticsearch_accepts(
    server: MockInferServer, version: int, body: str
) -> None:
    sent = json.loads(body)
    response = post(server, f"/v{version}/rerank", body)
    assert response.status == 200, response.body
    text = response.body.decode()
    assert text.index('"results"') < text.index('"meta"')
    results = response.json()["results"]
    allowed = {"index", "relevance_score", "document"}
    assert all(set(r) <= allowed for r in results)
    assert len(results) == min(len(sent["documents"]), sent.get("top_n", 99))
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    for result in results:
        if sent.get("return_documents"):
            assert result["document"] == {"text": sent["documents"][result["index"]]}
        else:
            assert "document" not in result


def test_cohere_refusals_carry_a_message(server: MockInferServer) -> None:
    texts = json.dumps({"texts": ["x"] * 97, "model": "m", "input_type": "search_query"})
    response = post(server, "/v2/embed", texts)
    assert response.status == 400
    assert response.json() == {
        "message": "invalid request: total number of texts must be at most 96 - received 97"
    }
    assert post(server, "/v2/embed", '{"texts":["x"]}').json() == {
        "message": "invalid request: model is required"
    }
    assert post(server, "/v2/rerank", b"[1]").status == 400


# --- Hugging Face, as Elasticsearch's `hugging_face` and `hugging_face_elser` call it ----------


def test_hugging_face_embed_elser_and_rerank(server: MockInferServer) -> None:
    dense = post(server, "/hf/BAAI/bge-small-en-v1.5/embed", '{"inputs":["abc","def"]}').json()
    assert len(dense) == 2 and all(len(v) == 384 for v in dense)
    sparse = post(server, "/hf/elser-v2/elser", '{"inputs":["the harbour lights"]}').json()
    assert len(sparse) == 1 and all(isinstance(w, float) for w in sparse[0].values())
    assert "harbour" in sparse[0]
    ranked = post(
        server,
        "/hf/BAAI/bge-reranker-base/rerank",
        '{"texts":["texts","query words"],"query":"query","return_text":true,"top_n":8}',
    ).json()
    assert {r["index"] for r in ranked} == {0, 1}
    assert all(set(r) == {"index", "score", "text"} for r in ranked)
    plain = post(server, "/hf/BAAI/bge-reranker-base/rerank", '{"texts":["texts"],"query":"query"}')
    assert [set(r) for r in plain.json()] == [{"index", "score"}]
    refused = post(server, "/hf/m/embed", '{"inputs":[]}')
    assert refused.status == 422
    assert refused.json() == {"error": "`inputs` cannot be empty", "error_type": "Validation"}


# --- one model, one vector, whichever door ------------------------------------------------------


def test_a_text_has_the_same_vector_through_the_provider_and_through_inference(
    server: MockInferServer, es: Elasticsearch
) -> None:
    for task, inference_id, service, settings in [
        (
            "text_embedding",
            "oa",
            "openai",
            {"model_id": "text-embedding-3-small", "dimensions": 64},
        ),
        ("text_embedding", "co", "cohere", {"model_id": "embed-english-v3.0"}),
        (
            "text_embedding",
            "hf",
            "hugging_face",
            {"url": "http://mockinfer:9200/hf/BAAI/bge/embed"},
        ),
        ("rerank", "co-rerank", "cohere", {"model_id": "rerank-v3.5"}),
    ]:
        es.inference.put(
            task_type=task,  # type: ignore[arg-type]
            inference_id=inference_id,
            inference_config={"service": service, "service_settings": {"api_key": "k", **settings}},
        )
    text = "the harbour lights at night"

    def inference(endpoint: str, **extra: Any) -> list[float]:
        answer = es.inference.text_embedding(inference_id=endpoint, input=text, **extra)
        return [float(v) for v in answer["text_embedding"][0]["embedding"]]

    openai_route = post(
        server,
        "/v1/embeddings",
        json.dumps({"input": [text], "model": "text-embedding-3-small", "dimensions": 64}),
    ).json()["data"][0]["embedding"]
    assert np.float32(openai_route).tolist() == np.float32(inference("oa")).tolist()
    cohere_route = post(
        server,
        "/v2/embed",
        json.dumps(
            {
                "texts": [text],
                "model": "embed-english-v3.0",
                "input_type": "search_document",
                "embedding_types": ["float"],
            }
        ),
    ).json()["embeddings"]["float"][0]
    assert cohere_route == inference("co", input_type="ingest")
    hf_route = post(server, "/hf/BAAI/bge/embed", json.dumps({"inputs": [text]})).json()[0]
    assert hf_route == inference("hf")
    ranked = post(
        server,
        "/v2/rerank",
        json.dumps({"model": "rerank-v3.5", "query": "lights", "documents": [text, "a dog"]}),
    ).json()["results"]
    through_es = es.inference.rerank(
        inference_id="co-rerank", query="lights", input=[text, "a dog"]
    )
    assert [(r["index"], r["relevance_score"]) for r in ranked] == [
        (r["index"], r["relevance_score"]) for r in through_es["rerank"]
    ]


# --- faults and stubs on the providers' routes --------------------------------------------------


def test_a_rate_limit_fault_is_openais_429_and_the_client_retries_through_it(
    server: MockInferServer,
) -> None:
    server.fault(path="/v1/embeddings", status=429, times=2, retry_after=0)
    retrying = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=2)
    assert retrying.embeddings.create(model="text-embedding-3-small", input="x").data
    assert [c.status for c in server.calls] == [429, 429, 200]
    assert [c.inference_id for c in server.calls] == ["text-embedding-3-small"] * 3

    server.fault(inference_id="text-embedding-3-small", status=429, retry_after=7)
    response = post(server, "/v1/embeddings", '{"input":["abc"],"model":"text-embedding-3-small"}')
    assert response.status == 429
    assert response.json() == {
        "error": {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert response.header("Retry-After") == "7"
    # What ES quotes in its own 429 message.
    assert response.header("x-ratelimit-remaining-requests") == "0"
    assert response.header("x-ratelimit-limit-tokens") == "10000000"


def test_a_fault_cuts_an_openai_stream_with_openais_error_event(
    server: MockInferServer, client: openai.OpenAI
) -> None:
    server.fault(path="/v1/chat/completions", error_after=2)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=True)  # type: ignore[arg-type]
    seen = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    assert broken.value.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    (call,) = server.calls
    assert call.streamed and call.ending == "error"
    # On the wire: an `error` event, which ES's streaming processor reads by its name.
    response = post(server, "/v1/chat/completions", json.dumps({**BASE_CHAT, "stream": True}))
    assert response.body.endswith(
        b'\n\nevent: error\ndata: {"error":{"message":'
        b'"The server had an error while processing your request. '
        b'Sorry about that!","type":"server_error",'
        b'"param":null,"code":null}}\n\n'
    )


def test_stubs_answer_provider_routes_by_model(
    server: MockInferServer, client: openai.OpenAI
) -> None:
    server.stub(inference_id="text-embedding-3-small", match="a cat", result=[0.5] * 1536)
    server.stub(inference_id="gpt-4o-mini", text="Stubbed reply.")
    answer = client.embeddings.create(
        model="text-embedding-3-small", input=["a cat", "a dog"], encoding_format="float"
    )
    assert answer.data[0].embedding == [0.5] * 1536
    assert answer.data[1].embedding != [0.5] * 1536
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Stubbed reply."
    streamed = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=True)  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == (
        "Stubbed reply."
    )
    assert [c.source for c in server.calls] == ["stub", "stub", "stub"]


# --- the README's recipe ------------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def _recipe() -> list[tuple[str, dict[str, Any]]]:
    """The `PUT _inference/...` requests of the README's recipe for a real cluster."""
    text = README.read_text(encoding="utf-8")
    block = text.split("Then point endpoints at", 1)[1].split("```", 2)[1]
    requests = []
    for chunk in block.split("PUT ")[1:]:
        path, _, body = chunk.partition("\n")
        if path.startswith("_inference/"):
            requests.append((path.strip(), json.loads(body)))
    return requests


def test_the_readme_compose_file_runs_mockinfer_next_to_a_cluster() -> None:
    text = README.read_text(encoding="utf-8")
    compose = yaml.safe_load(
        text.split("```yaml\nservices:", 1)[1].split("```", 1)[0].join(["services:", ""])
    )
    command = compose["services"]["mockinfer"]["command"]
    assert command.endswith('mockinfer serve --host 0.0.0.0 --port 9200"')
    environment = compose["services"]["elasticsearch"]["environment"]
    assert environment["xpack.license.self_generated.type"] == "trial"


def test_the_readme_recipe_creates_every_endpoint_it_shows(es: Elasticsearch) -> None:
    recipe = _recipe()
    services = {body["service"] for _, body in recipe}
    assert services == {"openai", "cohere", "hugging_face", "custom"}
    tasks = {path.split("/")[1] for path, _ in recipe}
    assert {"text_embedding", "sparse_embedding", "rerank", "chat_completion"} <= tasks
    for path, body in recipe:
        _, task, inference_id = path.split("/")
        created = es.inference.put(
            task_type=task,  # type: ignore[arg-type]
            inference_id=inference_id,
            inference_config=body,
        )
        assert created["service"] == body["service"], path


def _extract(document: Any, path: str) -> Any:
    """ES's `MapPathExtractor` subset: `$.a.b`, and `[*]` mapping the rest of the path over an
    array's items; the root is an object."""
    assert isinstance(document, dict) and path.startswith("$.")

    def walk(value: Any, parts: list[str]) -> Any:
        if not parts:
            return value
        if parts[0] == "[*]":
            return [walk(item, parts[1:]) for item in value]
        return walk(value[parts[0]], parts[1:])

    return walk(document, path[2:].replace("[*]", ".[*]").split("."))


def test_the_readme_custom_endpoints_parse_what_the_routes_answer(server: MockInferServer) -> None:
    recipe = {path.rsplit("/", 1)[1]: body for path, body in _recipe()}
    inputs = ["the harbour lights", "a quiet night"]
    for name, substitutions in [
        ("custom-embeddings", {"${input}": json.dumps(inputs)}),
        ("custom-rerank", {"${input}": json.dumps(inputs), "${query}": json.dumps("lights")}),
    ]:
        settings = recipe[name]["service_settings"]
        body = settings["request"]
        for placeholder, value in substitutions.items():
            body = body.replace(placeholder, value)
        path = settings["url"].removeprefix("http://mockinfer:9200")
        answer = post(server, path, body).json()
        parser = settings["response"]["json_parser"]
        if name == "custom-embeddings":
            vectors = _extract(answer, parser["text_embeddings"])
            assert [len(v) for v in vectors] == [1536, 1536]
        else:
            indexes = _extract(answer, parser["reranked_index"])
            scores = _extract(answer, parser["relevance_score"])
            assert sorted(indexes) == [0, 1] and len(scores) == 2


def test_hugging_face_chat_serves_the_model_its_path_names(server: MockInferServer) -> None:
    # `HuggingFaceUnifiedChatCompletionRequestEntityTests`: `model` only when the endpoint has one.
    body = '{"messages":[{"content":"Hello, world!","role":"user"}],"n":1,"stream":false}'
    answer = post(server, "/hf/HuggingFaceH4/zephyr-7b-beta/v1/chat/completions", body).json()
    assert answer["model"] == "HuggingFaceH4/zephyr-7b-beta"
    assert isinstance(answer["choices"][0]["message"]["content"], str)
    assert post(server, "/v1/chat/completions", body).json()["error"]["message"] == (
        "you must provide a model parameter"
    )


# --- hostile and edge requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/embeddings", b'{"model":"\\ud800","input":"x"}', 400),
        ("/v1/embeddings", b'{"model":"m","input":"x","\\udfff":1}', 400),
        ("/v1/embeddings", b'{"model":"m","input":[1.5]}', 400),
        ("/v1/embeddings", b'{"model":["m"],"input":"x"}', 400),
        ("/v1/embeddings", b'{"model":"m","input":"x","dimensions":true}', 400),
        ("/v1/embeddings", b"[]", 400),
        (
            "/v1/chat/completions",
            b'{"model":"\\ud800","messages":[{"role":"user","content":"x"}],"stream":true}',
            400,
        ),
        ("/v1/chat/completions", b'{"model":"m","messages":[1,{"role":"user"}]}', 400),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":{"a":1}}]}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":"x"}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-5}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"n":true}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":NaN}',
            400,
        ),
        (
            "/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":{}}}]}',
            400,
        ),
        ("/v1/embed", b'{"texts":["a"],"input_type":[]}', 400),
        (
            "/v2/embed",
            b'{"texts":["a"],"model":"m","input_type":"search_query","embedding_types":[{}]}',
            400,
        ),
        ("/v2/embed", b'{"texts":["\\ud800"],"model":"m","input_type":"search_query"}', 400),
        ("/v2/rerank", b'{"model":"m","query":"q","documents":[{"text":1}]}', 400),
        ("/hf/m/embed", b'{"inputs":[{"a":1}]}', 422),
        ("/hf/m/rerank", b'{"query":"q","texts":"abc"}', 422),
        (
            "/_inference/rerank/.rerank-v1-elasticsearch",
            b'{"query":"q","input":["\\ud800"],"return_documents":true}',
            400,
        ),
    ],
)
def test_hostile_bodies_get_the_providers_refusal_never_a_500(
    server: MockInferServer, path: str, body: bytes, status: int
) -> None:
    response = post(server, path, body)
    assert response.status == status, response.body
    assert b"mockinfer failed" not in response.body and b"Error(" not in response.body
    assert not server.take_failures()


def test_batches_past_the_providers_limits_are_refused(server: MockInferServer) -> None:
    hf = post(server, "/hf/m/embed", json.dumps({"inputs": ["d"] * 2049}))
    assert hf.status == 413
    assert hf.json() == {
        "error": "batch size 2049 > maximum allowed batch size 2048",
        "error_type": "Validation",
    }
    rerank = post(
        server, "/v2/rerank", json.dumps({"model": "m", "query": "q", "documents": ["d"] * 1001})
    )
    assert rerank.status == 400
    assert rerank.json()["message"].startswith("invalid request: too many documents")
    tokens = post(server, "/v1/embeddings", json.dumps({"model": "m", "input": list(range(3000))}))
    assert tokens.status == 200 and tokens.json()["usage"]["prompt_tokens"] == 3000


def test_stubbed_floats_are_quantised_for_cohere_integer_types(server: MockInferServer) -> None:
    server.stub(inference_id="embed-english-v3.0", match="a cat", result=[0.5, -0.25] * 512)
    for kind, expected in [
        ("int8", [64, -32] * 512),
        ("uint8", [192, 96] * 512),
        ("binary", [-86] * 128),  # 0b10101010
        ("ubinary", [170] * 128),
    ]:
        body = {
            "texts": ["a cat"],
            "model": "embed-english-v3.0",
            "input_type": "search_document",
            "embedding_types": [kind],
        }
        answer = post(server, "/v2/embed", json.dumps(body)).json()
        assert answer["embeddings"][kind] == [expected], kind


def test_every_openai_route_refuses_a_wrong_key_in_openais_words() -> None:
    with MockInferServer(provider_api_key="sk-right") as server:
        for method, path in [("GET", "/v1/models"), ("POST", "/v1/embeddings")]:
            missing = raw_request(server.url, method, path, b"{}", {})
            assert missing.status == 401
            assert missing.json()["error"]["message"].startswith("You didn't provide an API key")
        non_ascii = raw_request(
            server.url, "GET", "/v1/models", None, {"Authorization": "Bearer s\u00e9cret"}
        )
        assert non_ascii.status == 401
        assert non_ascii.json()["error"]["code"] == "invalid_api_key"
        assert not server.take_failures()


def test_identical_requests_sent_in_any_order_get_the_same_ids(server: MockInferServer) -> None:
    first = [post(server, "/v2/embed", json.dumps(b)) for b in _COHERE_BODIES]
    server.reset()
    second = [post(server, "/v2/embed", json.dumps(b)) for b in reversed(_COHERE_BODIES)]
    # The same id for each request, whichever came first; repeats are numbered among themselves.
    assert first[1].json()["id"] == second[1].json()["id"]
    assert sorted(r.json()["id"] for r in first) == sorted(r.json()["id"] for r in second)
    assert len({r.json()["id"] for r in first}) == len(_COHERE_BODIES)


_COHERE_BODIES = [
    {"texts": [t], "model": "m", "input_type": "search_query"} for t in ("a", "b", "a")
]


def test_a_stream_that_fails_after_its_head_is_cut_not_followed_by_a_second_response(
    server: MockInferServer,
) -> None:
    # A chunk no JSON encoder can write (a lone surrogate, given from Python).
    server.stub(
        inference_id="gpt-4o-mini", chunks=[{"choices": [{"delta": {"content": "\ud800"}}]}]
    )
    body = json.dumps({**BASE_CHAT, "stream": True}).encode()
    with pytest.raises(Exception) as cut:
        post(server, "/v1/chat/completions", body)
    assert "HTTP/1.1 500" not in str(cut.value)
    (failure,) = server.take_failures()
    assert "surrogates not allowed" in str(failure)
    (call,) = server.calls
    assert call.ending == "disconnected"


def test_a_streamed_openai_request_refused_before_its_stream_gets_a_json_error(
    server: MockInferServer, client: openai.OpenAI
) -> None:
    server.fault(path="/v1/chat/completions", status=503, times=1)
    server.stub(inference_id="gpt-4o-mini", error=(400, "invalid_request_error", "Stub says no"))
    for expected in (openai.InternalServerError, openai.BadRequestError):
        with pytest.raises(expected) as refused:
            client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=True)  # type: ignore[arg-type]
        assert refused.value.response.headers["content-type"] == "application/json"
        assert refused.value.body["type"] in ("server_error", "invalid_request_error")  # type: ignore[index]
    assert [c.source for c in server.calls] == ["fault", "stub"]
