"""Task types and the result keys each one answers with."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class TaskType(str, Enum):
    """The task types an inference endpoint can serve (`TaskType.ts` in the specification)."""

    SPARSE_EMBEDDING = "sparse_embedding"
    TEXT_EMBEDDING = "text_embedding"
    RERANK = "rerank"
    COMPLETION = "completion"
    CHAT_COMPLETION = "chat_completion"
    EMBEDDING = "embedding"

    def __str__(self) -> str:
        return self.value


#: Task types by name: a lookup here is a tenth of the cost of calling the enum.
TASK_TYPES_BY_NAME: Mapping[str, TaskType] = {t.value: t for t in TaskType}

#: Task types whose endpoints produce dense vectors and get dimensions and similarity.
DENSE_TASKS = frozenset({TaskType.TEXT_EMBEDDING, TaskType.EMBEDDING})
#: Task types whose endpoints get default chunking settings.
CHUNKED_TASKS = frozenset({TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.EMBEDDING})
#: Task types that may be streamed over `_stream`.
STREAMING_TASKS = frozenset({TaskType.COMPLETION, TaskType.CHAT_COMPLETION})

ELEMENT_TYPES = ("float", "byte", "bit")


def dense_result_key(task_type: TaskType, element_type: str) -> str:
    """The top-level key of a dense result, e.g. `text_embedding_bytes` or `embeddings_bits`."""
    base = "text_embedding" if task_type is TaskType.TEXT_EMBEDDING else "embeddings"
    suffix = {"float": "", "byte": "_bytes", "bit": "_bits"}[element_type]
    return base + suffix
