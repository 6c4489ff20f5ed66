"""The cassette engine: replay what matches, else record or synthesize, else a clear miss."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from mockinfer.cassette.format import (
    Interaction,
    RecordedRequest,
)
from mockinfer.cassette.matching import DEFAULT_MATCHERS, Miss
from mockinfer.cassette.redact import RedactionRules, Redactor
from mockinfer.cassette.store import Cassette
from mockinfer.engines.record import Recorder, end_to_end
from mockinfer.errors import ReplayMiss
from mockinfer.settings import FALLBACKS, parse_timing
from mockinfer.wire.results import Ending, RawEvent, Recorded, StreamPlan, Timed
from mockinfer.wire.sse import is_done

#: Request headers that describe the client's machine, not the request: kept out of cassettes
#: so that a re-recording on another machine diffs only where the traffic changed.
_CLIENT_NOISE = frozenset({"user-agent", "x-elastic-client-meta"})


#: A hook that sees each interaction before it is kept (see `CassetteEngine.before_record`).
BeforeRecord = Callable[[Interaction], "Interaction | None"]


class Action(Enum):
    """What the server does with a request the cassette does not answer."""

    RECORD = "record"
    SYNTHESIZE = "synthesize"


@dataclass
class CassetteEngine:
    """One cassette in use with its fallback, timing and (when recording) its upstream."""

    cassette: Cassette
    fallback: str = "error"
    timing: float = 1.0
    recorder: Recorder | None = None
    redactor: Redactor = field(default_factory=Redactor)
    #: Sees each recorded interaction (redacted) before it is kept: returns it, edited or
    #: not, or None to keep nothing. What it returns is redacted again.
    before_record: BeforeRecord | None = None
    #: Whether a miss's 404 names the request only: the pytest plugin reports the whole
    #: explanation once, when the test fails; `serve` has no other place for it.
    brief_misses: bool = False
    #: Whether each replay also calls the upstream, to compare the shapes of the answers.
    drift: bool = False
    #: Recordings still being relayed: saving waits for them (`settle`).
    _in_flight: int = 0
    _settled: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ValueError(
                f"fallback must be one of {', '.join(FALLBACKS)}; got {self.fallback!r}"
            )
        if self.drift and self.recorder is None:
            raise ValueError(
                "drift compares replays with the upstream, but no upstream is set "
                "(--mockinfer-upstream, MOCKINFER_UPSTREAM or upstream=)"
            )
        if self.cassette.records and self.recorder is None:
            raise ValueError(
                f"record_mode {self.cassette.record_mode!r} would record {self.cassette.path}, "
                "but no upstream is set (--mockinfer-upstream, MOCKINFER_UPSTREAM or upstream=)"
            )

    def live_request(
        self, method: str, uri: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> RecordedRequest:
        """The live request as a cassette would keep it: redacted with the same rules."""
        return RecordedRequest(
            method=method.upper(),
            uri=self.redactor.uri(uri),
            body=self.redactor.body(body),
            headers=tuple(
                self.redactor.headers(
                    h for h in end_to_end(headers) if h[0].lower() not in _CLIENT_NOISE
                )
            ),
        )

    def decide(self, request: RecordedRequest) -> Interaction | Action:
        """The interaction to replay (`replay` renders it), or to record or synthesize;
        raises `ReplayMiss` when nothing may answer."""
        found = self.cassette.play(request)
        if isinstance(found, Interaction):
            return found
        if self.cassette.records:
            return Action.RECORD
        if self.fallback == "synthesize":
            return Action.SYNTHESIZE
        raise _miss(found)

    def replay(self, interaction: Interaction) -> Recorded | StreamPlan:
        """The recorded response; a stream as a plan of its exact events, gaps scaled.

        A recorded `[DONE]` becomes the plan's ending (a fault can cut the stream before it);
        a stream recorded without one ends as it did, with a clean close.
        """
        response = interaction.response
        # Recorded lengths and transfer encodings (vcrpy keeps them) describe the recorded
        # hop, not the bytes served now.
        headers = end_to_end(response.headers)
        if response.events is None:
            return Recorded(response.status, headers, response.decoded_body())
        recorded = list(response.events)
        closing: bytes | None = None
        end_offset = recorded[-1].offset if recorded else 0.0
        if recorded and is_done(recorded[-1].raw):
            closing = recorded.pop().raw
        events = tuple(Timed(RawEvent(e.raw), e.offset * self.timing) for e in recorded)
        return StreamPlan(
            events,
            ending=Ending.DONE if closing is not None else Ending.TRUNCATED,
            end_offset=end_offset * self.timing,
            closing=closing,
            status=response.status,
            headers=headers,
        )

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Mark one recording in flight, from forwarding until it is kept or dropped."""
        with self._settled:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait until no recording is in flight (a client may have read its whole answer
        before the relay has kept it); whether that happened within `timeout` seconds."""
        with self._settled:
            return self._settled.wait_for(lambda: self._in_flight == 0, timeout)

    def keep(self, request: RecordedRequest, interaction: Interaction) -> Interaction | None:
        """Add a recorded interaction to the cassette, redacted, as `before_record` leaves
        it; what was added (None: the hook dropped it), for `Cassette.journal`."""
        kept = self._redacted(Interaction(request, interaction.response))
        if self.before_record is not None:
            edited = self.before_record(kept)
            if edited is None:
                return None
            kept = self._redacted(edited)
        self.cassette.add(kept)
        return kept

    def _redacted(self, interaction: Interaction) -> Interaction:
        request = self.live_request(
            interaction.request.method,
            interaction.request.uri,
            interaction.request.headers,
            interaction.request.body,
        )
        response = interaction.response
        headers = tuple(self.redactor.headers(response.headers))
        if response.events is None:
            kept = replace(response, headers=headers, body=self.redactor.body(response.body))
        else:
            events = self.redactor.recorded_events(response.events)
            body = b"".join(e.raw for e in events)
            kept = replace(response, headers=headers, body=body, events=events)
        return Interaction(request, kept)


def _miss(miss: Miss) -> ReplayMiss:
    return ReplayMiss(miss.kind, miss.explanation, miss.summary)


def open_cassette(
    path: Path,
    *,
    record_mode: str = "none",
    fallback: str = "error",
    matchers: Sequence[str] = DEFAULT_MATCHERS,
    timing: str | float = "recorded",
    upstream: str | None = None,
    upstream_api_key: str | None = None,
    redaction: Sequence[RedactionRules] = (),
    before_record: BeforeRecord | None = None,
    brief_misses: bool = False,
    drift: bool = False,
) -> CassetteEngine:
    """Load a cassette and everything needed to replay and record it.

    Raises `CassetteError` for an unreadable file and `ValueError` for an invalid setting.
    """
    cassette = Cassette(path, record_mode=record_mode, matchers=matchers)
    redactor = Redactor(tuple(redaction))
    recorder = Recorder(upstream, api_key=upstream_api_key, redactor=redactor) if upstream else None
    return CassetteEngine(
        cassette,
        fallback=fallback,
        timing=parse_timing(timing),
        recorder=recorder,
        redactor=redactor,
        before_record=before_record,
        brief_misses=brief_misses,
        drift=drift,
    )
