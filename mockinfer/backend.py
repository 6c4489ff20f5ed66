"""In-memory state of one mockinfer server: endpoints, region policy and the call journal.

Handlers run on the server's event loop while a test reads the journal from its own thread,
so every access goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockinfer.wire.endpoints import DEFAULT_ENDPOINTS, RESERVED_IDS, Endpoint, reject_reserved
from mockinfer.wire.errors import EsError, endpoint_not_found, status_exception
from mockinfer.wire.tasks import TaskType


@dataclass(frozen=True)
class Call:
    """One request the server answered, as the journal records it."""

    method: str
    path: str
    query: Mapping[str, str]
    inference_id: str | None
    task_type: str | None
    body: Any
    status: int
    streamed: bool = False


@dataclass
class CallJournal:
    """The requests a server answered, in arrival order."""

    _calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: Call) -> None:
        """Append one answered call."""
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._calls.clear()

    def filter(
        self,
        *,
        inference_id: str | None = None,
        task_type: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
    ) -> list[Call]:
        """The calls matching every criterion given."""
        wanted = {
            "inference_id": inference_id,
            "task_type": task_type,
            "method": method,
            "path": path,
            "status": status,
        }
        return [
            call
            for call in self
            if all(value is None or getattr(call, key) == value for key, value in wanted.items())
        ]

    def __iter__(self) -> Iterator[Call]:
        with self._lock:
            return iter(list(self._calls))

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        with self._lock:
            return self._calls[index]


class Backend:
    """The endpoint registry (with the three default endpoints) and the region policy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._region_policy: dict[str, Any] | None = None
        self.journal = CallJournal()
        self.reset()

    def reset(self) -> None:
        """Back to a fresh cluster: default endpoints only, no policy, empty journal."""
        with self._lock:
            self._endpoints = {e.inference_id: e for e in DEFAULT_ENDPOINTS}
            self._region_policy = None
        self.journal.clear()

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
