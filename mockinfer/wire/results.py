"""What engines answer with: typed results and stream plans, free of any wire format.

A result says *what* the answer is (vectors, token weights, ranked documents, text, a chat
reply); a dialect in `mockinfer.dialects` says how it is written on the wire. A stream plan is
the events of a streamed answer, each with its offset from the start of the response, and how
the stream ends. Faults rewrite plans (cut them short, slow them down) without knowing which
source made them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from mockinfer.wire.errors import EsError
from mockinfer.wire.tasks import TaskType


@dataclass(frozen=True)
class DenseEmbeddings:
    """One vector per input: float32 (or int8 for byte and bit elements) numpy rows, or lists.

    Rows are read-only and may be shared between replies, so a renderer may cache their
    encoding by identity.
    """

    task_type: TaskType
    element_type: str
    vectors: tuple[Any, ...]


@dataclass(frozen=True)
class SparseEmbedding:
    """Token weights of one input, and whether the input was cut at the model's limit."""

    weights: Mapping[str, float]
    is_truncated: bool = False


@dataclass(frozen=True)
class SparseEmbeddings:
    """One token-weight map per input."""

    items: tuple[SparseEmbedding, ...]


@dataclass(frozen=True)
class RankedDocument:
    """One rerank result: the document's input position, its score and, optionally, its text."""

    index: int
    relevance_score: float
    text: str | None


@dataclass(frozen=True)
class Ranking:
    """Rerank results, best first."""

    documents: tuple[RankedDocument, ...]


@dataclass(frozen=True)
class Completion:
    """The text of a non-streamed completion."""

    text: str


@dataclass(frozen=True)
class ToolCall:
    """One function call requested by the assistant; `arguments` is JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatReply:
    """A complete assistant reply, rendered as one object or as stream chunks."""

    id: str
    model: str
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Document:
    """A JSON document served as it is: registry answers, whole-body stubs."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Recorded:
    """A response replayed as recorded: status, headers and exact body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


Result = DenseEmbeddings | SparseEmbeddings | Ranking | Completion | ChatReply | Document | Recorded


@dataclass(frozen=True)
class CompletionDelta:
    """A piece of streamed completion text."""

    text: str


@dataclass(frozen=True)
class ChatChunk:
    """One `chat.completion.chunk` object of a streamed chat reply."""

    chunk: Mapping[str, Any]


@dataclass(frozen=True)
class JsonEvent:
    """A JSON payload sent as one message event (a whole-body stub on a stream)."""

    payload: Any


@dataclass(frozen=True)
class RawEvent:
    """A recorded event: its exact framed bytes, served as they are."""

    raw: bytes


StreamEvent = CompletionDelta | ChatChunk | JsonEvent | RawEvent


class Ending(str, Enum):
    """How a stream ends."""

    DONE = "done"
    """The `[DONE]` event."""
    ERROR = "error"
    """One error event, no `[DONE]`."""
    TRUNCATED = "truncated"
    """A clean close without `[DONE]`."""
    DISCONNECTED = "disconnected"
    """The connection is reset."""


@dataclass(frozen=True)
class Timed:
    """An event and its offset in seconds from the start of the response."""

    event: StreamEvent
    offset: float = 0.0


@dataclass(frozen=True)
class StreamPlan:
    """The events of a streamed answer, their timing and how the stream ends.

    `end_offset` is when the ending is written. `closing` holds the recorded bytes of the
    `[DONE]` event of a replayed stream, so that a replay writes exactly what was recorded.
    """

    events: tuple[Timed, ...]
    ending: Ending = Ending.DONE
    end_offset: float = 0.0
    error: EsError | None = None
    closing: bytes | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()

    def cut(self, count: int, ending: Ending, error: EsError | None = None) -> StreamPlan:
        """The first `count` events, then `ending` when the next event (or the end) was due."""
        kept = self.events[:count]
        end = self.events[count].offset if count < len(self.events) else self.end_offset
        return replace(self, events=kept, ending=ending, end_offset=end, error=error, closing=None)

    def slowed(self, gap: float) -> StreamPlan:
        """`gap` more seconds before every event after the first, and before the ending."""
        events = tuple(replace(t, offset=t.offset + gap * i) for i, t in enumerate(self.events))
        return replace(self, events=events, end_offset=self.end_offset + gap * len(self.events))


def timed_stream(
    events: Sequence[StreamEvent], offsets: Sequence[float], ending: Ending = Ending.DONE
) -> StreamPlan:
    """A plan from events and their offsets; `offsets` has one more entry, for the ending."""
    if len(offsets) != len(events) + 1:
        raise ValueError(f"{len(events)} events need {len(events) + 1} offsets, not {len(offsets)}")
    timed = tuple(Timed(e, offset) for e, offset in zip(events, offsets[:-1], strict=True))
    return StreamPlan(timed, ending=ending, end_offset=offsets[-1])
