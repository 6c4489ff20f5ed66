"""The generator plugin API: what a plugin implements and what it is asked.

A generator answers some of the tasks mockinfer synthesizes (dense and sparse embeddings,
rerank, completion, chat) in place of the built-in seeded generators. It is found through
the entry-point group `mockinfer.generators` (the entry point's name is the generator's
name; its object is the generator, or a class or function that makes one), or registered
from a test suite's `conftest.py` with the `pytest_mockinfer_configure` hook.

A generator is any object with the attributes of `Generator` and, for each task it serves,
the method of that task: `embed` for `text_embedding` and `embedding`, `sparse` for
`sparse_embedding`, `rerank`, `complete` for `completion`, `chat` for `chat_completion`.
Each method takes one request object and returns plain data; mockinfer checks its shape,
renders it in whatever dialect the client speaks, caches it when the generator is
deterministic, and streams it when the client asked for a stream.

This module is a leaf: plugins import it without starting anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: The entry-point group plugins register their generators under.
ENTRY_POINT_GROUP = "mockinfer.generators"
#: The name of the built-in seeded generators, for routing an endpoint back to them.
CORE = "core"
#: The tasks a generator may serve, and the method that serves each.
TASK_METHODS: Mapping[str, str] = {
    "text_embedding": "embed",
    "embedding": "embed",
    "sparse_embedding": "sparse",
    "rerank": "rerank",
    "completion": "complete",
    "chat_completion": "chat",
}


@dataclass(frozen=True)
class Target:
    """The endpoint a request is for, as its settings describe it."""

    inference_id: str
    task: str
    service: str
    #: The model the endpoint's settings name (`model_id`, `model`), or None.
    model: str | None
    #: The server's master seed, for generators that draw anything at random.
    seed: int
    service_settings: Mapping[str, Any] = field(default_factory=dict)
    task_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddingRequest:
    """Dense vectors for `texts`: answer one sequence of `dimensions` floats per text."""

    target: Target
    texts: tuple[str, ...]
    dimensions: int
    #: `cosine`, `dot_product`, `l2_norm` or `max_inner_product`.
    similarity: str
    #: `float`, `byte` or `bit`: mockinfer quantises floats for the last two.
    element_type: str
    #: `ingest`, `search` and the like, when the request or endpoint gives one.
    input_type: str | None


@dataclass(frozen=True)
class SparseRequest:
    """Token weights for `texts`: answer one mapping of token to positive weight per text."""

    target: Target
    texts: tuple[str, ...]


@dataclass(frozen=True)
class RerankRequest:
    """Relevance of each document to `query`: answer one score per document, in order.

    mockinfer sorts by score (ties by position) and applies `top_n` and `return_documents`.
    """

    target: Target
    query: str
    documents: tuple[str, ...]


@dataclass(frozen=True)
class CompletionRequest:
    """A completion of `prompt`: answer its text. Streams are split into deltas by mockinfer."""

    target: Target
    prompt: str
    #: The token limit the request or endpoint sets, if any.
    max_tokens: int | None


@dataclass(frozen=True)
class ChatRequest:
    """An assistant reply to OpenAI-style `messages`: answer the reply's text."""

    target: Target
    messages: tuple[Mapping[str, Any], ...]
    #: The whole request body (tools, tool_choice, limits) as the client sent it.
    body: Mapping[str, Any]


class Refusal(Exception):
    """Raised by a generator to refuse a request as a cluster would.

    mockinfer answers with the cluster's (or the provider's) error envelope of `status`,
    `error_type` and `reason`, not with a server error.
    """

    def __init__(self, status: int, reason: str, error_type: str = "status_exception") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error_type = error_type


@runtime_checkable
class Generator(Protocol):
    """What every generator declares. Add the method of each task in `tasks`."""

    #: The name routes use; it must equal the entry point's name.
    name: str
    version: str
    #: Task types from `TASK_METHODS`.
    tasks: frozenset[str]
    #: True when the same request always gets the same answer: answers are then cached.
    deterministic: bool
    #: Model ids whose endpoints it answers by default (compared without case).
    models: tuple[str, ...]
    #: Services whose endpoints it answers by default.
    services: tuple[str, ...]


class Embedder(Generator, Protocol):
    """A generator of `text_embedding` and `embedding`."""

    def embed(self, request: EmbeddingRequest) -> Sequence[Sequence[float]]:
        """One vector per text."""


class SparseEncoder(Generator, Protocol):
    """A generator of `sparse_embedding`."""

    def sparse(self, request: SparseRequest) -> Sequence[Mapping[str, float]]:
        """One token-weight mapping per text."""


class Reranker(Generator, Protocol):
    """A generator of `rerank`."""

    def rerank(self, request: RerankRequest) -> Sequence[float]:
        """One relevance score per document, in the documents' order."""


class Completer(Generator, Protocol):
    """A generator of `completion`."""

    def complete(self, request: CompletionRequest) -> str:
        """The completion's text."""


class ChatResponder(Generator, Protocol):
    """A generator of `chat_completion`."""

    def chat(self, request: ChatRequest) -> str:
        """The assistant reply's text."""
