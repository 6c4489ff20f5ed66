"""The record engine: forward a request to the real cluster and capture what it answers.

This is the only module that uses an aiohttp client. Streams are passed through live: each
SSE event is handed on the moment it is complete, and its offset from the moment the request
was forwarded is kept, so a replay reproduces the time to first event and every gap.
"""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from mockinfer.cassette.format import RecordedEvent, RecordedResponse
from mockinfer.cassette.redact import Redactor
from mockinfer.wire.errors import EsError
from mockinfer.wire.sse import CONTENT_TYPE as SSE_CONTENT_TYPE
from mockinfer.wire.sse import event_end

#: Headers that describe one hop or one encoding of the body, never the response itself.
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "host",
        "date",
        "server",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    }
)


def end_to_end(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers without hop-by-hop and encoding headers."""
    return tuple((str(k), str(v)) for k, v in headers if k.lower() not in HOP_HEADERS)


#: The most of one upstream answer, decoded, the recorder reads: a cassette is no place for
#: more, and an answer that inflates past it (a compression bomb) must not fill the memory.
MAX_RECORDED_BYTES = 256 * 1024 * 1024


class AnswerTooLarge(Exception):
    """An upstream answer larger than the recorder reads."""

    def __init__(self) -> None:
        super().__init__(
            f"the answer is larger than {MAX_RECORDED_BYTES} bytes, the most mockinfer records"
        )


class _Decoder:
    """Decompresses an `x-gzip` or `x-deflate` body as it arrives. A deflate body without the
    zlib header is taken as raw deflate, as aiohttp takes `deflate`; a body that ends before
    its compressed data does fails (`zlib.error`) rather than be kept cut short."""

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        self._zlib: zlib._Decompress | None = None

    def decompress(self, chunk: bytes) -> bytes:
        """What `chunk` decodes to, once the decoder has seen how the body starts."""
        if self._zlib is None:
            if not chunk:
                return b""
            if self._gzip:
                wbits = 16 + zlib.MAX_WBITS
            else:
                wbits = zlib.MAX_WBITS if _has_zlib_header(chunk) else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        # One byte past the limit is enough to know the answer is too large.
        out = self._zlib.decompress(chunk, MAX_RECORDED_BYTES + 1)
        while self._zlib.eof and self._zlib.unused_data and len(out) <= MAX_RECORDED_BYTES:
            # gzip may hold several members, read one after the other as gzip reads them;
            # anything else after the end is not the body the header announced.
            rest = self._zlib.unused_data
            if not self._gzip:
                raise zlib.error("the compressed data is followed by other bytes")
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._zlib.decompress(rest, MAX_RECORDED_BYTES + 1)
        return out

    def finish(self) -> bytes:
        """The rest of the body; raises `zlib.error` when its compressed data was cut short."""
        if self._zlib is None:
            return b""  # an empty body
        rest = self._zlib.flush()
        if not self._zlib.eof:
            raise zlib.error("the compressed body ended before its compressed data did")
        return rest


def _check_size(size: int) -> None:
    if size > MAX_RECORDED_BYTES:
        raise AnswerTooLarge


def _has_zlib_header(head: bytes) -> bool:
    """Whether a deflate body starts with RFC 1950's header: deflate's method, and the
    two bytes a multiple of 31."""
    return head[0] & 0x0F == 8 and (len(head) < 2 or (head[0] << 8 | head[1]) % 31 == 0)


@dataclass
class Forwarded:
    """An upstream response being relayed: status and headers now, the body as it arrives."""

    status: int
    headers: tuple[tuple[str, str], ...]
    _response: aiohttp.ClientResponse
    _started: float
    _redactor: Redactor
    events: list[RecordedEvent] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_stream(self) -> bool:
        """Whether the upstream answers with Server-Sent Events."""
        return self._response.content_type == SSE_CONTENT_TYPE

    async def read(self) -> bytes:
        """The whole body of a non-streamed response.

        Raises `EsError` 502 when the upstream's body cannot be read (a broken encoding, a
        connection lost halfway) or is larger than `MAX_RECORDED_BYTES` decoded.
        """
        decoder = self._decoder()
        body = bytearray()
        try:
            async for chunk in self._response.content.iter_any():
                body += decoder.decompress(chunk) if decoder else chunk
                _check_size(len(body))
            if decoder:
                body += decoder.finish()
                _check_size(len(body))
            self.body = bytes(body)
        except (aiohttp.ClientError, OSError, zlib.error, AnswerTooLarge) as exc:
            raise self._broken(exc) from None
        finally:
            self._response.release()
        return self.body

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Each complete SSE event as soon as it arrives (a trailing partial event last).

        Raises `EsError` 502 when the upstream's stream breaks or grows past
        `MAX_RECORDED_BYTES` decoded.
        """
        buffer = b""
        decoder = self._decoder()
        try:
            async for chunk in self._response.content.iter_any():
                buffer += decoder.decompress(chunk) if decoder else chunk
                _check_size(len(self.body) + len(buffer))
                while (end := event_end(buffer)) != -1:
                    event, buffer = buffer[:end], buffer[end:]
                    yield self._keep(event)
            if decoder:
                buffer += decoder.finish()
                _check_size(len(self.body) + len(buffer))
            # What the decoder held back, then a trailing partial event.
            while (end := event_end(buffer)) != -1:
                event, buffer = buffer[:end], buffer[end:]
                yield self._keep(event)
            if buffer:
                yield self._keep(buffer)
        except (aiohttp.ClientError, OSError, zlib.error, AnswerTooLarge) as exc:
            raise self._broken(exc) from None
        finally:
            self._response.release()

    def _decoder(self) -> _Decoder | None:
        """A decoder for the encodings aiohttp leaves encoded (`x-gzip`, `x-deflate`): the
        recording keeps bodies decoded and drops `Content-Encoding`."""
        encoding = self._response.headers.get("Content-Encoding", "").lower()
        return _Decoder(gzip=encoding == "x-gzip") if encoding in ("x-gzip", "x-deflate") else None

    def _broken(self, exc: BaseException) -> EsError:
        url = self._response.url.with_query(None)
        return EsError(
            502,
            "mockinfer_upstream_exception",
            f"mockinfer could not read the upstream's answer to record it from {url}: "
            f"{failure(exc, self._redactor)}",
        )

    def _keep(self, event: bytes) -> bytes:
        self.events.append(RecordedEvent(time.monotonic() - self._started, event))
        self.body += event
        return event

    def recorded(self) -> RecordedResponse:
        """What the cassette keeps (the engine redacts it before storing)."""
        events = tuple(self.events) if self.is_stream else None
        return RecordedResponse(self.status, self.headers, self.body, events)


def failure(exc: BaseException, redactor: Redactor) -> str:
    """What went wrong upstream, fit for an error reason and a test's failure, redacted (a
    URL quoted in it loses its secret query values). A response error is named without the
    URL aiohttp adds or the bytes of a malformed head that it quotes (a header line may
    carry a key too)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        # The description alone: aiohttp quotes the offending bytes after it, on the next line
        # (its C parser) or after a colon or a quote (its Python one).
        described = re.split(r"[:'\"\n]", str(exc.message), maxsplit=1)[0].strip()
        text = f"{exc.status}, {described}" if exc.status else described
    else:
        text = str(exc)
    return redactor.text(text or type(exc).__name__)


class Recorder:
    """Forwards requests to one upstream cluster; one connection pool per server loop."""

    def __init__(
        self, upstream: str, *, api_key: str | None = None, redactor: Redactor | None = None
    ) -> None:
        parts = urlsplit(upstream)
        # Credentials in the URL become a Basic header, never part of a recorded URI.
        self._basic: str | None = None
        if parts.username:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._basic = "Basic " + base64.b64encode(pair.encode()).decode()
        host = parts.netloc.rpartition("@")[2]
        self.upstream = urlunsplit(parts._replace(netloc=host)).rstrip("/")
        self.api_key = api_key
        self._redactor = redactor or Redactor()
        self._session: aiohttp.ClientSession | None = None

    async def forward(
        self,
        method: str,
        path_qs: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        scheme: str = "ApiKey",
    ) -> Forwarded:
        """Send the request upstream with the client's headers (and credentials).

        The upstream key goes in `Authorization` with `scheme`: `ApiKey` for a cluster,
        `Bearer` for a model provider.
        """
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=True)
        sent = list(end_to_end(headers))
        if self.api_key:
            sent = [(k, v) for k, v in sent if k.lower() != "authorization"]
            sent.append(("Authorization", f"{scheme} {self.api_key}"))
        elif self._basic and not any(k.lower() == "authorization" for k, _ in sent):
            sent.append(("Authorization", self._basic))
        started = time.monotonic()
        try:
            # A redirect is an answer to record, never a reason to send the client's
            # credentials to another host.
            response = await self._session.request(
                method,
                self.upstream + path_qs,
                headers=sent,
                data=body or None,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # The query may carry a key: the path alone names the request.
            raise EsError(
                502,
                "mockinfer_upstream_exception",
                f"mockinfer could not reach the upstream {self.upstream} to record "
                f"{method} {urlsplit(path_qs).path}: {failure(exc, self._redactor)}",
            ) from None
        return Forwarded(
            status=response.status,
            headers=end_to_end(response.headers.items()),
            _response=response,
            _started=started,
            _redactor=self._redactor,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
