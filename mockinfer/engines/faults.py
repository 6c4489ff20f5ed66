"""Faults: make matching requests fail, stall or break mid-stream, the first link of the chain.

A rule has the same fields on every surface (Python keyword arguments, the pytest marker, a
YAML or JSON file, the HTTP admin API):

- which requests: `inference_id`, `task_type`, `stream`, `method`, `path` (a glob), `input`
  (a substring of any input, the rerank query or the last user message), `header`
  (`{name: value-glob}`); omitted means any. A rule with a stream action matches streamed
  requests only unless `stream` says otherwise.
- when: `after` (let the first N matching requests through), `times` (fire N times, then
  stop), `probability` (0-1, drawn from the server seed, so a run is reproducible).
- what: `status` (the HTTP status the client receives; `retry_after` adds `Retry-After` and
  alone means 429), `error_type` and `reason` (override the body); `delay` (seconds before
  the response head); `event_delay` (extra seconds between stream events); `error_after`,
  `truncate_after`, `disconnect_after` (N stream events, then an error event, a clean close
  without `[DONE]`, or a reset connection); `disconnect` (reset before any response).

Bodies are what Elasticsearch sends when its provider fails (`BaseResponseHandler`'s wording,
`status_exception`), so application code sees exactly what it would see in production.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from mockinfer.engines.arguments import TASK_NAMES, is_count, is_number
from mockinfer.errors import ConfigurationError
from mockinfer.generators.seeds import canonical_json, unit_fraction
from mockinfer.wire.errors import EsError
from mockinfer.wire.results import Ending, StreamPlan

_ENDINGS = ("error_after", "truncate_after", "disconnect_after")
#: What a provider says when it rate-limits, as OpenAI words it.
_PROVIDER_RATE_LIMIT = "Rate limit reached for requests"
_PROVIDER_STREAM_ERROR = "The server had an error while processing your request"


@dataclass(frozen=True)
class FaultRule:
    """One fault: which requests it hits, when, and what happens to them (see the module)."""

    inference_id: str | None = None
    task_type: str | None = None
    stream: bool | None = None
    method: str | None = None
    path: str | None = None
    input: str | None = None
    header: Mapping[str, str] | None = None
    after: int = 0
    times: int | None = None
    probability: float = 1.0
    status: int | None = None
    retry_after: int | None = None
    error_type: str | None = None
    reason: str | None = None
    delay: float = 0.0
    event_delay: float = 0.0
    error_after: int | None = None
    truncate_after: int | None = None
    disconnect_after: int | None = None
    disconnect: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_mapping(cls, rule: Any, where: str = "fault") -> FaultRule:
        """A rule from a mapping with the contract's field names; errors name `where`."""
        if not isinstance(rule, Mapping):
            raise ConfigurationError(f"{where}: a fault rule is a mapping, got {rule!r}")
        unknown = sorted(str(k) for k in rule if k not in FIELD_NAMES)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(FIELD_NAMES)}"
            )
        try:
            return cls(**{str(k): v for k, v in rule.items()})
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults, with the contract's names."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                values[f.name] = dict(value) if isinstance(value, Mapping) else value
        return values

    @property
    def has_stream_action(self) -> bool:
        """Whether the rule slows or cuts streams."""
        return self.event_delay > 0 or any(getattr(self, name) is not None for name in _ENDINGS)

    @property
    def answers(self) -> bool:
        """Whether the fault answers instead of the chain (an error status, or a reset)."""
        return self.disconnect or (self.http_status is not None)

    @property
    def http_status(self) -> int | None:
        """The status the client receives in place of an answer, if the fault gives one."""
        if self.error_after is not None:
            return None
        if self.status is not None:
            return self.status
        return 429 if self.retry_after is not None else None


FIELD_NAMES = tuple(f.name for f in fields(FaultRule))


def _validate(rule: FaultRule) -> None:
    for name in ("inference_id", "method", "path", "input", "error_type", "reason"):
        value = getattr(rule, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    if rule.task_type is not None and rule.task_type not in TASK_NAMES:
        raise ConfigurationError(
            f"task_type must be one of {', '.join(TASK_NAMES)}, got {rule.task_type!r}"
        )
    for name in ("stream", "disconnect"):
        value = getattr(rule, name)
        if value is not None and not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be true or false, got {value!r}")
    if rule.header is not None and (
        not isinstance(rule.header, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in rule.header.items())
    ):
        raise ConfigurationError(f"header must map header names to values, got {rule.header!r}")
    _count("after", rule.after, minimum=0)
    _count("times", rule.times, minimum=1)
    for name in _ENDINGS:
        _count(name, getattr(rule, name), minimum=0)
    for name in ("delay", "event_delay"):
        _seconds(name, getattr(rule, name))
    if rule.retry_after is not None and not is_count(rule.retry_after, 0):
        # HTTP's Retry-After takes whole seconds (RFC 9110 delay-seconds).
        raise ConfigurationError(
            f"retry_after must be whole seconds >= 0, got {rule.retry_after!r}"
        )
    if not is_number(rule.probability) or not 0.0 <= rule.probability <= 1.0:
        raise ConfigurationError(f"probability must be between 0 and 1, got {rule.probability!r}")
    if rule.status is not None and (
        not isinstance(rule.status, int)
        or isinstance(rule.status, bool)
        or not 400 <= rule.status <= 599
    ):
        raise ConfigurationError(
            f"status must be an HTTP error status (400-599), got {rule.status!r}"
        )
    _check_actions(rule)


def _check_actions(rule: FaultRule) -> None:
    endings = [name for name in _ENDINGS if getattr(rule, name) is not None]
    if rule.disconnect:
        endings.append("disconnect")
    if len(endings) > 1:
        raise ConfigurationError(f"a fault ends a stream one way only, got {', '.join(endings)}")
    if rule.status is not None and endings and endings != ["error_after"]:
        raise ConfigurationError(f"status goes with error_after, not with {endings[0]}")
    if rule.retry_after is not None and endings:
        raise ConfigurationError(
            f"retry_after goes with an error status, not with {endings[0]}: it is a header of "
            "the error response"
        )
    if (rule.error_type or rule.reason) and rule.http_status is None and rule.error_after is None:
        raise ConfigurationError("error_type and reason go with status or error_after")
    if rule.stream is False and rule.has_stream_action:
        raise ConfigurationError("stream actions (event_delay, *_after) need stream requests")
    if not (rule.answers or rule.delay > 0 or rule.has_stream_action):
        raise ConfigurationError(
            "a fault needs something to do: status, retry_after, delay, event_delay, "
            "error_after, truncate_after, disconnect_after or disconnect"
        )


def _count(name: str, value: Any, *, minimum: int) -> None:
    if value is None:
        return
    if not is_count(value, minimum):
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _seconds(name: str, value: Any) -> None:
    if value is None:
        return
    if not is_number(value) or value < 0:
        raise ConfigurationError(f"{name} must be seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class RequestFacts:
    """What a rule can match on, read from one request."""

    method: str
    path: str
    inference_id: str | None = None
    task_type: str | None = None
    stream: bool = False
    texts: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The provider whose API the route speaks (`openai`); None for Elasticsearch's own.
    provider: str | None = None

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        return self.headers.get(name.lower())


def _matches(rule: FaultRule, facts: RequestFacts) -> bool:
    # Without `stream`, a rule that slows or cuts streams matches streams only.
    wants_stream = rule.has_stream_action if rule.stream is None else rule.stream
    if (rule.stream is not None or wants_stream) and wants_stream != facts.stream:
        return False
    if rule.inference_id is not None and rule.inference_id != facts.inference_id:
        return False
    if rule.task_type is not None and rule.task_type != facts.task_type:
        return False
    if rule.method is not None and rule.method.upper() != facts.method.upper():
        return False
    if rule.path is not None and not fnmatch.fnmatchcase(facts.path, rule.path):
        return False
    if rule.input is not None and not any(rule.input in text for text in facts.texts):
        return False
    for name, pattern in (rule.header or {}).items():
        value = facts.header(name)
        if value is None or not fnmatch.fnmatchcase(value, pattern):
            return False
    return True


@dataclass
class FaultHandle:
    """A registered fault: its id, its rule, and how often it fired."""

    id: str
    rule: FaultRule
    hits: int = 0
    seen: int = 0
    _registry: FaultRegistry | None = field(default=None, repr=False)
    #: The rule as `probability` draws are keyed: identical rules draw alike in every run.
    _draw_key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._draw_key = canonical_json(self.rule.as_dict())

    def remove(self) -> None:
        """Stop this fault."""
        if self._registry is not None:
            self._registry.remove(self.id)

    def as_dict(self) -> dict[str, Any]:
        """The rule with its id and hit count, as the admin API lists it."""
        return {"id": self.id, "hits": self.hits, **self.rule.as_dict()}


@dataclass(frozen=True)
class Firing:
    """A fault that fired on one request."""

    id: str
    rule: FaultRule

    def error(self, facts: RequestFacts) -> EsError | None:
        """The error answered instead of the request, for a status fault."""
        status = self.rule.http_status
        if status is None:
            return None
        headers = {}
        if self.rule.retry_after is not None:
            headers["Retry-After"] = str(self.rule.retry_after)
        error_type, reason = self._wording(status, facts, mid_stream=False)
        return EsError(status, error_type, reason, headers=headers)

    def cut(self, facts: RequestFacts, *, chat: bool) -> tuple[int, Ending, EsError | None] | None:
        """Where and how the rule ends a stream: (events kept, ending, error); None to leave it."""
        rule = self.rule
        if rule.error_after is not None:
            status = rule.status or 500
            error_type, reason = self._wording(status, facts, mid_stream=True, chat=chat)
            return rule.error_after, Ending.ERROR, EsError(status, error_type, reason)
        if rule.truncate_after is not None:
            return rule.truncate_after, Ending.TRUNCATED, None
        if rule.disconnect_after is not None:
            return rule.disconnect_after, Ending.DISCONNECTED, None
        return None

    def shape(self, plan: StreamPlan, facts: RequestFacts, *, chat: bool) -> StreamPlan:
        """The stream as this fault leaves it: slowed down, and cut where the rule says.

        A stream with fewer events than the cut point ends as it would have.
        """
        if self.rule.event_delay > 0:
            plan = plan.slowed(self.rule.event_delay)
        cut = self.cut(facts, chat=chat)
        if cut is None or cut[0] > len(plan.events):
            return plan
        return plan.cut(*cut)

    def _wording(
        self, status: int, facts: RequestFacts, *, mid_stream: bool, chat: bool = False
    ) -> tuple[str, str]:
        rule = self.rule
        # OpenAI's own type for an error in the middle of a chat stream.
        generic = chat and mid_stream and status == 500
        error_type = rule.error_type or ("server_error" if generic else None)
        if rule.reason is not None:
            return error_type or "status_exception", rule.reason
        return provider_failure(status, facts, error_type=error_type, mid_stream=mid_stream)


def provider_failure(
    status: int, facts: RequestFacts, *, error_type: str | None = None, mid_stream: bool = False
) -> tuple[str, str]:
    """(error type, reason) ES gives when the provider behind an endpoint answers `status`.

    Wording of ES's `BaseResponseHandler`; a timeout is ES's `timeout_exception`.
    """
    if facts.provider is not None:
        return error_type or "status_exception", _provider_message(facts.provider, status)
    entity = facts.inference_id
    if entity is None:
        # No provider stands behind this route, so no ES wording fits: say what happened.
        return error_type or "status_exception", (
            f"mockinfer fault: [{facts.method} {facts.path}] answered with status [{status}]"
        )
    if error_type == "timeout_exception" or (error_type is None and status == 408):
        return "timeout_exception", f"Request timed out after [30s] for inference id [{entity}]"
    if mid_stream and status == 500:
        prefix = "Received an error response"
        reason = f"{prefix} for request from inference entity id [{entity}]"
        return (
            error_type or "status_exception",
            f"{reason}. Error message: [{_PROVIDER_STREAM_ERROR}]",
        )
    prefix = _PREFIXES.get(status) or (
        "Received a server error status code"
        if status >= 500
        else "Received an unsuccessful status code"
    )
    reason = f"{prefix} for request from inference entity id [{entity}] status [{status}]"
    if status == 429:
        reason += f". Error message: [{_PROVIDER_RATE_LIMIT}]"
    return error_type or "status_exception", reason


_PREFIXES = {
    400: "Received a bad request status code",
    401: "Received an authentication error status code",
    403: "Received a permission denied error status code",
    413: "Received a content too large status code",
    422: "Received an input validation error response",
    429: "Received a rate limit status code",
    503: "Received a server busy error status code",
}


#: What the providers themselves say with each status, on their own routes.
_PROVIDER_MESSAGES: Mapping[str, Mapping[int, str]] = {
    "openai": {
        400: "Bad request",
        401: "Incorrect API key provided.",
        403: "You are not allowed to sample from this model",
        404: "The requested resource was not found",
        408: "Request timed out.",
        429: _PROVIDER_RATE_LIMIT,
        500: f"{_PROVIDER_STREAM_ERROR}. Sorry about that!",
        503: "The engine is currently overloaded, please try again later",
    },
    "cohere": {
        400: "invalid request",
        401: "invalid api token",
        429: "You are using a Trial key, which is limited to 10 API calls / minute",
        500: "internal server error, this has been reported to our developers",
        503: "service unavailable",
    },
    "hugging_face": {
        413: "Input validation error: inputs must have less than 512 tokens",
        429: "Model is overloaded",
        503: "Model is currently loading",
    },
}


def _provider_message(provider: str, status: int) -> str:
    known = _PROVIDER_MESSAGES.get(provider, {}).get(status)
    if known is not None:
        return known
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status {status}"


class FaultRegistry:
    """The faults of one server, tried newest first; the first that fires wins."""

    def __init__(self) -> None:
        self._faults: list[FaultHandle] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule) -> FaultHandle:
        """Register a fault and return its handle."""
        with self._lock:
            handle = FaultHandle(f"fault-{next(self._ids)}", rule, _registry=self)
            self._faults.insert(0, handle)
        return handle

    def remove(self, fault_id: str) -> bool:
        """Remove one fault by id; whether it was there."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        return len(self._faults)

    def __iter__(self) -> Iterator[FaultHandle]:
        with self._lock:
            return iter(list(reversed(self._faults)))

    def fire(self, facts: RequestFacts, seed: int) -> Firing | None:
        """The fault that fires on this request; None when none does.

        Every matching rule counts the request (so `after` counts requests another fault
        answered too); the newest rule that is due fires.
        """
        with self._lock:
            due: FaultHandle | None = None
            for handle in self._faults:
                if not _matches(handle.rule, facts):
                    continue
                handle.seen += 1
                if due is None and _is_due(handle, seed):
                    due = handle
            if due is None:
                return None
            due.hits += 1
            return Firing(due.id, due.rule)


def _is_due(handle: FaultHandle, seed: int) -> bool:
    rule = handle.rule
    if handle.seen <= rule.after or (rule.times is not None and handle.hits >= rule.times):
        return False
    if rule.probability >= 1.0:
        return True
    draw = unit_fraction(str(seed), "fault", handle._draw_key, str(handle.seen))
    return draw < rule.probability


def load_rules(path: Path) -> list[FaultRule]:
    """The rules of a YAML or JSON file holding a list of rules."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read fault file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"{path} is not valid {path.suffix[1:] or 'YAML'}: {exc}"
        ) from None
    return rules_from(data, str(path))


def rules_from(data: Any, where: str) -> list[FaultRule]:
    """Rules from a list of mappings (a file's content, or the marker's `faults=`)."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise ConfigurationError(f"{where}: faults are a list of rules, got {data!r}")
    return [FaultRule.from_mapping(rule, f"{where}: fault {i + 1}") for i, rule in enumerate(data)]
