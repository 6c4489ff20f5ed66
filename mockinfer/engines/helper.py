"""Dense embeddings generated in a helper process, for requests that arrive together.

The server shares its process, and so the GIL, with the test that calls it: while the server's
thread generates a vector, the test's client cannot run. When requests pile up, the server
hands their new texts to this helper, which runs `dense_array` on another core and sends the
rows back; the server caches them and answers as if it had generated them itself. The bytes
are the same: the helper runs the same pure function on the same arguments.

The helper talks over its stdin and stdout in frames of a 4-byte little-endian length and a
`marshal`-ed tuple: the requests made in one turn of the server's loop go in one frame, and
come back in one, each as its rows and their JSON or a failure message. It says it is ready
once its imports are done, and exits when its stdin closes: a parent that dies, even by
SIGKILL, leaves no helper behind.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import marshal
import signal
import struct
import subprocess
import sys
from typing import IO, Any, NamedTuple

import numpy as np
import orjson

from mockinfer.generators import dense_array

logger = logging.getLogger("mockinfer")

_LENGTH = struct.Struct("<I")
_READY = -1
#: How long closing waits for the helper to exit before killing it.
_EXIT_TIMEOUT = 2.0
#: The helper's program: the parent's import path, so that it runs the same code, then `main`.
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from mockinfer.engines.helper import main; main()"
)


class HelperUnavailable(Exception):
    """The helper cannot answer (it failed to start, exited or was closed): generate here."""


class HelperRows(NamedTuple):
    """The helper's answer: `dense_array`'s rows (read-only), and each row as JSON, as orjson
    writes it (the shortest digits that read back as the same float32)."""

    rows: np.ndarray
    encoded: list[bytes]


def _frame(value: Any) -> bytes:
    payload = marshal.dumps(value)
    return _LENGTH.pack(len(payload)) + payload


class GeneratorHelper(asyncio.Protocol):
    """The parent's side: starts the helper on the running loop and awaits its rows."""

    def __init__(self) -> None:
        self.ready = False
        self.stopped = False
        #: Texts the helper generated, for tests and diagnostics.
        self.texts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None
        self._pending: dict[int, list[asyncio.Future[HelperRows]]] = {}
        self._queued: list[tuple[dict[str, Any], asyncio.Future[HelperRows]]] = []
        self._ids = itertools.count()
        self._buffer = bytearray()

    @property
    def pid(self) -> int | None:
        """The helper's process id once started."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the helper and attach its pipes to the running loop; `ready` turns true when
        it has imported the generators. A helper that cannot start leaves `stopped` true."""
        try:
            process = self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert process.stdin is not None and process.stdout is not None
            loop = asyncio.get_running_loop()
            self._reader, _ = await loop.connect_read_pipe(lambda: self, process.stdout)
            self._writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, process.stdin)
        except OSError as exc:
            logger.warning("mockinfer: no generation helper (%s); generating in the server", exc)
            self.close()
            return
        if self.stopped:  # closed while its pipes were being attached
            self.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            end = _LENGTH.size + size
            if len(self._buffer) < end:
                return
            reply = marshal.loads(self._buffer[_LENGTH.size : end])
            del self._buffer[:end]
            self._settle(reply)

    def _settle(self, reply: tuple[Any, ...]) -> None:
        ident, answers = reply
        if ident == _READY:
            self.ready = not self.stopped
            return
        futures = self._pending.pop(ident, None)
        if futures is None:  # waiters already released by `close`
            return
        for future, answer in zip(futures, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, str):
                future.set_exception(HelperUnavailable(answer))
                continue
            dtype, shape, raw, encoded = answer
            rows = np.frombuffer(raw, dtype=dtype).reshape(shape)
            future.set_result(HelperRows(rows, encoded))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.stopped:
            code = self._process.poll() if self._process is not None else None
            logger.warning(
                "mockinfer: the generation helper stopped (exit code %s); generating in the "
                "server from now on",
                code,
            )
        self.close()

    async def dense(self, arguments: dict[str, Any]) -> HelperRows:
        """`dense_array(**arguments)`, computed by the helper, with each row's JSON.

        Requests made in one turn of the loop go to the helper in one frame.
        """
        if not self.ready or self._writer is None or self._writer.is_closing():
            raise HelperUnavailable("the helper is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[HelperRows] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append(({**arguments, "contents": tuple(arguments["contents"])}, future))
        rows = await future
        self.texts += len(rows.encoded)
        return rows

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        if self._writer is None or self._writer.is_closing():
            for _, future in queued:
                if not future.done():
                    future.set_exception(HelperUnavailable("the helper stopped"))
            return
        ident = next(self._ids)
        self._pending[ident] = [future for _, future in queued]
        self._writer.write(_frame((ident, [arguments for arguments, _ in queued])))

    def close(self) -> None:
        """Stop the helper; requests waiting for it fall back to the server's thread."""
        self.stopped, self.ready = True, False
        waiting = [future for futures in self._pending.values() for future in futures]
        waiting.extend(future for _, future in self._queued)
        self._pending.clear()
        self._queued.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(HelperUnavailable("the helper stopped"))
        for transport in (self._writer, self._reader):
            if transport is not None:
                transport.close()
        process, self._process = self._process, None
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()  # when no transport took it: closed while starting
            # Not only its stdin closing: a process forked from this one may hold that open.
            process.terminate()
            try:
                process.wait(_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    return marshal.loads(stream.read(size))


def _answer(arguments: dict[str, Any]) -> tuple[Any, ...] | str:
    try:
        rows = dense_array(**arguments)
    except Exception as exc:  # the server generates it again and reports what it raises
        return f"{type(exc).__name__}: {exc}"
    encoded = [orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in rows]
    return (rows.dtype.str, rows.shape, rows.tobytes(), encoded)


def main() -> None:
    """The helper's loop: a frame of answers for each frame of requests, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to handle
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not break a frame
    sink.write(_frame((_READY, [])))
    sink.flush()
    while (frame := _read_frame(source)) is not None:
        ident, requests = frame
        sink.write(_frame((ident, [_answer(arguments) for arguments in requests])))
        sink.flush()
