"""Generators written the way a test suite writes its own: plain classes, no packaging."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

from mockinfer.plugins import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Refusal,
    RerankRequest,
    SparseRequest,
)


def unit(text: str, dimensions: int) -> list[float]:
    """A vector that depends on the text alone: its digest's bytes, centred."""
    digest = hashlib.shake_256(text.encode()).digest(dimensions)
    return [(byte - 127.5) / 127.5 for byte in digest]


class Echo:
    """Serves every task from the text itself, and counts what it was asked."""

    name = "echo"
    version = "1.2.3"
    tasks = frozenset(
        {
            "text_embedding",
            "embedding",
            "sparse_embedding",
            "rerank",
            "completion",
            "chat_completion",
        }
    )
    deterministic = True
    models = ("Echo-Model", "org/echo-model")
    services: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self.targets: list[Any] = []

    def embed(self, request: EmbeddingRequest) -> list[list[float]]:
        self.embedded.extend(request.texts)
        self.targets.append(request.target)
        return [unit(text, request.dimensions) for text in request.texts]

    def sparse(self, request: SparseRequest) -> list[dict[str, float]]:
        return [{word: float(len(word)) for word in text.split()} for text in request.texts]

    def rerank(self, request: RerankRequest) -> list[float]:
        return [float(len(document)) for document in request.documents]

    def complete(self, request: CompletionRequest) -> str:
        return f"echo: {request.prompt}"

    def chat(self, request: ChatRequest) -> str:
        return "echo: " + str(request.messages[-1].get("content"))


class Wrong:
    """Answers whatever it was told to answer, for every task."""

    version = "0.0.1"
    tasks = frozenset({"text_embedding", "rerank", "completion", "sparse_embedding"})
    deterministic = True
    models = ("wrong-model",)
    services: tuple[str, ...] = ()

    def __init__(self, answer: Any, name: str = "wrong") -> None:
        self.name = name
        self.answer = answer

    def _give(self, request: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    embed = sparse = rerank = complete = _give


class Fickle:
    """A generator that says it is not deterministic: nothing it answers is cached."""

    name = "fickle"
    version = "1"
    tasks = frozenset({"text_embedding"})
    deterministic = False
    models = ("fickle-model",)
    services: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, request: EmbeddingRequest) -> list[list[float]]:
        self.calls += 1
        return [unit(f"{text}{self.calls}", request.dimensions) for text in request.texts]


class Gated:
    """Waits for a gate the test opens only after another request has been answered."""

    name = "gated"
    version = "1"
    tasks = frozenset({"text_embedding"})
    deterministic = True
    models = ("gated-model",)
    services: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed(self, request: EmbeddingRequest) -> Sequence[Sequence[float]]:
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the gate never opened: the server was blocked")
        return [unit(text, request.dimensions) for text in request.texts]


class Picky:
    """Refuses every dimension count but 8, with the cluster's wording."""

    name = "picky"
    version = "1"
    tasks = frozenset({"text_embedding"})
    deterministic = True
    models: tuple[str, ...] = ()
    services = ("openai",)

    def embed(self, request: EmbeddingRequest) -> list[list[float]]:
        if request.dimensions != 8:
            raise Refusal(
                400,
                f"The retrieved embeddings size [8] does not match the size specified in the "
                f"settings [{request.dimensions}]. Please recreate the "
                f"[{request.target.inference_id}] configuration with the correct dimensions",
            )
        return [unit(text, 8) for text in request.texts]
