"""Inference endpoint configurations: creation (PUT), update, and the view GET returns.

All pure: `create_endpoint` validates a PUT body the way a cluster does and fills the defaults
it fills; `Endpoint.public` is the configuration with every secret removed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mockinfer.wire.errors import EsError, status_exception, unknown_task_type, validation_failed
from mockinfer.wire.services import (
    DEFAULT_CHUNKING,
    DEFAULT_DIMENSIONS,
    DEFAULT_SIMILARITY,
    MAX_DIMENSIONS,
    MODEL_DIMENSIONS,
    SECRET_SETTINGS,
    SERVICE_SIMILARITY,
    SIMILARITIES,
    resolve_service,
)
from mockinfer.wire.tasks import CHUNKED_TASKS, DENSE_TASKS, TASK_TYPES_BY_NAME, TaskType

_ELEMENT_TYPE_ALIASES = {
    "float": "float",
    "byte": "byte",
    "int8": "byte",
    "bit": "bit",
    "binary": "bit",
}
_VALID_ID = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")


@dataclass(frozen=True)
class Endpoint:
    """A stored inference endpoint, secrets included (they never leave through `public`)."""

    inference_id: str
    task_type: TaskType
    service: str
    service_settings: Mapping[str, Any]
    task_settings: Mapping[str, Any] = field(default_factory=dict)
    chunking_settings: Mapping[str, Any] | None = None

    @property
    def model(self) -> str:
        """The model name the endpoint serves, for chat replies and default dimensions."""
        return self.model_name or self.service

    @property
    def model_name(self) -> str | None:
        """The model its service settings name (a URL for services addressed by one)."""
        spec = resolve_service(self.service)
        key = spec.model_field if spec else "model_id"
        value = self.service_settings.get(key) or self.service_settings.get("model_id")
        return str(value) if value else None

    @property
    def dimensions(self) -> int:
        """Dense vector length."""
        return int(self.service_settings.get("dimensions") or DEFAULT_DIMENSIONS)

    @property
    def similarity(self) -> str:
        """Dense vector similarity."""
        return str(self.service_settings.get("similarity") or DEFAULT_SIMILARITY)

    @property
    def element_type(self) -> str:
        """`float`, `byte` or `bit`."""
        raw = self.service_settings.get("element_type") or self.service_settings.get(
            "embedding_type"
        )
        return _ELEMENT_TYPE_ALIASES.get(str(raw).lower(), "float") if raw else "float"

    def public(self) -> dict[str, Any]:
        """The configuration as GET and PUT answer it: ES's key order, no secrets."""
        view: dict[str, Any] = {
            "inference_id": self.inference_id,
            "task_type": self.task_type.value,
            "service": self.service,
            "service_settings": _without_secrets(self.service_settings),
        }
        if self.task_settings:
            view["task_settings"] = copy.deepcopy(dict(self.task_settings))
        if self.chunking_settings is not None:
            view["chunking_settings"] = dict(self.chunking_settings)
        return view


def _without_secrets(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in settings.items() if k not in SECRET_SETTINGS}


def reject_reserved(inference_id: str) -> None:
    """The ids of the default endpoints cannot be created (`TransportPutInferenceModelAction`)."""
    if inference_id in RESERVED_IDS:
        raise status_exception(
            f"[{inference_id}] is a reserved inference ID. Cannot create a new inference "
            "endpoint with a reserved ID."
        )


def parse_task_type(name: str) -> TaskType:
    """A task type from a URL segment or body field, or ES's `Unknown task_type` error."""
    task = TASK_TYPES_BY_NAME.get(name)
    if task is None:
        raise unknown_task_type(name)
    return task


#: The task type segment that means "any task type" on GET, DELETE and perform inference.
ANY_TASK = "any"


def task_filter(name: str | None) -> TaskType | None:
    """The task type a URL segment asks for; None for none or `any` (ES's `TaskType.ANY`)."""
    if name is None or name == ANY_TASK:
        return None
    return parse_task_type(name)


def validate_inference_id(inference_id: str) -> None:
    """ES's id rule: lowercase alphanumerics, `-`, `_` and `.`, alphanumeric at both ends."""
    if not _VALID_ID.match(inference_id) and not inference_id.startswith("."):
        raise validation_failed(
            f"Invalid inference_id; '{inference_id}' can contain lowercase alphanumeric (a-z and "
            "0-9), hyphens or underscores; must start and end with alphanumeric",
            error_type="validation_exception",
        )


def resolve_task_type(url_task: str | None, body: Mapping[str, Any]) -> TaskType:
    """The task type of a PUT from the URL and the body, as `ServiceUtils.resolveTaskType`."""
    body_task = body.get("task_type")
    if url_task == ANY_TASK:
        url_task = None
    if body_task is not None and not isinstance(body_task, str):
        raise status_exception(f"Unknown task_type [{body_task}]")
    if url_task is None and body_task is None:
        raise status_exception("model is missing required setting [task_type]")
    if url_task is not None and body_task is not None and url_task != body_task:
        raise status_exception(
            "Cannot resolve conflicting task_type parameter in the request URL "
            f"[{url_task}] and the request body [{body_task}]"
        )
    name = url_task if url_task is not None else body_task
    assert name is not None
    if name == "any":
        raise status_exception("task_type [any] is not valid type for inference")
    return parse_task_type(name)


_PUT_FIELDS = ("task_type", "service", "service_settings", "task_settings", "chunking_settings")


def create_endpoint(inference_id: str, url_task: str | None, body: Mapping[str, Any]) -> Endpoint:
    """Validate a PUT body and build the endpoint a cluster would store."""
    task_type = resolve_task_type(url_task, body)
    service_name = body.get("service")
    if not service_name:
        raise status_exception("Inference endpoint configuration is missing the [service] setting")
    if not isinstance(service_name, str):
        raise status_exception(f"Unknown service [{service_name}]")
    spec = resolve_service(service_name)
    if spec is None:
        raise status_exception(f"Unknown service [{service_name}]")
    unknown = {k: v for k, v in body.items() if k not in _PUT_FIELDS}
    if unknown:
        raise _unknown_settings(unknown, service_name)
    if task_type not in spec.task_types:
        raise status_exception(
            f"The [{service_name}] service does not support task type [{task_type.value}]"
        )
    service_settings = _mapping(body, "service_settings", required=True)
    task_settings = _mapping(body, "task_settings", required=False)
    missing = [name for name in spec.required if name not in service_settings]
    missing += [
        f"one of [{', '.join(group)}]"
        for group in spec.one_of
        if not any(name in service_settings for name in group)
    ]
    if missing:
        raise validation_failed(
            *(f"[service_settings] does not contain the required setting [{m}]" for m in missing),
            error_type="validation_exception",
        )
    extra = {k: v for k, v in service_settings.items() if k not in spec.known_settings}
    if extra:
        raise _unknown_settings(extra, service_name)
    if (
        service_name == "anthropic"
        and task_type is TaskType.COMPLETION
        and "max_tokens" not in task_settings
    ):
        raise validation_failed(
            "[task_settings] does not contain the required setting [max_tokens]",
            error_type="validation_exception",
        )
    _check_top_n(task_settings)
    settings = dict(service_settings)
    rpm = spec.requests_per_minute(task_type)
    if rpm is not None and "rate_limit" not in settings:
        settings["rate_limit"] = {"requests_per_minute": rpm}
    if task_type in DENSE_TASKS:
        _fill_dense_defaults(settings, spec.name, spec.model_field)
    chunking = _chunking(body, task_type)
    return Endpoint(
        inference_id=inference_id,
        task_type=task_type,
        service=service_name,
        service_settings=settings,
        task_settings=task_settings,
        chunking_settings=chunking,
    )


def _check_top_n(task_settings: Mapping[str, Any]) -> None:
    top_n = task_settings.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise validation_failed(
            f"[task_settings] Invalid value [{top_n}]. [top_n] must be a positive integer",
            error_type="validation_exception",
        )


def _mapping(body: Mapping[str, Any], key: str, *, required: bool) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise validation_failed(
                f"[{key}] does not contain the required setting", error_type="validation_exception"
            )
        return {}
    if not isinstance(value, dict):
        raise status_exception(f"Failed to parse [{key}], expected a map but got [{value}]")
    return dict(value)


def _unknown_settings(extra: Mapping[str, Any], service: str) -> EsError:
    listed = ", ".join(f"{k}={v}" for k, v in extra.items())
    return status_exception(
        f"Model configuration contains settings [{{{listed}}}] unknown to the [{service}] service"
    )


def _fill_dense_defaults(settings: dict[str, Any], service: str, model_field: str) -> None:
    dims = settings.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0):
        raise validation_failed(
            f"[service_settings] Invalid value [{dims}]. [dimensions] must be a positive integer",
            error_type="validation_exception",
        )
    if dims is not None and dims > MAX_DIMENSIONS:
        raise validation_failed(
            f"[service_settings] Invalid value [{dims}]. [dimensions] must be less than or equal "
            f"to [{MAX_DIMENSIONS}]",
            error_type="validation_exception",
        )
    similarity = settings.get("similarity")
    if similarity is not None and similarity not in SIMILARITIES:
        raise validation_failed(
            f"[service_settings] Invalid value [{similarity}] received. [similarity] must be one "
            f"of [{', '.join(SIMILARITIES)}]",
            error_type="validation_exception",
        )
    raw_type = settings.get("element_type") or settings.get("embedding_type")
    if raw_type is not None and str(raw_type).lower() not in _ELEMENT_TYPE_ALIASES:
        raise validation_failed(
            f"[service_settings] Invalid value [{raw_type}] received. [element_type] must be one "
            "of [float, byte, bit]",
            error_type="validation_exception",
        )
    model = str(settings.get(model_field) or settings.get("model_id") or "")
    settings.setdefault("dimensions", MODEL_DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
    if _ELEMENT_TYPE_ALIASES.get(str(raw_type).lower()) == "bit" and settings["dimensions"] % 8:
        raise validation_failed(
            "[service_settings] [dimensions] must be a multiple of 8 for element type [bit]",
            error_type="validation_exception",
        )
    settings.setdefault("similarity", SERVICE_SIMILARITY.get(service, DEFAULT_SIMILARITY))


_STRATEGY_KEYS = {
    "sentence": ("strategy", "max_chunk_size", "sentence_overlap"),
    "word": ("strategy", "max_chunk_size", "overlap"),
    "recursive": ("strategy", "max_chunk_size", "separator_group", "separators"),
    "none": ("strategy",),
}


def _chunking(body: Mapping[str, Any], task_type: TaskType) -> dict[str, Any] | None:
    given = body.get("chunking_settings")
    if given is None:
        return dict(DEFAULT_CHUNKING) if task_type in CHUNKED_TASKS else None
    if not isinstance(given, dict):
        raise status_exception(
            f"Failed to parse [chunking_settings], expected a map but got [{given}]"
        )
    strategy = given.get("strategy", "sentence")
    if not isinstance(strategy, str) or strategy not in _STRATEGY_KEYS:
        raise validation_failed(
            f"Invalid chunkingStrategy {strategy}", error_type="validation_exception"
        )
    extra = {k: v for k, v in given.items() if k not in _STRATEGY_KEYS[strategy]}
    if extra:
        listed = ", ".join(f"{k}={v}" for k, v in extra.items())
        raise validation_failed(
            f"Chunking settings contains unknown settings [{{{listed}}}]",
            error_type="validation_exception",
        )
    size = given.get("max_chunk_size", 250)
    minimum = 10 if strategy == "word" else 20
    if strategy != "none" and (not isinstance(size, int) or size < minimum):
        raise validation_failed(
            f"[chunking_settings] Invalid value [{size}]. [max_chunk_size] must be a greater than "
            f"or equal to [{minimum}]",
            error_type="validation_exception",
        )
    if strategy == "sentence" and given.get("sentence_overlap", 1) not in (0, 1):
        raise validation_failed(
            "[chunking_settings] Invalid value [{}]. [sentence_overlap] must be either 0 or "
            "1".format(given.get("sentence_overlap")),
            error_type="validation_exception",
        )
    overlap = given.get("overlap", 0)
    if strategy == "word" and (not isinstance(overlap, int) or overlap > size // 2):
        raise validation_failed(
            f"[chunking_settings] Invalid value [{given.get('overlap')}]. [overlap] must be less "
            f"than or equal to [{size // 2}]",
            error_type="validation_exception",
        )
    defaults: dict[str, Any] = {"strategy": strategy}
    if strategy != "none":
        defaults["max_chunk_size"] = size
    if strategy == "sentence":
        defaults["sentence_overlap"] = given.get("sentence_overlap", 1)
    return {**defaults, **given}


_UPDATE_FIELDS = ("task_type", "service_settings", "task_settings", "chunking_settings")


def update_endpoint(endpoint: Endpoint, url_task: str | None, body: Mapping[str, Any]) -> Endpoint:
    """Apply a `_update` body: merge service and task settings; the task type must not change."""
    for task in (url_task, body.get("task_type")):
        if task not in (None, ANY_TASK) and task != endpoint.task_type.value:
            raise status_exception("Task type must match the task type of the existing endpoint")
    unknown = {k: v for k, v in body.items() if k not in _UPDATE_FIELDS}
    if unknown:
        raise _unknown_settings(unknown, endpoint.service)
    service_settings = {
        **endpoint.service_settings,
        **_mapping(body, "service_settings", required=False),
    }
    task_settings = {**endpoint.task_settings, **_mapping(body, "task_settings", required=False)}
    _check_top_n(task_settings)
    if endpoint.task_type in DENSE_TASKS:
        spec = resolve_service(endpoint.service)
        _fill_dense_defaults(
            service_settings, endpoint.service, spec.model_field if spec else "model_id"
        )
    chunking = endpoint.chunking_settings
    if "chunking_settings" in body:
        chunking = _chunking(body, endpoint.task_type)
    return replace(
        endpoint,
        service_settings=service_settings,
        task_settings=task_settings,
        chunking_settings=chunking,
    )


def _default(inference_id: str, task: TaskType, model: str, **extra: Any) -> Endpoint:
    settings: dict[str, Any] = {
        "num_threads": 1,
        "model_id": model,
        "adaptive_allocations": {
            "enabled": True,
            "min_number_of_allocations": 0,
            "max_number_of_allocations": 32,
        },
    }
    settings.update(extra.pop("service_settings", {}))
    return Endpoint(
        inference_id=inference_id,
        task_type=task,
        service="elasticsearch",
        service_settings=settings,
        task_settings=extra.pop("task_settings", {}),
        chunking_settings=dict(DEFAULT_CHUNKING) if task in CHUNKED_TASKS else None,
    )


#: The preconfigured endpoints every cluster has, whose ids are reserved.
DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    _default(".elser-2-elasticsearch", TaskType.SPARSE_EMBEDDING, ".elser_model_2"),
    _default(
        ".multilingual-e5-small-elasticsearch",
        TaskType.TEXT_EMBEDDING,
        ".multilingual-e5-small",
        service_settings={"dimensions": 384, "similarity": "cosine"},
    ),
    _default(
        ".rerank-v1-elasticsearch",
        TaskType.RERANK,
        ".rerank-v1",
        task_settings={"return_documents": True},
    ),
)
RESERVED_IDS = frozenset(e.inference_id for e in DEFAULT_ENDPOINTS)
