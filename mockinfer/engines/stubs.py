"""Stubs: replies a test registers for the requests it cares about.

A stub matches on inference id, task type and the request's text (any input, the rerank
query, or the last user message of a chat). Stubs win over generation; a request that no
stub matches falls through to the synthesize engine. For embeddings a stub answers per
input, so a batch mixes stubbed and generated vectors exactly as a model would answer each
input on its own.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockinfer.engines.replies import JsonReply, StreamReply, compact_json, message_stream
from mockinfer.wire.errors import EsError

TextMatcher = str | re.Pattern[str] | Callable[[str], bool] | None


@dataclass(frozen=True)
class StubToolCall:
    """A tool call a stubbed chat reply makes."""

    name: str
    arguments: Mapping[str, Any]
    id: str = "call_stub"


@dataclass
class Stub:
    """One registered reply and the requests it answers.

    Give exactly one kind of reply:
    - `body` (with `status`): the whole JSON answer, errors included;
    - `error`: `(status, type, reason)` served as the ES error envelope;
    - `result`: the per-input result of an embedding task (a vector, or a token-weight map);
    - `text`: completion text or chat content (streamed as `deltas` split on spaces);
    - `deltas` (with `gaps`, seconds before each event): a scripted completion or chat stream;
    - `chunks` (with `gaps`): raw chat chunk objects streamed as they are;
    - `tool_calls`: a chat reply that calls tools.
    `times` limits how often the stub answers (None: always).
    """

    inference_id: str | None = None
    task_type: str | None = None
    match: TextMatcher = None
    body: Any = None
    status: int = 200
    error: tuple[int, str, str] | None = None
    result: Any = None
    text: str | None = None
    deltas: Sequence[str] | None = None
    chunks: Sequence[Mapping[str, Any]] | None = None
    tool_calls: Sequence[StubToolCall] | None = None
    gaps: Sequence[float] | None = None
    times: int | None = None
    used: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        given = [
            name
            for name in ("body", "error", "result", "text", "deltas", "chunks", "tool_calls")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(f"a stub needs exactly one reply, got {given or 'none'}")
        if self.gaps is not None and self.deltas is None and self.chunks is None:
            raise ValueError("gaps go with deltas or chunks")

    def matches_target(self, inference_id: str, task_type: str) -> bool:
        """Whether the stub is for this endpoint and task type, and its reply fits the task."""
        if self.times is not None and self.used >= self.times:
            return False
        if self.tool_calls is not None and task_type != "chat_completion":
            return False
        generative = ("completion", "chat_completion")
        if (self.text, self.deltas, self.chunks) != (
            None,
            None,
            None,
        ) and task_type not in generative:
            return False
        return self.inference_id in (None, inference_id) and self.task_type in (None, task_type)

    def matches_text(self, text: str) -> bool:
        """Whether the stub's matcher accepts this text (no matcher accepts everything)."""
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match == text
        if isinstance(self.match, re.Pattern):
            return self.match.search(text) is not None
        return bool(self.match(text))

    def whole_reply(self) -> JsonReply | None:
        """The reply of a `body` or `error` stub, which answers the whole request."""
        if self.error is not None:
            status, error_type, reason = self.error
            raise EsError(status, error_type, reason)
        if self.body is not None:
            return JsonReply(self.body, self.status)
        return None

    def scripted_events(self, frame: Callable[[str, bool], Mapping[str, Any]]) -> StreamReply:
        """The stream of a `deltas`, `chunks` or `text` stub; `frame(delta, first)` wraps deltas."""
        if self.chunks is not None:
            payloads = [dict(chunk) for chunk in self.chunks]
        else:
            pieces = list(self.deltas) if self.deltas is not None else _split(self.text or "")
            payloads = [dict(frame(piece, i == 0)) for i, piece in enumerate(pieces)]
        gaps = list(self.gaps or [])
        offsets = list(
            itertools.accumulate(
                gaps[i] if i < len(gaps) else 0.0 for i in range(len(payloads) + 1)
            )
        )
        return message_stream([compact_json(p) for p in payloads], offsets)


def _split(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


class StubRegistry:
    """The stubs of one server, tried newest first so a test can override a broader stub."""

    def __init__(self) -> None:
        self._stubs: list[Stub] = []
        self._lock = threading.Lock()

    def add(self, stub: Stub) -> Stub:
        """Register a stub."""
        with self._lock:
            self._stubs.insert(0, stub)
        return stub

    def clear(self) -> None:
        """Forget every stub."""
        with self._lock:
            self._stubs.clear()

    def find(self, inference_id: str, task_type: str, texts: Sequence[str]) -> Stub | None:
        """The newest whole-request stub for this target matching any of the texts."""
        with self._lock:
            for stub in self._stubs:
                if (
                    stub.result is None
                    and stub.matches_target(inference_id, task_type)
                    and any(stub.matches_text(t) for t in texts)
                ):
                    stub.used += 1
                    return stub
        return None

    def per_input(self, inference_id: str, task_type: str, text: str) -> Stub | None:
        """The newest `result` stub for one input of an embedding request."""
        with self._lock:
            for stub in self._stubs:
                if (
                    stub.result is not None
                    and stub.matches_target(inference_id, task_type)
                    and stub.matches_text(text)
                ):
                    stub.used += 1
                    return stub
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._stubs)
