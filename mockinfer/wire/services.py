"""The inference services a cluster accepts, their settings and the defaults it fills in.

Data from the specification's `put_<service>` requests and `Services.ts` (rate limits). Task
types, and which services `GET _inference/_services` lists, follow each `*Service.java`
(`supportedTaskTypes`, `hideFromConfigurationApi`) of Elasticsearch's main branch as it stood
in November 2026, version 9.6 in development.
A service's settings are validated as ES does: required settings must be present, and
settings the service does not know are rejected by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockinfer.wire.tasks import TaskType

T = TaskType

#: Setting names never returned by GET/PUT and never written to a cassette.
SECRET_SETTINGS = frozenset(
    {
        "api_key",
        "secret_key",
        "access_key",
        "service_account_json",
        "client_secret",
        "secret_parameters",
        "entra_id",
    }
)

#: Settings every hosted service accepts.
_COMMON = ("rate_limit",)
_EMBEDDING = ("dimensions", "similarity", "embedding_type", "element_type", "max_input_tokens")


@dataclass(frozen=True)
class Service:
    """What one `service` value accepts and what a cluster fills in for it."""

    name: str
    task_types: frozenset[TaskType]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    task_settings: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    rate_limit: Mapping[TaskType | None, int] = field(default_factory=dict)
    model_field: str = "model_id"
    label: str = ""
    listed: bool = True

    @property
    def known_settings(self) -> frozenset[str]:
        """Every service setting this service accepts."""
        alternatives = {name for group in self.one_of for name in group}
        return frozenset(self.required) | frozenset(self.optional) | alternatives

    def requests_per_minute(self, task_type: TaskType) -> int | None:
        """The default rate limit for a task type, or None when the service has none."""
        return self.rate_limit.get(task_type, self.rate_limit.get(None))

    @property
    def completion_label(self) -> str:
        """The provider name ES puts in "<label> completions only accepts 1 input"."""
        return self.label or self.name


def _svc(
    name: str,
    tasks: tuple[TaskType, ...],
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    *,
    task_settings: tuple[str, ...] = (),
    one_of: tuple[tuple[str, ...], ...] = (),
    rpm: int | Mapping[TaskType | None, int] | None = None,
    model_field: str = "model_id",
    label: str = "",
    listed: bool = True,
) -> Service:
    limits: Mapping[TaskType | None, int]
    if rpm is None:
        limits = {}
    elif isinstance(rpm, int):
        limits = {None: rpm}
    else:
        limits = rpm
    hosted = _COMMON if rpm is not None else ()
    return Service(
        name=name,
        task_types=frozenset(tasks),
        required=required,
        optional=(*optional, *hosted, *_EMBEDDING),
        task_settings=task_settings,
        one_of=one_of,
        rate_limit=limits,
        model_field=model_field,
        label=label,
        listed=listed,
    )


_ALLOCATIONS = ("num_allocations", "adaptive_allocations", "deployment_id")
_RERANK_TASK = ("return_documents", "top_n")

SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        _svc(
            "ai21",
            (T.COMPLETION, T.CHAT_COMPLETION),
            ("model_id",),
            ("api_key",),
            rpm=200,
            label="AI21",
        ),
        _svc(
            "alibabacloud-ai-search",
            (T.TEXT_EMBEDDING, T.RERANK, T.COMPLETION, T.SPARSE_EMBEDDING),
            ("api_key", "host", "service_id", "workspace"),
            ("http_schema",),
            task_settings=("input_type", "return_token"),
            rpm=1000,
            model_field="service_id",
            label="AlibabaCloud",
        ),
        _svc(
            "amazonbedrock",
            (T.CHAT_COMPLETION, T.COMPLETION, T.TEXT_EMBEDDING),
            ("access_key", "secret_key", "model", "region"),
            ("provider",),
            task_settings=("max_new_tokens", "temperature", "top_k", "top_p"),
            rpm=240,
            model_field="model",
            label="Amazon Bedrock",
        ),
        _svc(
            "amazon_sagemaker",
            (T.TEXT_EMBEDDING, T.COMPLETION, T.CHAT_COMPLETION, T.SPARSE_EMBEDDING, T.RERANK),
            ("access_key", "secret_key", "endpoint_name", "api", "region"),
            ("target_model", "target_container_hostname", "inference_component_name", "batch_size"),
            task_settings=(
                "custom_attributes",
                "enable_explanations",
                "inference_id",
                "session_id",
                "target_variant",
            ),
            model_field="endpoint_name",
            label="Amazon SageMaker",
        ),
        _svc(
            "anthropic",
            (T.COMPLETION, T.CHAT_COMPLETION),
            ("api_key", "model_id"),
            task_settings=("max_tokens", "temperature", "top_k", "top_p"),
            rpm=50,
            label="Anthropic chat",
        ),
        _svc(
            "azureaistudio",
            (T.TEXT_EMBEDDING, T.COMPLETION, T.RERANK),
            ("api_key", "endpoint_type", "target", "provider"),
            task_settings=(
                "do_sample",
                "max_new_tokens",
                "temperature",
                "top_p",
                "user",
                *_RERANK_TASK,
            ),
            rpm=240,
            model_field="target",
            label="Azure AI Studio",
        ),
        _svc(
            "azureopenai",
            (T.TEXT_EMBEDDING, T.COMPLETION, T.CHAT_COMPLETION),
            ("api_version", "deployment_id", "resource_name"),
            ("client_id", "client_secret", "scopes", "tenant_id"),
            task_settings=("user", "headers"),
            one_of=(("api_key", "entra_id"),),
            rpm={T.TEXT_EMBEDDING: 1440, None: 120},
            model_field="deployment_id",
            label="Azure OpenAI",
        ),
        _svc(
            "cohere",
            (T.TEXT_EMBEDDING, T.RERANK, T.COMPLETION),
            ("api_key", "model_id"),
            ("url",),
            task_settings=("input_type", "truncate", *_RERANK_TASK),
            rpm=10000,
            label="Cohere",
        ),
        _svc(
            "contextualai",
            (T.RERANK,),
            ("api_key", "model_id"),
            task_settings=("instruction", "top_k"),
            rpm=1000,
            label="ContextualAI",
        ),
        _svc(
            "custom",
            (T.TEXT_EMBEDDING, T.SPARSE_EMBEDDING, T.RERANK, T.COMPLETION),
            ("url", "request", "response"),
            ("batch_size", "headers", "input_type", "query_parameters", "secret_parameters"),
            task_settings=("parameters",),
            rpm=10000,
            model_field="url",
            label="Custom",
            listed=False,
        ),
        _svc(
            "deepseek",
            (T.COMPLETION, T.CHAT_COMPLETION),
            ("api_key", "model_id"),
            ("url",),
            label="DeepSeek",
        ),
        _svc(
            "elasticsearch",
            (T.RERANK, T.SPARSE_EMBEDDING, T.TEXT_EMBEDDING),
            ("model_id", "num_threads"),
            (*_ALLOCATIONS, "long_document_strategy", "max_chunks_per_doc"),
            task_settings=("return_documents",),
            one_of=(("num_allocations", "adaptive_allocations"),),
        ),
        _svc(
            "elser",
            (T.SPARSE_EMBEDDING,),
            ("num_threads",),
            (*_ALLOCATIONS, "model_id"),
            one_of=(("num_allocations", "adaptive_allocations"),),
            listed=False,  # an old name the elasticsearch service still answers to
        ),
        _svc(
            "elastic",
            (T.SPARSE_EMBEDDING, T.CHAT_COMPLETION, T.RERANK, T.TEXT_EMBEDDING, T.EMBEDDING),
            ("model_id",),
            rpm=240,
            label="Elastic Inference Service",
        ),
        _svc(
            "fireworksai",
            (T.CHAT_COMPLETION, T.TEXT_EMBEDDING),
            ("api_key", "model_id"),
            ("url",),
            task_settings=("user", "headers"),
            rpm=6000,
            label="FireworksAI",
        ),
        _svc(
            "googleaistudio",
            (T.TEXT_EMBEDDING, T.COMPLETION),
            ("api_key", "model_id"),
            rpm=360,
            label="Google AI Studio",
        ),
        _svc(
            "googlevertexai",
            (T.CHAT_COMPLETION, T.COMPLETION, T.TEXT_EMBEDDING, T.RERANK),
            ("service_account_json",),
            (
                "provider",
                "url",
                "streaming_url",
                "location",
                "model_id",
                "project_id",
                "max_batch_size",
            ),
            task_settings=("auto_truncate", "top_n", "thinking_config", "max_tokens"),
            rpm=30000,
            label="Google Vertex AI",
        ),
        _svc("groq", (T.CHAT_COMPLETION,), ("model_id",), ("api_key",), rpm=1000, label="Groq"),
        _svc(
            "hugging_face",
            (T.CHAT_COMPLETION, T.COMPLETION, T.RERANK, T.SPARSE_EMBEDDING, T.TEXT_EMBEDDING),
            ("api_key", "url"),
            ("model_id",),
            task_settings=_RERANK_TASK,
            rpm=3000,
            model_field="url",
            label="Hugging Face",
        ),
        _svc(
            "hugging_face_elser",
            (T.SPARSE_EMBEDDING,),
            ("api_key", "url"),
            rpm=3000,
            model_field="url",
            label="Hugging Face ELSER",
            listed=False,
        ),
        _svc(
            "jinaai",
            (T.EMBEDDING, T.TEXT_EMBEDDING, T.RERANK),
            ("api_key", "model_id"),
            ("multimodal_model",),
            task_settings=("input_type", "late_chunking", *_RERANK_TASK),
            rpm=2000,
            label="JinaAI",
        ),
        _svc(
            "llama",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION),
            ("url", "model_id"),
            rpm=3000,
            label="Llama",
        ),
        _svc(
            "mistral",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION),
            ("api_key", "model"),
            rpm=240,
            model_field="model",
            label="mistral chat",
        ),
        _svc(
            "nvidia",
            (T.CHAT_COMPLETION, T.COMPLETION, T.RERANK, T.TEXT_EMBEDDING),
            ("api_key", "model_id"),
            ("url",),
            task_settings=("input_type", "truncate"),
            rpm=3000,
            label="Nvidia",
        ),
        _svc(
            "openai",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION, T.EMBEDDING),
            ("model_id",),
            ("organization_id", "url", "client_id", "token_url", "scopes"),
            task_settings=("user", "headers"),
            one_of=(("api_key", "client_secret"),),
            rpm={T.TEXT_EMBEDDING: 3000, T.EMBEDDING: 3000, None: 500},
            label="OpenAI",
        ),
        _svc(
            "openshift_ai",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION, T.RERANK),
            ("api_key", "url"),
            ("model_id",),
            task_settings=_RERANK_TASK,
            rpm=3000,
            model_field="url",
            label="OpenShift AI",
        ),
        _svc(
            "tencentcloud",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION, T.RERANK),
            ("api_key", "model_id"),
            rpm=1000,
            label="Tencent Cloud",
        ),
        _svc(
            "voyageai",
            (T.TEXT_EMBEDDING, T.RERANK),
            ("model_id",),
            task_settings=("input_type", "truncation", "return_documents", "top_k"),
            rpm=2000,
            label="VoyageAI",
        ),
        _svc(
            "watsonxai",
            (T.TEXT_EMBEDDING, T.CHAT_COMPLETION, T.COMPLETION, T.RERANK),
            ("api_key", "api_version", "model_id", "project_id", "url"),
            rpm=120,
            label="IBM watsonx",
        ),
    )
}

#: Other names ES accepts for a service (`SageMakerService`, `ElasticsearchInternalService`).
SERVICE_ALIASES = {"sagemaker": "amazon_sagemaker", "amazonsagemaker": "amazon_sagemaker"}

#: Dimensions of well-known models, used when `dimensions` is not set explicitly.
MODEL_DIMENSIONS = {
    ".multilingual-e5-small": 384,
    ".multilingual-e5-small_linux-x86_64": 384,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "jina-embeddings-v3": 1024,
    "jina-clip-v2": 1024,
    "voyage-3": 1024,
    "voyage-3-lite": 512,
    "mistral-embed": 1024,
    "text-embedding-004": 768,
    "gemini-embedding-001": 3072,
    "amazon.titan-embed-text-v2:0": 1024,
    "amazon.titan-embed-text-v1": 1536,
}
DEFAULT_DIMENSIONS = 384
#: The largest vector mockinfer generates; exact integer arithmetic in the generator stays
#: below 2**63 up to this length.
MAX_DIMENSIONS = 8192

#: Similarity a service reports for its embeddings when the user sets none.
SERVICE_SIMILARITY = {
    "openai": "dot_product",
    "azureopenai": "dot_product",
    "cohere": "dot_product",
}
DEFAULT_SIMILARITY = "cosine"
SIMILARITIES = ("cosine", "dot_product", "l2_norm", "max_inner_product")

DEFAULT_CHUNKING = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}


def resolve_service(name: str) -> Service | None:
    """The service for a `service` value or one of its aliases."""
    return SERVICES.get(SERVICE_ALIASES.get(name, name))


def _setting(name: str, *, required: bool, tasks: list[str]) -> dict[str, Any]:
    return {
        "label": name.replace("_", " ").capitalize(),
        "required": required,
        "sensitive": name in SECRET_SETTINGS,
        "updatable": name in SECRET_SETTINGS or name == "num_allocations",
        "type": "int" if name in ("dimensions", "num_threads", "num_allocations") else "str",
        "supported_task_types": tasks,
    }


def services_document(task_type: TaskType | None = None) -> list[dict[str, Any]]:
    """`GET _inference/_services[/{task_type}]`: each service, its task types and settings."""
    document = []
    for name in sorted(SERVICES):
        spec = SERVICES[name]
        if not spec.listed or (task_type is not None and task_type not in spec.task_types):
            continue
        tasks = sorted(t.value for t in spec.task_types)
        configurations = {n: _setting(n, required=True, tasks=tasks) for n in spec.required}
        for group in spec.one_of:
            configurations.update({n: _setting(n, required=False, tasks=tasks) for n in group})
        document.append(
            {
                "service": name,
                "name": spec.label or name,
                "task_types": tasks,
                "configurations": configurations,
            }
        )
    return document
