"""Every kind of response mockinfer serves, validated against the official OpenAPI schemas.

Bodies are fetched with the official client from a real server and checked against the 200
response schema of the operation the client called (`$ref`s resolved inside the OpenAPI file,
`tests/server/openapi/inference-openapi.json`, a copy kept in the repository). Only schemas are used,
never the spec's examples: `RerankResponseExample1` shows numbers as strings and the
`chat_completion_unified` example wraps chunks, both unlike what a real cluster sends. Where
the file has no schema (the error envelope, non-streamed chat completion, OpenAI-style chat
errors) the shape is the one a cluster writes, and the schema is written here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from elasticsearch import ApiError, Elasticsearch
from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

#: The official OpenAPI description of the inference paths, cut from Elastic's specification.
SPEC_PATH = Path(__file__).resolve().parent / "openapi" / "inference-openapi.json"
SPEC_URI = "urn:mockinfer:inference-openapi"

E5 = ".multilingual-e5-small-elasticsearch"
ELSER = ".elser-2-elasticsearch"
RERANK = ".rerank-v1-elasticsearch"
DOCS = ["the quick brown fox", "a lazy dog sleeps", "foxes are quick and brown", "tax law"]
MESSAGES = [{"role": "user", "content": "hello world"}]

# `es.inference.embedding` is a technical preview; the client says so on every call.
pytestmark = pytest.mark.filterwarnings(
    "ignore::elasticsearch.exceptions.GeneralAvailabilityWarning"
)


def _pointer(*segments: str) -> str:
    """A URI fragment for a JSON pointer: `~` and `/` escaped, then percent-quoted."""
    escaped = (s.replace("~", "~0").replace("/", "~1") for s in segments)
    return "/" + "/".join(quote(s, safe="") for s in escaped)


class OpenApi:
    """The OpenAPI file as a schema registry: one validator per operation's 200 response."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        version = str(document["openapi"])
        # OpenAPI 3.0 schema objects are an extended subset of JSON Schema draft 4;
        # 3.1 uses JSON Schema 2020-12 as is.
        if version.startswith("3.0"):
            self.validator_class: type[Validator] = Draft4Validator
            dialect = DRAFT4
        elif version.startswith("3.1"):
            self.validator_class = Draft202012Validator
            dialect = DRAFT202012
        else:
            raise ValueError(f"unsupported OpenAPI version {version}")
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, dialect.create_resource(dict(document))
        )

    @cached_property
    def operations(self) -> dict[str, tuple[str, str]]:
        """operationId -> (path, method)."""
        return {
            op["operationId"]: (path, method)
            for path, item in self.document["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow `$ref`s until a schema with content."""
        resolver = self.registry.resolver(base_uri=SPEC_URI)
        while "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            schema, resolver = resolved.contents, resolved.resolver
        return schema

    def response_schema(self, operation_id: str) -> dict[str, str]:
        """A `$ref` to the JSON schema of the operation's 200 response."""
        path, method = self.operations[operation_id]
        response = self.document["paths"][path][method]["responses"]["200"]
        location = _pointer("paths", path, method, "responses", "200")
        if "$ref" in response:
            ref = response["$ref"]
            assert ref.startswith("#/components/responses/"), ref
            location = ref[1:]
            response = self.resolve(response)
        assert "schema" in response["content"]["application/json"], operation_id
        return {"$ref": f"{SPEC_URI}#{location}{_pointer('content', 'application/json', 'schema')}"}

    def validator(self, operation_id: str) -> Validator:
        return self.validator_class(self.response_schema(operation_id), registry=self.registry)


@pytest.fixture(scope="module")
def openapi() -> OpenApi:
    return OpenApi(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def assert_valid(validator: Validator, body: Any) -> None:
    """Fail with every violation, each at its JSON path."""
    errors = sorted(validator.iter_errors(body), key=lambda e: e.json_path)
    report = "\n".join(f"  {e.json_path}: {e.message}" for e in errors)
    assert not errors, f"{len(errors)} schema violation(s):\n{report}\nbody: {body!r:.2000}"


# --- Hand-written schemas (JSON Schema 2020-12) for what the OpenAPI file leaves out ---------

#: The specification's `_types/Base.ts` ErrorResponseBase and `_types/Errors.ts` ErrorCause.
#: A cluster always writes `root_cause` at the top; nested causes may omit it.
ERROR_RESPONSE = {
    "$defs": {
        "cause": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "minLength": 1},
                "reason": {"type": ["string", "null"]},
                "stack_trace": {"type": "string"},
                "caused_by": {"$ref": "#/$defs/cause"},
                "root_cause": {"type": "array", "items": {"$ref": "#/$defs/cause"}},
                "suppressed": {"type": "array", "items": {"$ref": "#/$defs/cause"}},
            },
            "required": ["type", "reason"],
        }
    },
    "type": "object",
    "properties": {
        "error": {
            "allOf": [
                {"$ref": "#/$defs/cause"},
                {"required": ["root_cause"], "properties": {"root_cause": {"minItems": 1}}},
            ]
        },
        "status": {"type": "integer"},
    },
    "required": ["error", "status"],
    "additionalProperties": False,
}

#: Contract 4.3: chat paths answer `{"error": {code?, message, param?, type}}`, no `status`.
OPENAI_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "minLength": 1},
                "param": {"type": ["string", "null"]},
                "type": {"type": "string", "minLength": 1},
            },
            "required": ["message", "type"],
            "additionalProperties": False,
        }
    },
    "required": ["error"],
    "additionalProperties": False,
}

_INT = {"type": "integer", "minimum": 0}
#: Contract 2.8 (ES `200_chat_completion_non_streaming.yml`): an OpenAI `chat.completion`.
CHAT_COMPLETION = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "object": {"const": "chat.completion"},
        "model": {"type": "string", "minLength": 1},
        "choices": {
            "type": "array",
            "minItems": 1,
            "prefixItems": [{"properties": {"index": {"const": 0}}}],
            "items": {
                "type": "object",
                "properties": {
                    "index": _INT,
                    "finish_reason": {"enum": ["stop", "length", "tool_calls"]},
                    "message": {
                        "type": "object",
                        "properties": {
                            "role": {"const": "assistant"},
                            "content": {"type": ["string", "null"]},
                        },
                        "required": ["role"],
                    },
                },
                "required": ["index", "message", "finish_reason"],
            },
        },
        "usage": {
            "type": "object",
            "properties": {"completion_tokens": _INT, "prompt_tokens": _INT, "total_tokens": _INT},
            "required": ["completion_tokens", "prompt_tokens", "total_tokens"],
        },
    },
    "required": ["id", "object", "model", "choices", "usage"],
}


def _validator(schema: Mapping[str, Any]) -> Validator:
    return Draft202012Validator(schema)


# --- Calls ----------------------------------------------------------------------------------


def _put(
    es: Elasticsearch,
    inference_id: str,
    task_type: str,
    service: str,
    service_settings: Mapping[str, Any],
    **config: Any,
) -> Any:
    return es.inference.put(
        inference_id=inference_id,
        task_type=task_type,
        inference_config={"service": service, "service_settings": service_settings, **config},
    ).body


def _cohere(es: Elasticsearch, embedding_type: str) -> str:
    settings = {"api_key": "k", "model_id": "embed-english-v3.0", "embedding_type": embedding_type}
    _put(es, f"cohere-{embedding_type}", "text_embedding", "cohere", {**settings, "dimensions": 64})
    return f"cohere-{embedding_type}"


def _jina(es: Elasticsearch, embedding_type: str) -> str:
    settings = {"api_key": "k", "model_id": "jina-clip-v2", "multimodal_model": True}
    _put(es, "jina", "embedding", "jinaai", {**settings, "embedding_type": embedding_type})
    return "jina"


def _openai(es: Elasticsearch, task_type: str) -> str:
    _put(es, f"openai-{task_type}", task_type, "openai", {"api_key": "k", "model_id": "gpt-4o"})
    return f"openai-{task_type}"


def _region_policy(es: Elasticsearch) -> Any:
    return es.inference.put_region_policy(region_policy={"allowed_geos": ["us", "eu"]}).body


def _get_region_policy(es: Elasticsearch) -> Any:
    _region_policy(es)
    return es.inference.get_region_policy().body


def _delete_region_policy(es: Elasticsearch) -> Any:
    _region_policy(es)
    return es.inference.delete_region_policy().body


def _get_created(es: Elasticsearch) -> Any:
    return es.inference.get(inference_id=_openai(es, "completion")).body


def _multimodal(es: Elasticsearch, inference_id: str) -> Any:
    image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    inputs = [
        {"content": {"type": "text", "format": "text", "value": "a red fox"}},
        {"content": {"type": "image", "format": "base64", "value": image}},
    ]
    return es.inference.embedding(inference_id=inference_id, body={"input": inputs}).body


# --- Checks beyond the schema (the spec leaves numbers and counts open) ---------------------


def _dense(count: int, length: int, *, integers: bool = False) -> Callable[[Any], None]:
    """One vector per input, each `length` long; byte and bit vectors hold int8 values."""

    def check(body: Any) -> None:
        (vectors,) = body.values()
        assert len(vectors) == count
        for item in vectors:
            assert len(item["embedding"]) == length
            if integers:
                assert all(type(v) is int and -128 <= v <= 127 for v in item["embedding"])

    return check


def _ranked(*, with_text: bool, count: int = len(DOCS)) -> Callable[[Any], None]:
    """Sorted by score, descending; integer indexes; `text` exactly when documents return."""

    def check(body: Any) -> None:
        ranked = body["rerank"]
        assert len(ranked) == count
        scores = [r["relevance_score"] for r in ranked]
        assert scores == sorted(scores, reverse=True)
        assert all(type(r["index"]) is int for r in ranked)
        if with_text:
            assert [r["text"] for r in ranked] == [DOCS[r["index"]] for r in ranked]
        else:
            assert all("text" not in r for r in ranked)

    return check


def _endpoint(inference_id: str, task_type: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert (body["inference_id"], body["task_type"]) == (inference_id, task_type)
        assert "api_key" not in body["service_settings"]

    return check


def _chat(body: Any) -> None:
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["choices"][0]["message"]["content"]


@dataclass(frozen=True)
class Case:
    """One kind of response: how to get it, which schema it answers to, what else must hold."""

    id: str
    call: Callable[[Elasticsearch], Any]
    operation: str = ""  # operationId in the OpenAPI file; "" for `schema`
    schema: Mapping[str, Any] | None = None
    variant: str | None = None  # the one key a variants container must hold
    check: Callable[[Any], None] | None = None


CASES = [
    Case("info", lambda es: es.info().body, "info"),
    Case(
        "text_embedding-float",
        lambda es: es.inference.text_embedding(inference_id=E5, input=DOCS[:2]).body,
        "inference-text-embedding",
        variant="text_embedding",
        check=_dense(2, 384),
    ),
    Case(
        "text_embedding-byte",
        lambda es: es.inference.text_embedding(inference_id=_cohere(es, "byte"), input="x").body,
        "inference-text-embedding",
        variant="text_embedding_bytes",
        check=_dense(1, 64, integers=True),
    ),
    Case(
        "text_embedding-bit",
        lambda es: es.inference.text_embedding(inference_id=_cohere(es, "bit"), input=DOCS).body,
        "inference-text-embedding",
        variant="text_embedding_bits",
        check=_dense(len(DOCS), 64 // 8, integers=True),
    ),
    Case(
        "sparse_embedding",
        lambda es: es.inference.sparse_embedding(inference_id=ELSER, input=DOCS[:2]).body,
        "inference-sparse-embedding",
        variant="sparse_embedding",
    ),
    Case(
        "rerank-with-documents",
        lambda es: (
            es.inference.rerank(
                inference_id=RERANK, query="quick fox", input=DOCS, return_documents=True
            ).body
        ),
        "inference-rerank",
        variant="rerank",
        check=_ranked(with_text=True),
    ),
    Case(
        "rerank-without-documents",
        lambda es: (
            es.inference.rerank(
                inference_id=RERANK, query="quick fox", input=DOCS, return_documents=False, top_n=2
            ).body
        ),
        "inference-rerank",
        variant="rerank",
        check=_ranked(with_text=False, count=2),
    ),
    Case(
        "completion",
        lambda es: (
            es.inference.completion(
                inference_id=_openai(es, "completion"), input="What is Elastic?"
            ).body
        ),
        "inference-completion",
        variant="completion",
    ),
    Case(
        "embedding-float",
        lambda es: (
            es.inference.embedding(
                inference_id=_openai(es, "embedding"), body={"input": ["a", "b"]}
            ).body
        ),
        "inference-embedding",
        variant="embeddings",
    ),
    Case(
        "embedding-multimodal-byte",
        lambda es: _multimodal(es, _jina(es, "byte")),
        "inference-embedding",
        variant="embeddings_bytes",
        check=_dense(2, 1024, integers=True),
    ),
    Case(
        "embedding-bit",
        lambda es: es.inference.embedding(inference_id=_jina(es, "bit"), body={"input": "a"}).body,
        "inference-embedding",
        variant="embeddings_bits",
        check=_dense(1, 1024 // 8, integers=True),
    ),
    Case(
        "inference-by-id",
        lambda es: es.inference.inference(inference_id=ELSER, input="hello").body,
        "inference-inference",
        variant="sparse_embedding",
    ),
    Case(
        "inference-by-task-rerank",
        lambda es: (
            es.inference.inference(
                task_type="rerank", inference_id=RERANK, query="fox", input=DOCS
            ).body
        ),
        "inference-inference-1",
        variant="rerank",
    ),
    Case(
        "inference-by-task-bytes",
        lambda es: (
            es.inference.inference(
                task_type="text_embedding", inference_id=_cohere(es, "byte"), input="x"
            ).body
        ),
        "inference-inference-1",
        variant="text_embedding_bytes",
    ),
    Case(
        "inference-completion",
        lambda es: es.inference.inference(inference_id=_openai(es, "completion"), input="hi").body,
        "inference-inference",
        variant="completion",
    ),
    Case(
        "put-task-in-body",
        lambda es: (
            es.inference.put(
                inference_id="elser-body",
                inference_config={
                    "task_type": "sparse_embedding",
                    "service": "elser",
                    "service_settings": {"num_allocations": 1, "num_threads": 1},
                },
            ).body
        ),
        "inference-put",
        check=_endpoint("elser-body", "sparse_embedding"),
    ),
    Case(
        "put-task-in-path",
        lambda es: _put(
            es, "oa-emb", "text_embedding", "openai", {"api_key": "k", "model_id": "m"}
        ),
        "inference-put-1",
        check=_endpoint("oa-emb", "text_embedding"),
    ),
    Case(
        "put_openai",
        lambda es: (
            es.inference.put_openai(
                task_type="chat_completion",
                openai_inference_id="oa-chat",
                service="openai",
                service_settings={"api_key": "k", "model_id": "gpt-4o"},
            ).body
        ),
        "inference-put-openai",
        check=_endpoint("oa-chat", "chat_completion"),
    ),
    Case(
        "put_cohere",
        lambda es: (
            es.inference.put_cohere(
                task_type="rerank",
                cohere_inference_id="co-rerank",
                service="cohere",
                service_settings={"api_key": "k", "model_id": "rerank-english-v3.0"},
                task_settings={"top_n": 10, "return_documents": True},
            ).body
        ),
        "inference-put-cohere",
        check=_endpoint("co-rerank", "rerank"),
    ),
    Case(
        "put_jinaai",
        lambda es: (
            es.inference.put_jinaai(
                task_type="embedding",
                jinaai_inference_id="jina-put",
                service="jinaai",
                service_settings={"api_key": "k", "model_id": "jina-clip-v2"},
            ).body
        ),
        "inference-put-jinaai",
        check=_endpoint("jina-put", "embedding"),
    ),
    Case(
        "put_elasticsearch",
        lambda es: (
            es.inference.put_elasticsearch(
                task_type="sparse_embedding",
                elasticsearch_inference_id="my-elser",
                service="elasticsearch",
                service_settings={
                    "model_id": ".elser_model_2",
                    "num_threads": 1,
                    "num_allocations": 1,
                },
            ).body
        ),
        "inference-put-elasticsearch",
        check=_endpoint("my-elser", "sparse_embedding"),
    ),
    Case("get-all", lambda es: es.inference.get().body, "inference-get"),
    Case("get-by-id", lambda es: es.inference.get(inference_id=E5).body, "inference-get-1"),
    Case(
        "get-by-task-and-id",
        lambda es: es.inference.get(task_type="rerank", inference_id=RERANK).body,
        "inference-get-2",
    ),
    Case(
        "get-task-all",
        lambda es: es.inference.get(task_type="completion", inference_id="_all").body,
        "inference-get-3",
    ),
    Case(
        "get-created",
        _get_created,
        "inference-get-1",
        check=lambda body: _endpoint("openai-completion", "completion")(body["endpoints"][0]),
    ),
    Case(
        "update-by-id",
        lambda es: (
            es.inference.update(
                inference_id=_openai(es, "completion"),
                inference_config={"task_settings": {"user": "me"}},
            ).body
        ),
        "inference-update",
        check=_endpoint("openai-completion", "completion"),
    ),
    Case(
        "update-by-task",
        lambda es: (
            es.inference.update(
                task_type="text_embedding",
                inference_id=_cohere(es, "byte"),
                inference_config={"service_settings": {"api_key": "new"}},
            ).body
        ),
        "inference-update-1",
        check=_endpoint("cohere-byte", "text_embedding"),
    ),
    Case(
        "delete-by-id",
        lambda es: es.inference.delete(inference_id=_openai(es, "completion")).body,
        "inference-delete",
    ),
    Case(
        "delete-by-task-dry-run",
        lambda es: (
            es.inference.delete(
                task_type="completion", inference_id=_openai(es, "completion"), dry_run=True
            ).body
        ),
        "inference-delete-1",
    ),
    Case("put-region-policy", _region_policy, "inference-put-region-policy"),
    Case(
        "get-region-policy",
        _get_region_policy,
        "inference-get-region-policy",
    ),
    Case(
        "delete-region-policy",
        _delete_region_policy,
        "inference-delete-region-policy",
    ),
    Case(
        "chat_completion-non-streaming",
        lambda es: (
            es.inference.inference(
                task_type="chat_completion",
                inference_id=_openai(es, "chat_completion"),
                body={"messages": MESSAGES},
            ).body
        ),
        schema=CHAT_COMPLETION,
        check=_chat,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_response_matches_schema(case: Case, es: Elasticsearch, openapi: OpenApi) -> None:
    body = case.call(es)
    if case.schema is not None:
        assert_valid(_validator(case.schema), body)
    else:
        assert_valid(openapi.validator(case.operation), body)
        schema = openapi.resolve(openapi.response_schema(case.operation))
        if schema.get("maxProperties") == 1:  # a variants container: exactly one known key
            assert set(body) <= set(schema["properties"]), sorted(body)
    if case.variant is not None:
        assert list(body) == [case.variant]
    if case.check is not None:
        case.check(body)


@dataclass(frozen=True)
class ErrorCase:
    """A request a cluster refuses, with the status and error type it answers."""

    id: str
    call: Callable[[Elasticsearch], Any]
    status: int
    error_type: str
    openai: bool = False


ERROR_CASES = [
    ErrorCase(
        "get-unknown-id",
        lambda es: es.inference.get(inference_id="missing"),
        404,
        "resource_not_found_exception",
    ),
    ErrorCase(
        "infer-unknown-id",
        lambda es: es.inference.text_embedding(inference_id="missing", input="x"),
        404,
        "resource_not_found_exception",
    ),
    ErrorCase(
        "no-region-policy",
        lambda es: es.inference.get_region_policy(),
        404,
        "resource_not_found_exception",
    ),
    ErrorCase(
        "unknown-task-type",
        lambda es: es.inference.inference(task_type="bad", inference_id=E5, input="x"),
        400,
        "status_exception",
    ),
    ErrorCase(
        "empty-input",
        lambda es: es.inference.text_embedding(inference_id=E5, input=[]),
        400,
        "action_request_validation_exception",
    ),
    ErrorCase(
        "unknown-body-field",
        lambda es: es.inference.inference(inference_id=E5, body={"input": "x", "foo": 1}),
        400,
        "x_content_parse_exception",
    ),
    ErrorCase(
        "reserved-id",
        lambda es: _put(es, ELSER, "sparse_embedding", "elser", {"num_threads": 1}),
        400,
        "status_exception",
    ),
    ErrorCase(
        "caused-by",
        lambda es: es.inference.put_region_policy(
            region_policy={"allowed_geos": ["us"], "allowed_regions": []}
        ),
        400,
        "x_content_parse_exception",
        # ES's guessRootCauses stops at an XContentParseException whose cause is neither an
        # XContentParseException nor an ElasticsearchException (ElasticsearchException.java).
    ),
    ErrorCase(
        "chat-unknown-id",
        lambda es: es.inference.inference(
            task_type="chat_completion", inference_id="missing", body={"messages": MESSAGES}
        ),
        404,
        "resource_not_found_exception",
        openai=True,
    ),
    ErrorCase(
        "chat-task-mismatch",
        lambda es: es.inference.inference(
            task_type="chat_completion", inference_id=E5, body={"messages": MESSAGES}
        ),
        400,
        "status_exception",
        openai=True,
    ),
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id) for c in ERROR_CASES],
)
def test_error_matches_schema(case: ErrorCase, es: Elasticsearch) -> None:
    with pytest.raises(ApiError) as raised:
        case.call(es)
    body = raised.value.body
    assert raised.value.meta.status == case.status
    assert_valid(_validator(OPENAI_ERROR if case.openai else ERROR_RESPONSE), body)
    assert body["error"]["type"] == case.error_type
    if not case.openai:
        assert body["status"] == case.status
        assert body["error"]["root_cause"][0]["type"] == case.error_type


#: Bodies a real cluster never sends, each of which the schemas must refuse.
WRONG_BODIES = [
    # The shape of the spec's own RerankResponseExample1: numbers as strings.
    ("inference-rerank", {"rerank": [{"index": "6", "relevance_score": "0.5"}]}),
    ("inference-rerank", {"rerank": [{"relevance_score": 0.5}]}),
    (
        "inference-text-embedding",
        {"text_embedding": [{"embedding": [0.1]}], "text_embedding_bytes": []},
    ),
    ("inference-text-embedding", {"text_embedding": [{"embedding": ["0.1"]}]}),
    ("inference-sparse-embedding", {"sparse_embedding": [{"embedding": {"fox": 1.0}}]}),
    ("inference-completion", {"completion": [{"text": "hi"}]}),
    ("inference-get", {"endpoints": [{"inference_id": "x", "task_type": "sparse_embedding"}]}),
    (
        "inference-put-openai",
        {"inference_id": "x", "task_type": "rerank", "service": "openai", "service_settings": {}},
    ),
    ("inference-delete", {"pipelines": []}),
    ("inference-get-region-policy", {"region_policy": {"allowed_geos": ["us"]}}),
]


@pytest.mark.parametrize(
    ("operation", "body"), WRONG_BODIES, ids=[f"{op}-{i}" for i, (op, _) in enumerate(WRONG_BODIES)]
)
def test_schemas_reject_wrong_bodies(openapi: OpenApi, operation: str, body: Any) -> None:
    assert not openapi.validator(operation).is_valid(body)


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (ERROR_RESPONSE, {"error": "no handler found for uri [/x]", "status": 400}),
        (ERROR_RESPONSE, {"error": {"type": "t", "reason": "r"}, "status": 400}),
        (OPENAI_ERROR, {"error": {"message": "m", "type": "t"}, "status": 404}),
        (
            CHAT_COMPLETION,
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "model": "m",
                "choices": [],
                "usage": {},
            },
        ),
    ],
    ids=["string-error", "no-root-cause", "openai-with-status", "chunk-not-completion"],
)
def test_handwritten_schemas_reject_wrong_bodies(schema: Mapping[str, Any], body: Any) -> None:
    assert not _validator(schema).is_valid(body)
