"""Matching live requests to recorded interactions.

Every matcher reduces a request to a hashable value, so a cassette is indexed once by the
tuple of its matchers' values and each lookup is a dictionary access, whatever its size.
Identical requests play in recorded order.
"""

from __future__ import annotations

import difflib
import functools
import json
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mockinfer.cassette.format import Interaction, RecordedRequest
from mockinfer.settings import DEFAULT_MATCHERS as DEFAULT_MATCHERS

#: Query parameters that never change a response's content.
VOLATILE_QUERY = frozenset({"timeout", "master_timeout", "error_trace", "human", "pretty"})


def canonical_body(body: bytes) -> Hashable:
    """JSON parsed with keys sorted; other bodies as their bytes."""
    if not body:
        return None
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):  # too deep to canonicalise: matched as it stands
        return body


def _query(request: RecordedRequest) -> Hashable:
    pairs = parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)
    return tuple(sorted((k, v) for k, v in pairs if k not in VOLATILE_QUERY))


MATCHERS: dict[str, Callable[[RecordedRequest], Hashable]] = {
    "method": lambda r: r.method.upper(),
    "path": lambda r: unquote(urlsplit(r.uri).path).rstrip("/") or "/",
    "query": _query,
    "body": lambda r: canonical_body(r.body),
    "host": lambda r: urlsplit(r.uri).hostname,
    "port": lambda r: urlsplit(r.uri).port,
    "scheme": lambda r: urlsplit(r.uri).scheme,
}


def check_matchers(names: Sequence[str]) -> tuple[str, ...]:
    """The matcher names, or a ValueError listing the valid ones."""
    if not names:
        raise ValueError(f"at least one matcher is needed; valid: {', '.join(MATCHERS)}")
    unknown = [n for n in names if n not in MATCHERS]
    if unknown:
        raise ValueError(f"unknown matcher(s) {unknown}; valid: {', '.join(MATCHERS)}")
    return tuple(names)


class Miss:
    """Why a request matched nothing (`no-cassette`, `no-match` or `exhausted`), explained
    when the explanation is read: finding the nearest recorded request takes a pass over the
    cassette, wasted on a request that is then recorded or synthesized."""

    def __init__(
        self, kind: str, explanation: str | Callable[[], str], summary: str | None = None
    ) -> None:
        self.kind = kind
        self._explanation = explanation
        #: One line naming the request, without the search for the nearest recording.
        self.summary = summary if summary is not None else str(explanation)

    @functools.cached_property
    def explanation(self) -> str:
        """What matched nothing, and what came nearest."""
        if isinstance(self._explanation, str):
            return self._explanation
        return self._explanation()


def describe(request: RecordedRequest) -> str:
    """`METHOD path body` of a request, for messages."""
    body = request.body.decode("utf-8", "replace") if request.body else "(no body)"
    if len(body) > 300:
        body = body[:300] + "..."
    return f"{request.method} {urlsplit(request.uri).path} {body}"


class MatchIndex:
    """The interactions of a cassette indexed by their matcher key, each played once."""

    def __init__(self, interactions: Sequence[Interaction], matchers: Sequence[str]) -> None:
        self.matchers = check_matchers(matchers)
        self._interactions = list(interactions)
        self._lock = threading.Lock()
        self._queues: dict[tuple[Hashable, ...], list[int]] = {}
        #: Per key, how many of its positions are played: they play in order, so the played
        #: ones are always the first, and a lookup never walks them again.
        self._cursors: dict[tuple[Hashable, ...], int] = {}
        self._played: set[int] = set()
        for position, interaction in enumerate(self._interactions):
            self._queues.setdefault(self.key(interaction.request), []).append(position)

    def key(self, request: RecordedRequest) -> tuple[Hashable, ...]:
        """The matcher values of a request."""
        return tuple(MATCHERS[name](request) for name in self.matchers)

    def add(self, interaction: Interaction) -> None:
        """Index a newly recorded interaction, as played: it has just answered its request."""
        with self._lock:
            position = len(self._interactions)
            self._interactions.append(interaction)
            self._queues.setdefault(self.key(interaction.request), []).append(position)
            self._played.add(position)

    def play(self, request: RecordedRequest) -> Interaction | Miss:
        """The first unplayed interaction matching `request`, or why there is none."""
        key = self.key(request)
        with self._lock:
            positions = self._queues.get(key, [])
            cursor = self._cursors.get(key, 0)
            while cursor < len(positions) and positions[cursor] in self._played:
                cursor += 1
            if cursor < len(positions):
                self._cursors[key] = cursor + 1
                self._played.add(positions[cursor])
                return self._interactions[positions[cursor]]
            self._cursors[key] = cursor
        if positions:
            return Miss(
                "exhausted",
                f"all {len(positions)} recorded interaction(s) matching {describe(request)} "
                "were already played",
            )
        summary = f"no recorded interaction matches {describe(request)}"
        return Miss("no-match", lambda: f"{summary}; {self._nearest(request)}", summary)

    @property
    def interactions(self) -> list[Interaction]:
        """Every indexed interaction in recorded order."""
        with self._lock:
            return list(self._interactions)

    def played(self) -> set[int]:
        """The positions, in recorded order, of the interactions requests played."""
        with self._lock:
            return set(self._played)

    def unplayed(self) -> list[Interaction]:
        """Interactions no request has played yet, in recorded order."""
        with self._lock:
            return [i for n, i in enumerate(self._interactions) if n not in self._played]

    def _nearest(self, request: RecordedRequest) -> str:
        if not self._interactions:
            return "the cassette is empty"
        method, path = MATCHERS["method"](request), MATCHERS["path"](request)
        same_route = [
            i.request
            for i in self._interactions
            if MATCHERS["method"](i.request) == method and MATCHERS["path"](i.request) == path
        ]
        if same_route:
            nearest = min(same_route, key=lambda r: len(_differences(r, request)))
        else:
            nearest = max(
                (i.request for i in self._interactions),
                key=lambda r: difflib.SequenceMatcher(None, describe(r), describe(request)).ratio(),
            )
        differences = "; ".join(_differences(nearest, request)) or "only matchers outside the body"
        return f"nearest recorded: {describe(nearest)}; what differs: {differences}"


def _differences(recorded: RecordedRequest, live: RecordedRequest) -> list[str]:
    out: list[str] = []
    for name in ("method", "path", "query"):
        if MATCHERS[name](recorded) != MATCHERS[name](live):
            out.append(name)
    out.extend(_json_differences(_parse(recorded.body), _parse(live.body), "body"))
    return out


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _json_differences(recorded: Any, live: Any, where: str) -> list[str]:
    if isinstance(recorded, dict) and isinstance(live, dict):
        out: list[str] = []
        for key in sorted(set(recorded) | set(live)):
            if key not in live:
                out.append(f"{where}.{key} (recorded only)")
            elif key not in recorded:
                out.append(f"{where}.{key} (live only)")
            else:
                out.extend(_json_differences(recorded[key], live[key], f"{where}.{key}"))
        return out
    if isinstance(recorded, list) and isinstance(live, list) and len(recorded) == len(live):
        return [
            d
            for i, (a, b) in enumerate(zip(recorded, live, strict=True))
            for d in _json_differences(a, b, f"{where}[{i}]")
        ]
    if recorded != live:
        if isinstance(recorded, str) and isinstance(live, str):
            return [_text_difference(recorded, live, where)]
        return [f"{where}: recorded {shortened(recorded)} vs live {shortened(live)}"]
    return []


#: Characters shown on each side of the first difference between two texts.
_CONTEXT = 30


def _text_difference(recorded: str, live: str, where: str) -> str:
    """Where two texts first differ, with the text around that place in each."""
    at = next(
        (i for i, (a, b) in enumerate(zip(recorded, live, strict=False)) if a != b),
        min(len(recorded), len(live)),
    )

    def around(text: str) -> str:
        start = max(0, at - _CONTEXT)
        shown = json.dumps(text[start : at + _CONTEXT], ensure_ascii=False)
        return ("..." if start else "") + shown + ("..." if at + _CONTEXT < len(text) else "")

    return (
        f"{where} differs at character {at} of {len(recorded)} recorded / {len(live)} live: "
        f"recorded {around(recorded)} vs live {around(live)}"
    )


def shortened(value: Any, width: int = 60) -> str:
    """A value as JSON (bytes as their repr), cut to `width` characters."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
