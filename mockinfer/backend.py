"""In-memory state of one mockinfer server: endpoints, region policy and the call journal.

Handlers run on the server's event loop while a test reads the journal from its own thread,
so every access goes through one lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mockinfer.errors import CallTimeout
from mockinfer.wire.endpoints import DEFAULT_ENDPOINTS, RESERVED_IDS, Endpoint, reject_reserved
from mockinfer.wire.errors import EsError, endpoint_not_found, status_exception
from mockinfer.wire.models import BUILT_IN_MODELS, TrainedModel, model_of
from mockinfer.wire.tasks import TaskType

#: What answered a call: a fault, a stub, the cassette, the upstream cluster (recording), or
#: mockinfer itself (the registry, validation and the generators).
SOURCES = ("fault", "stub", "cassette", "upstream", "synthesis")
#: What `CallJournal.filter` and `wait_for` select calls by.
CRITERIA = ("inference_id", "task_type", "method", "path", "status", "source")


@dataclass(frozen=True, slots=True)
class Call:
    """One request the server answered, as the journal records it.

    `status` is None when a fault reset the connection before any response. `complete` turns
    true when the response body has ended; `ending` then says how a stream ended (`done`,
    `error`, `truncated` or `disconnected`). `source` is what answered (see `SOURCES`) and
    `fault` the id of the fault that fired on the call, if one did.
    """

    method: str
    path: str
    query: Mapping[str, str]
    inference_id: str | None
    task_type: str | None
    body: Any
    status: int | None
    streamed: bool = False
    source: str = "synthesis"
    fault: str | None = None
    complete: bool = True
    ending: str | None = None


@dataclass
class CallJournal:
    """The requests a server answered, in the order their responses began.

    A call is recorded when its response head is sent and completed when its body ends, so
    a client that has read a whole response always finds its call here. A long-running
    server bounds it: `limit` keeps the newest calls, `body_limit` keeps no body larger
    than that many bytes (None: keep everything, as a test wants).
    """

    limit: int | None = None
    body_limit: int | None = None
    _calls: deque[Call] = field(default_factory=deque)
    #: Calls dropped from the front since the last clear, so tokens stay valid.
    _dropped: int = 0
    _generation: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    #: Threads in `wait_for`: only they need waking, and most runs have none.
    _waiting: int = 0

    def begin(self, call: Call) -> tuple[int, int]:
        """Record a call whose response has begun; returns the token to complete it with."""
        with self._changed:
            if self.limit is not None and len(self._calls) >= self.limit:
                self._calls.popleft()
                self._dropped += 1
            self._calls.append(call)
            if self._waiting:
                self._changed.notify_all()
            return self._generation, self._dropped + len(self._calls) - 1

    def complete(self, token: tuple[int, int], ending: str | None = None) -> None:
        """Mark a call complete (unless the journal was cleared since it began)."""
        generation, position = token
        with self._changed:
            index = position - self._dropped
            if generation != self._generation or index < 0 or self._calls[index].complete:
                return
            self._calls[index] = replace(self._calls[index], complete=True, ending=ending)
            if self._waiting:
                self._changed.notify_all()

    def clear(self) -> None:
        """Forget every call."""
        with self._changed:
            self._calls.clear()
            self._dropped = 0
            self._generation += 1

    def filter(
        self,
        *,
        inference_id: str | None = None,
        task_type: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        source: str | None = None,
    ) -> list[Call]:
        """The calls matching every criterion given."""
        _check_source(source)
        wanted = {
            "inference_id": inference_id,
            "task_type": task_type,
            "method": method,
            "path": path,
            "status": status,
            "source": source,
        }
        return [call for call in self if _matches(call, wanted)]

    def wait_for(self, count: int, timeout: float = 5.0, **criteria: Any) -> list[Call]:
        """Wait until `count` complete calls match `criteria` (as `filter` takes them).

        Returns the complete matching calls; raises `CallTimeout` after `timeout` seconds,
        listing the calls seen. For calls a client makes in the background, or a stream
        whose reader stops before the end.
        """
        unknown = set(criteria) - set(CRITERIA)
        if unknown:
            raise TypeError(f"wait_for() got unknown criteria: {', '.join(sorted(unknown))}")
        _check_source(criteria.get("source"))
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                done = [c for c in self._calls if c.complete and _matches(c, criteria)]
                if len(done) >= count:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(f"{c.method} {c.path} -> {c.status}" for c in self._calls)
                    raise CallTimeout(
                        f"expected {count} complete call(s) matching {criteria or 'anything'} "
                        f"within {timeout} s, got {len(done)}; calls so far:\n  {seen or '(none)'}"
                    )
                self._waiting += 1
                try:
                    self._changed.wait(left)
                finally:
                    self._waiting -= 1

    def __iter__(self) -> Iterator[Call]:
        with self._changed:
            return iter(list(self._calls))

    def __len__(self) -> int:
        with self._changed:
            return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        with self._changed:
            return self._calls[index]


def _check_source(source: str | None) -> None:
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")


def _matches(call: Call, wanted: Mapping[str, Any]) -> bool:
    return all(value is None or getattr(call, key) == value for key, value in wanted.items())


class Backend:
    """The endpoint registry (with the three default endpoints), trained models, region policy.

    `models` are declared for the server's whole life; `declare_model` adds one until reset.
    """

    def __init__(
        self, models: Sequence[TrainedModel] = (), journal: CallJournal | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._configured = {m.model_id: m for m in models}
        self._declared: dict[str, TrainedModel] = {}
        self._region_policy: dict[str, Any] | None = None
        self.journal = journal if journal is not None else CallJournal()
        self.reset()

    def reset(self) -> None:
        """Back to a fresh cluster: default endpoints and configured models, empty journal."""
        with self._lock:
            self._endpoints = {e.inference_id: e for e in DEFAULT_ENDPOINTS}
            self._declared = dict(self._configured)
            self._region_policy = None
        self.journal.clear()

    def declare_model(self, model: TrainedModel) -> TrainedModel:
        """Make a trained model known (until the next reset), replacing one of the same id."""
        with self._lock:
            self._declared[model.model_id] = model
        return model

    def models(self) -> list[TrainedModel]:
        """Every trained model, sorted by id: built-in, declared, and run by endpoints."""
        with self._lock:
            found = {m.model_id: m for m in BUILT_IN_MODELS}
            for endpoint in self._endpoints.values():
                model = model_of(endpoint)
                if model is not None:
                    found.setdefault(model.model_id, model)
            found.update(self._declared)
        return [found[k] for k in sorted(found)]

    def model(self, model_id: str) -> TrainedModel | None:
        """One trained model by id, or None."""
        return next((m for m in self.models() if m.model_id == model_id), None)

    def get(self, inference_id: str, task_type: TaskType | None = None) -> Endpoint:
        """One endpoint; 404 when unknown, 400 when the task type does not match."""
        with self._lock:
            endpoint = self._endpoints.get(inference_id)
        if endpoint is None:
            raise endpoint_not_found(inference_id)
        if task_type is not None and task_type is not endpoint.task_type:
            raise status_exception(
                f"Requested task type [{task_type.value}] does not match the inference "
                f"endpoint's task type [{endpoint.task_type.value}]"
            )
        return endpoint

    def has(self, inference_id: str) -> bool:
        """Whether an endpoint with this id exists."""
        with self._lock:
            return inference_id in self._endpoints

    def list(self, task_type: TaskType | None = None) -> list[Endpoint]:
        """Every endpoint (of one task type), sorted by id as ES sorts them."""
        with self._lock:
            endpoints = sorted(self._endpoints.values(), key=lambda e: e.inference_id)
        return [e for e in endpoints if task_type is None or e.task_type is task_type]

    def create(self, endpoint: Endpoint) -> Endpoint:
        """Store a new endpoint; reserved and existing ids are refused as ES refuses them."""
        reject_reserved(endpoint.inference_id)
        with self._lock:
            if endpoint.inference_id in self._endpoints:
                raise EsError(
                    400,
                    "resource_already_exists_exception",
                    f"Inference endpoint [{endpoint.inference_id}] already exists",
                )
            self._endpoints[endpoint.inference_id] = endpoint
        return endpoint

    def replace(self, endpoint: Endpoint) -> Endpoint:
        """Store an updated endpoint under its existing id."""
        with self._lock:
            if endpoint.inference_id not in self._endpoints:
                raise endpoint_not_found(endpoint.inference_id)
            self._endpoints[endpoint.inference_id] = endpoint
        return endpoint

    def delete(
        self, inference_id: str, task_type: TaskType | None, *, force: bool, dry_run: bool
    ) -> bool:
        """Delete an endpoint; returns whether it was deleted (`False` for a dry run)."""
        self.get(inference_id, task_type)
        if inference_id in RESERVED_IDS and not force and not dry_run:
            raise status_exception(
                f"[{inference_id}] is a reserved inference endpoint. Use the force=true query "
                "parameter to delete the inference endpoint."
            )
        if dry_run:
            return False
        with self._lock:
            self._endpoints.pop(inference_id, None)
        return True

    def region_policy(self) -> dict[str, Any]:
        """The region policy document; 404 when none is configured."""
        with self._lock:
            if self._region_policy is None:
                raise _no_region_policy()
            return self._region_policy

    def put_region_policy(self, policy: dict[str, Any], now: str) -> dict[str, Any]:
        """Create or replace the policy, keeping its creation time across replacements."""
        with self._lock:
            stored: dict[str, Any] = {"region_policy": policy, "created_at": now}
            if self._region_policy is not None:
                stored["created_at"] = self._region_policy["created_at"]
                stored["updated_at"] = now
            self._region_policy = stored
            return stored

    def delete_region_policy(self) -> None:
        """Remove the policy; 404 when none is configured."""
        with self._lock:
            if self._region_policy is None:
                raise _no_region_policy()
            self._region_policy = None


def _no_region_policy() -> EsError:
    return EsError(
        404, "resource_not_found_exception", "No region policy is configured for this deployment"
    )
