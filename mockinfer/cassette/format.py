"""The cassette file: vcrpy's version-1 YAML, read safely and written atomically.

mockinfer's additions live only under each interaction's `response`, in one `mockinfer`
mapping with its own format version: the SSE events of a stream with their time offsets and
the layout of `body.string`. vcrpy ignores that mapping,
so vcrpy and pytest-recording replay mockinfer cassettes, and mockinfer replays theirs.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from mockinfer.cassette import emit, scan
from mockinfer.cassette.layout import compact, lay_out
from mockinfer.errors import MockinferError
from mockinfer.wire.sse import encode_event

VCR_VERSION = 1
#: Version of the `mockinfer` mapping under each response.
FORMAT_VERSION = 1
EXTENSION = "mockinfer"
#: The most values a cassette may hold once YAML aliases are expanded: far above any real
#: cassette (10,000 recorded embeddings hold about 2 million), far below an alias bomb's.
MAX_NODES = 50_000_000
_BREAKS = re.compile(r"[\r\n]")
#: A new cassette is an ordinary committed file (mkstemp alone would make it owner-only).
_NEW_FILE_MODE = 0o644

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteError(MockinferError):
    """A cassette that cannot be read or written, named with its path and what is wrong."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request as a cassette keeps it (already redacted)."""

    method: str
    uri: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecordedEvent:
    """One SSE event of a stream and its offset in seconds from the start of the response."""

    offset: float
    raw: bytes


@dataclass(frozen=True)
class RecordedResponse:
    """A response as received, with the events of a stream."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    events: tuple[RecordedEvent, ...] | None = None

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def decoded_body(self) -> bytes:
        """The body before any content encoding (vcrpy keeps gzip bodies as received)."""
        encoding = (self.header("Content-Encoding") or "").lower()
        if encoding in ("gzip", "deflate") and self.body:
            wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
            try:
                return zlib.decompress(self.body, wbits)
            except zlib.error:
                return self.body
        return self.body


@dataclass(frozen=True)
class Interaction:
    """One request and the response it got."""

    request: RecordedRequest
    response: RecordedResponse


@dataclass
class CassetteData:
    """The interactions of one file, in recorded order."""

    interactions: list[Interaction] = field(default_factory=list)


def _headers_to_dict(headers: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def _headers_from_dict(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ValueError(f"{where}.headers is not a mapping")
    pairs: list[tuple[str, str]] = []
    for name, values in raw.items():
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(name, str) or not isinstance(value, str | int | float):
                raise ValueError(
                    f"{where}.headers[{name!r}] holds {type(value).__name__}, not text"
                )
            text = str(value)
            if _BREAKS.search(name) or _BREAKS.search(text):
                # A line break in a header would let a cassette write its own headers.
                raise ValueError(f"{where}.headers[{name!r}] holds a line break")
            pairs.append((name, text))
    return tuple(pairs)


def _text_or_bytes(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _as_bytes(value: Any, where: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict | list):
        # vcrpy keeps a body sent as JSON by aiohttp (`json=`) as a YAML mapping.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raise ValueError(f"{where} is neither text nor binary")


def _readable_body(body: bytes) -> tuple[str | bytes, str | None]:
    """The body as stored, and the layout to undo on replay (None: stored as received)."""
    text = _text_or_bytes(body)
    laid_out = lay_out(text) if isinstance(text, str) else None
    if laid_out is not None:
        return laid_out, "compact-json"
    return text, None


def interaction_to_dict(interaction: Interaction) -> dict[str, Any]:
    """The vcrpy dictionary of one interaction, with mockinfer's additions under `response`."""
    request, response = interaction.request, interaction.response
    body, layout = _readable_body(response.body)
    headers = response.headers
    if layout is not None:
        # vcrpy serves body.string as it stands: its length must be the one announced.
        size = str(len(body.encode("utf-8") if isinstance(body, str) else body))
        headers = tuple((k, size if k.lower() == "content-length" else v) for k, v in headers)
    extension: dict[str, Any] = {"format": FORMAT_VERSION}
    if layout is not None:
        extension["layout"] = layout
    if response.events is not None:
        extension["events"] = [_event_to_dict(e) for e in response.events]
        body = _text_or_bytes(response.body)
    try:
        message = HTTPStatus(response.status).phrase
    except ValueError:
        message = ""
    return {
        "request": {
            "body": _text_or_bytes(request.body) if request.body else None,
            "headers": _headers_to_dict(request.headers),
            "method": request.method,
            "uri": request.uri,
        },
        "response": {
            "body": {"string": body},
            "headers": _headers_to_dict(headers),
            "status": {"code": response.status, "message": message},
            EXTENSION: extension,
        },
    }


def _event_to_dict(event: RecordedEvent) -> dict[str, Any]:
    """An event as its type and data; the raw bytes only when they are not ES's framing."""
    text = _text_or_bytes(event.raw)
    # Offsets to 0.1 ms, what replay can honour: a re-recording then diffs only where the
    # timing really changed, not in its jitter.
    entry: dict[str, Any] = {"offset": round(event.offset, 4)}
    if isinstance(text, str):
        lines = text.removeprefix("\ufeff").split("\n")
        if len(lines) == 4 and lines[0].startswith("event: ") and lines[1].startswith("data: "):
            kind, data = lines[0][7:], lines[1][6:]
            if encode_event(data.encode(), kind) == event.raw:
                entry["event"] = kind
                entry["data"] = data
                return entry
    entry["raw"] = text
    return entry


def _event_from_dict(raw: Any, where: str) -> RecordedEvent:
    offset = raw.get("offset") if isinstance(raw, dict) else None
    if not isinstance(offset, int | float) or isinstance(offset, bool):
        raise ValueError(f"{where} needs a numeric offset")
    if not math.isfinite(offset) or offset < 0:
        raise ValueError(f"{where}.offset must be a finite number of seconds >= 0, not {offset}")
    if "raw" in raw:
        return RecordedEvent(float(offset), _as_bytes(raw["raw"], f"{where}.raw"))
    data, kind = raw.get("data"), raw.get("event", "message")
    if not isinstance(data, str):
        raise ValueError(f"{where} needs data or raw")
    if not isinstance(kind, str) or _BREAKS.search(kind):
        # A line break in the name would let a cassette frame events of its own.
        raise ValueError(f"{where}: the event name holds a line break")
    return RecordedEvent(float(offset), encode_event(data.encode(), kind))


def _events(raw: Any, where: str) -> tuple[RecordedEvent, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{where}.events is not a list")
    events = tuple(_event_from_dict(e, f"{where}.events[{i}]") for i, e in enumerate(raw))
    for i in range(1, len(events)):
        if events[i].offset < events[i - 1].offset:
            raise ValueError(f"{where}.events[{i}].offset is before the event ahead of it")
    return events


def interaction_from_dict(raw: Any, index: int) -> Interaction:
    """Parse one interaction; errors say which one and what is wrong."""
    where = f"interactions[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise ValueError(f"{where} has no request mapping")
    req, resp = raw["request"], raw.get("response")
    if not isinstance(resp, dict) or not isinstance(resp.get("status"), dict):
        raise ValueError(f"{where} has no response status")
    if not isinstance(req.get("method"), str) or not isinstance(req.get("uri"), str):
        raise ValueError(f"{where}.request needs method and uri")
    code = resp["status"].get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise ValueError(f"{where}.response.status.code is not an HTTP status (100-599)")
    extension = resp.get(EXTENSION) or {}
    if not isinstance(extension, dict):
        raise ValueError(f"{where}.response.{EXTENSION} is not a mapping")
    version = extension.get("format", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{where}.response.{EXTENSION}.format is {version!r}; this mockinfer reads format "
            f"{FORMAT_VERSION} (upgrade mockinfer)"
        )
    body_mapping = resp.get("body")
    raw_body = body_mapping.get("string") if isinstance(body_mapping, dict) else body_mapping
    body_where = f"{where}.response.body.string"
    if extension.get("layout") != "compact-json":
        body = _as_bytes(raw_body, body_where)
    elif isinstance(raw_body, str):  # laid out as text: compacted without encoding it first
        body = compact(raw_body).encode("utf-8")
    else:
        body = compact(_as_bytes(raw_body, body_where).decode("utf-8")).encode("utf-8")
    events = extension.get("events")
    return Interaction(
        request=RecordedRequest(
            method=req["method"].upper(),
            uri=req["uri"],
            body=_as_bytes(req.get("body"), f"{where}.request.body"),
            headers=_headers_from_dict(req.get("headers"), f"{where}.request"),
        ),
        response=RecordedResponse(
            status=code,
            headers=_headers_from_dict(resp.get("headers"), f"{where}.response"),
            body=body,
            events=None if events is None else _events(events, where),
        ),
    )


def dumps(data: CassetteData) -> str:
    """The YAML text of a cassette; keys sorted so files are stable across writes."""
    with _collector_paused():
        return emit.dump(
            {
                "interactions": [interaction_to_dict(i) for i in data.interactions],
                "version": VCR_VERSION,
            }
        )


def loads(text: str, path: Path) -> CassetteData:
    """Parse cassette text safely; every problem names the file.

    What mockinfer wrote is read by `scan`; anything else by PyYAML's safe loader.
    """
    with _collector_paused():
        try:
            document = scan.load(text)
        except scan.Unsupported:
            document = _pyyaml_load(text, path)
        return _cassette(document, path)


def _pyyaml_load(text: str, path: Path) -> Any:
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise CassetteError(f"cassette {path} is not valid YAML: {exc}") from None
    if _expanded_size(document) > MAX_NODES:
        raise CassetteError(
            f"cassette {path} expands to more than {MAX_NODES:,} values through YAML aliases; "
            "refusing it (a cassette mockinfer or vcrpy wrote has no such aliases)"
        )
    return document


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: reading or writing a big cassette makes millions of
    objects and no cycles, and the collector would walk them again and again (most of a
    load's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cassette(document: Any, path: Path) -> CassetteData:
    """The interactions of a loaded document, checked."""
    if not isinstance(document, dict) or "interactions" not in document:
        raise CassetteError(
            f"cassette {path} has no 'interactions' list (truncated or not a cassette?)"
        )
    if "version" not in document:
        raise CassetteError(f"cassette {path} has no 'version' (truncated?)")
    if document.get("version") != VCR_VERSION:
        raise CassetteError(
            f"cassette {path} has version {document.get('version')!r}; mockinfer reads vcrpy "
            f"cassettes of version {VCR_VERSION}"
        )
    raw = document["interactions"] or []
    if not isinstance(raw, list):
        raise CassetteError(f"cassette {path}: 'interactions' is not a list")
    try:
        return CassetteData([interaction_from_dict(item, i) for i, item in enumerate(raw)])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cassette {path}: {exc}") from None


def _expanded_size(document: Any) -> int:
    """How many values the document holds once every alias is expanded, computed without
    expanding: each shared object is sized once. Stops counting past `MAX_NODES`."""
    sizes: dict[int, int] = {}
    pending: list[tuple[Any, bool]] = [(document, False)]
    while pending:
        node, children_done = pending.pop()
        if id(node) in sizes:
            continue
        children = (
            [*node.keys(), *node.values()]
            if isinstance(node, dict)
            else node
            if isinstance(node, list)
            else ()
        )
        if not children_done and children:
            pending.append((node, True))
            pending.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[id(node)] = min(total, MAX_NODES + 1)
    return sizes[id(document)]


def read(path: Path) -> CassetteData | None:
    """The cassette at `path`, or None when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc}") from None
    return loads(text, path)


def write(path: Path, data: CassetteData) -> None:
    """Write atomically: a temporary file in the same folder, fsync, then rename over."""
    text = dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
