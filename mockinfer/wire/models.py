"""Trained models, as `/_ml/trained_models` shows them, and their `_infer` requests.

A cluster holds the built-in models behind its default endpoints and every model an endpoint
of the `elasticsearch` service deploys; more can be declared. Wording of errors follows ES's
`TransportInternalInferModelAction`, `NlpInferenceInput` and `InferModelAction`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockinfer.errors import ConfigurationError
from mockinfer.settings import MODEL_TASKS as MODEL_TASK_NAMES
from mockinfer.wire.endpoints import Endpoint
from mockinfer.wire.errors import EsError, status_exception, validation_failed
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
        if self.task not in MODEL_TASK_NAMES:
            raise ValueError(
                f"task must be one of {', '.join(MODEL_TASK_NAMES)}; got {self.task!r}"
            )
        if not isinstance(self.dimensions, int) or not 1 <= self.dimensions <= 8192:
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
    """What seeds an endpoint's results: its model for in-cluster models, else its id."""
    model = model_of(endpoint)
    return model.seed_key if model is not None else endpoint.inference_id


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
            if not parts[2].isdigit():
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


@dataclass(frozen=True)
class InferRequest:
    """A validated `_infer` body: one text per doc, and the text to compare with, if any."""

    texts: tuple[str, ...]
    similarity_text: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def parse_infer(body: Body | None, model: TrainedModel) -> InferRequest:
    """Validate an `_infer` body for `model`, with ES's messages."""
    if body is None:
        raise status_exception("requires body")
    body.reject_unknown(INFER_PARSER, ("docs", "inference_config", "timeout"))
    data = body.data
    docs = data.get("docs")
    if docs is None:
        raise EsError(400, "illegal_argument_exception", "[docs] must not be null.")
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise body.parse_error(INFER_PARSER, "docs", "failed to parse field [docs]")
    if not docs:
        raise validation_failed("at least one document is required ")
    texts = []
    for doc in docs:
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
    update = _config_update(data.get("inference_config"), model)
    similarity = update.get("text") if model.task == "text_similarity" else None
    if model.task == "text_similarity" and not isinstance(similarity, str):
        raise status_exception(
            "please provide configuration update for text_similarity task including the "
            "desired [text]"
        )
    return InferRequest(tuple(texts), similarity, update)


def _config_update(config: Any, model: TrainedModel) -> Mapping[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict) or len(config) != 1:
        raise status_exception("[inference_config] must hold exactly one task's settings")
    ((kind, options),) = config.items()
    if kind != model.task:
        raise status_exception(
            f"Inference config of type [{model.task}] can not be updated with a inference "
            f"request of type [{kind}]"
        )
    return options if isinstance(options, dict) else {}


def _java(value: Any) -> str:
    """A JSON value as Java's `toString` shows it in a message."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(value)
