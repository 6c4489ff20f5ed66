"""Trained models, as `/_ml/trained_models` shows them, and their `_infer` requests.

A cluster holds the built-in models behind its default endpoints and every model an endpoint
of the `elasticsearch` service deploys; more can be declared. Wording of errors follows ES's
`TransportInternalInferModelAction`, `NlpInferenceInput` and `InferModelAction`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockinfer.errors import ConfigurationError
from mockinfer.settings import MODEL_TASKS as MODEL_TASK_NAMES
from mockinfer.wire.durations import parse_time_value
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.errors import EsError, status_exception, validation_failed
from mockinfer.wire.hugging_face import model_in_url
from mockinfer.wire.requests import Body
from mockinfer.wire.tasks import TaskType

#: A trained model's task (its `inference_config` key) and the inference task it serves.
MODEL_TASKS: Mapping[str, TaskType] = {
    "text_embedding": TaskType.TEXT_EMBEDDING,
    "text_expansion": TaskType.SPARSE_EMBEDDING,
    "text_similarity": TaskType.RERANK,
}
#: The other way round, for models that endpoints deploy.
_TASK_MODELS = {task: name for name, task in MODEL_TASKS.items()}
DEFAULT_INPUT_FIELD = "text_field"
INFER_PARSER = "cluster:internal/xpack/ml/inference/infer"
#: Services whose endpoints run a trained model inside the cluster.
IN_CLUSTER_SERVICES = frozenset({"elasticsearch", "elser"})
#: ES's id rule for trained models; the built-ins' ids start with a dot.
_MODEL_ID = re.compile(r"\.?[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?")
#: A fixed creation time, so that documents are the same in every run (2025-10-01).
_CREATED = 1759276800000


@dataclass(frozen=True)
class TrainedModel:
    """One model of the cluster: its task, input field, vector size and deployment."""

    model_id: str
    task: str
    dimensions: int = 384
    input_field: str = DEFAULT_INPUT_FIELD
    deployed: bool = True
    #: What seeds its results: the same for every id of one model, and for the endpoints
    #: that run it, so a text gets the same vector from `_ml` and from `_inference`.
    seed_key: str = ""
    platform: str | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.model_id, str)
            or not _MODEL_ID.fullmatch(self.model_id)
            or self.model_id == "_all"
        ):
            raise ValueError(
                "model_id must be lowercase letters, digits, '-', '_' and '.', starting and "
                f"ending with a letter or digit; got {self.model_id!r}"
            )
        if not isinstance(self.input_field, str) or not self.input_field:
            raise ValueError(f"input_field must be a field name; got {self.input_field!r}")
        if not isinstance(self.deployed, bool):
            raise ValueError(f"deployed must be true or false; got {self.deployed!r}")
        if self.task not in MODEL_TASK_NAMES:
            raise ValueError(
                f"task must be one of {', '.join(MODEL_TASK_NAMES)}; got {self.task!r}"
            )
        if (
            not isinstance(self.dimensions, int)
            or isinstance(self.dimensions, bool)
            or not 1 <= self.dimensions <= 8192
        ):
            raise ValueError(
                f"dimensions must be an integer from 1 to 8192; got {self.dimensions!r}"
            )
        if not self.seed_key:
            object.__setattr__(self, "seed_key", self.model_id)

    @property
    def task_type(self) -> TaskType:
        """The inference task type whose generator answers this model."""
        return MODEL_TASKS[self.task]

    def endpoint(self) -> Endpoint:
        """The endpoint view synthesis answers the model through."""
        settings: dict[str, Any] = {"model_id": self.model_id}
        if self.task_type is TaskType.TEXT_EMBEDDING:
            settings.update(dimensions=self.dimensions, similarity="cosine")
        return Endpoint(self.model_id, self.task_type, "elasticsearch", settings)

    def config(self, *, definition_status: bool = False) -> dict[str, Any]:
        """The model's entry in `GET /_ml/trained_models`, in ES's key order."""
        document: dict[str, Any] = {
            "model_id": self.model_id,
            "model_type": "pytorch",
            "created_by": "api_user",
            "version": "12.0.0",
            "create_time": _CREATED,
            "model_size_bytes": 0,
            "estimated_operations": 0,
            "license_level": "platinum",
            "tags": [],
            "input": {"field_names": [self.input_field]},
            "inference_config": {self.task: self._config_options()},
            "location": {"index": {"name": ".ml-inference-native-000002"}},
        }
        if definition_status:
            document["fully_defined"] = True
        if self.platform is not None:
            document["platform_architecture"] = self.platform
        return document

    def _config_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"tokenization": {"bert": {"truncate": "first"}}}
        if self.task == "text_embedding":
            options["embedding_size"] = self.dimensions
        options["results_field"] = "predicted_value"
        return options

    def stats(self) -> dict[str, Any]:
        """The model's entry in `GET /_ml/trained_models/{id}/_stats`."""
        document: dict[str, Any] = {
            "model_id": self.model_id,
            "model_size_stats": {"model_size_bytes": 0, "required_native_memory_bytes": 0},
            "pipeline_count": 0,
        }
        if self.deployed:
            document["deployment_stats"] = {
                "deployment_id": self.model_id,
                "model_id": self.model_id,
                "threads_per_allocation": 1,
                "number_of_allocations": 1,
                "queue_capacity": 1024,
                "state": "started",
                "allocation_status": {
                    "allocation_count": 1,
                    "target_allocation_count": 1,
                    "state": "fully_allocated",
                },
                "priority": "normal",
                "start_time": _CREATED,
                "peak_throughput_per_minute": 0,
                "nodes": [],
            }
        return document


def _builtin(model_id: str, task: str, seed_key: str, **extra: Any) -> tuple[TrainedModel, ...]:
    """A built-in model and its platform-specific twin, which answer the same."""
    return (
        TrainedModel(model_id, task, seed_key=seed_key, **extra),
        TrainedModel(
            f"{model_id}_linux-x86_64", task, seed_key=seed_key, platform="linux-x86_64", **extra
        ),
    )


#: The models behind the default endpoints. Seeded as those endpoints, so that their
#: results are the same as before models had their own seed key.
BUILT_IN_MODELS: tuple[TrainedModel, ...] = (
    *_builtin(".multilingual-e5-small", "text_embedding", ".multilingual-e5-small-elasticsearch"),
    *_builtin(".elser_model_2", "text_expansion", ".elser-2-elasticsearch"),
    TrainedModel(".rerank-v1", "text_similarity", seed_key=".rerank-v1-elasticsearch"),
)
_BUILT_IN = {m.model_id: m for m in BUILT_IN_MODELS}


def model_of(endpoint: Endpoint) -> TrainedModel | None:
    """The trained model an endpoint runs inside the cluster, if it runs one."""
    if endpoint.service not in IN_CLUSTER_SERVICES:
        return None
    model_id = endpoint.service_settings.get("model_id")
    if not isinstance(model_id, str) or endpoint.task_type not in _TASK_MODELS:
        return None
    built_in = _BUILT_IN.get(model_id)
    if built_in is not None:
        return built_in
    return TrainedModel(model_id, _TASK_MODELS[endpoint.task_type], dimensions=endpoint.dimensions)


def seed_key(endpoint: Endpoint) -> str:
    """What seeds an endpoint's vectors, token weights and rankings: its model.

    An in-cluster model seeds as the model does on `_ml`; a provider's model by its name, so
    that a text gets the same vector from the provider's own route (`/v1/embeddings`) and from
    every endpoint of that model. An endpoint that names no model seeds by its id.
    """
    model = model_of(endpoint)
    if model is not None:
        return model.seed_key
    if endpoint.service in IN_CLUSTER_SERVICES:
        return endpoint.inference_id
    return model_id_of(endpoint) or endpoint.inference_id


def model_id_of(endpoint: Endpoint) -> str | None:
    """The id of the model an endpoint's settings name, if any."""
    named = endpoint.model_name
    if named is None:
        return None
    # A service addressed by URL names its model in the path of mockinfer's own routes.
    return model_in_url(named) or named


def declared_model(spec: Any) -> TrainedModel:
    """A model from `id:task[:dimensions]` or a mapping of `TrainedModel`'s fields.

    Raises `ConfigurationError` naming what is wrong.
    """
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise ConfigurationError(
                f"a model is id:task[:dimensions], e.g. my-e5:text_embedding:384; got {spec!r}"
            )
        fields: dict[str, Any] = {"model_id": parts[0], "task": parts[1]}
        if len(parts) == 3:
            if not re.fullmatch(r"[0-9]+", parts[2]):
                raise ConfigurationError(f"model dimensions must be an integer; got {spec!r}")
            fields["dimensions"] = int(parts[2])
    elif isinstance(spec, Mapping):
        fields = dict(spec)
    else:
        raise ConfigurationError(f"a model is id:task[:dimensions] or a mapping; got {spec!r}")
    try:
        return TrainedModel(**fields)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"model {spec!r}: {exc}") from None


def model_not_found(model_id: str) -> EsError:
    """404 for `_infer` on a model the cluster does not have."""
    return EsError(
        404, "resource_not_found_exception", f"Could not find trained model [{model_id}]"
    )


def not_deployed(model_id: str) -> EsError:
    """409 for `_infer` on a model that is not deployed (langchain: "please deploy it first")."""
    return status_exception(
        f"Model [{model_id}] must be deployed to use. Please deploy with the start trained "
        "model deployment API.",
        status=409,
    )


def unknown_models(model_ids: Sequence[str]) -> EsError:
    """404 for `GET /_ml/trained_models/{ids}` naming ids that match nothing."""
    return EsError(
        404,
        "resource_not_found_exception",
        f"No known trained model with model_id [{','.join(model_ids)}]",
    )


#: What each task's `inference_config` update may set.
_UPDATE_FIELDS = {
    "text_embedding": ("results_field", "tokenization"),
    "text_expansion": ("results_field", "tokenization"),
    "text_similarity": ("text", "results_field", "tokenization", "span_score_combination_function"),
}
#: The inference queue of a deployment: a request with more docs than this is turned away.
QUEUE_CAPACITY = 1024


@dataclass(frozen=True)
class InferRequest:
    """A parsed `_infer` body: its docs, and the task settings it updates (if any)."""

    docs: tuple[Mapping[str, Any], ...]
    task: str | None = None
    update: Mapping[str, Any] = field(default_factory=dict)

    def texts(self, model: TrainedModel) -> tuple[str, ...]:
        """One text per doc, read from the model's input field; ES's errors for the rest."""
        if len(self.docs) > QUEUE_CAPACITY:
            raise EsError(
                429,
                "es_rejected_execution_exception",
                "inference process queue is full. Unable to execute command",
            )
        texts = []
        for doc in self.docs:
            if model.input_field not in doc:
                raise status_exception(
                    f"Input field [{model.input_field}] does not exist in the source document"
                )
            value = doc[model.input_field]
            if not isinstance(value, str):
                raise status_exception(
                    f"Input value [{_java(value)}] for field [{model.input_field}] must be a string"
                )
            texts.append(value)
        return tuple(texts)

    def similarity_text(self, model: TrainedModel) -> str | None:
        """The text a text-similarity model compares the docs with; checks the update fits."""
        if self.task is not None and self.task != model.task:
            raise status_exception(
                f"Inference config of type [{model.task}] can not be updated with a inference "
                f"request of type [{self.task}]"
            )
        if model.task != "text_similarity":
            return None
        text = self.update.get("text")
        if not isinstance(text, str):
            raise status_exception(
                "please provide configuration update for text_similarity task including the "
                "desired [text]"
            )
        return text


def parse_infer(body: Body | None) -> InferRequest:
    """Parse and validate an `_infer` body, as ES's REST layer does before finding the model."""
    if body is None:
        raise status_exception("requires body")
    body.reject_unknown(INFER_PARSER, ("docs", "inference_config", "timeout", "id"))
    data = body.data
    if "timeout" in data:
        if not isinstance(data["timeout"], str):
            raise body.wrong_type(INFER_PARSER, "timeout")
        parse_time_value(data["timeout"], "timeout")
    docs = data.get("docs")
    if docs is None:
        raise EsError(400, "illegal_argument_exception", "[docs] must not be null.")
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise body.parse_error(INFER_PARSER, "docs", "failed to parse field [docs]")
    if not docs:
        raise validation_failed("at least one document is required ")
    task, update = _config_update(body, data.get("inference_config"))
    return InferRequest(tuple(docs), task, update)


def _config_update(body: Body, config: Any) -> tuple[str | None, Mapping[str, Any]]:
    """The task and settings of an `inference_config` update: one named object."""
    if config is None:
        return None, {}
    if (
        not isinstance(config, dict)
        or len(config) != 1
        or next(iter(config)) not in _UPDATE_FIELDS
        or not isinstance(next(iter(config.values())), dict)
    ):
        raise body.parse_error(
            INFER_PARSER, "inference_config", "failed to parse field [inference_config]"
        )
    ((task, options),) = config.items()
    unknown = [k for k in options if k not in _UPDATE_FIELDS[task]]
    if unknown:
        raise body.parse_error(
            INFER_PARSER, "inference_config", f"[{task}] unknown field [{unknown[0]}]"
        )
    return task, options


def _java(value: Any) -> str:
    """A JSON value as Java's `toString` shows it in a message (`[a, b]`, `{k=v}`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java(v)}" for k, v in value.items()) + "}"
    return str(value)
