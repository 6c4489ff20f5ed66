"""Dense embeddings generated in a helper process, for requests that arrive together.

The server shares its process, and so the GIL, with the test that calls it: while the server's
thread generates a vector, the test's client cannot run. When requests pile up, the server
hands their new texts to this helper, which runs `dense_array` on another core and sends the
rows back; the server caches them and answers as if it had generated them itself. The bytes
are the same: the helper runs the same pure function on the same arguments.

The helper talks over its stdin and stdout in frames of a 4-byte little-endian length and a
`marshal`-ed tuple: each request goes in a frame of its own as soon as it is made, and its
answer comes back in one, as the rows and their JSON or a failure message. It says it is ready
once its imports are done, naming the generator it runs (the server ignores a helper that
runs another), and exits when its stdin closes or, checked every second, when its parent has
died: a parent killed even by SIGKILL leaves no helper behind.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import marshal
import os
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson

from mockinfer.generators import dense

logger = logging.getLogger("mockinfer")

_LENGTH = struct.Struct("<I")
_READY = -1
#: How long closing waits for the helper to exit before killing it.
_EXIT_TIMEOUT = 2.0
#: The helper's program: the parent's import path (its own package's root first, so that it
#: runs the same code), then `main`. Only `sys` is imported before the path is set.
_BOOT = (
    "import sys; sys.path[:] = sys.argv[2:]; "
    "from mockinfer.engines.helper import main; main(int(sys.argv[1]))"
)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
#: The generator the parent runs; a helper that imported another one is not used.
_GENERATOR_FILE = os.path.realpath(dense.__file__)
#: How long a frame may wait for its answer before the helper counts as hung.
_ANSWER_TIMEOUT = 5.0
#: How often a helper waiting for requests checks that its parent still runs: a process
#: forked from the parent may keep its stdin open after the parent died.
_PARENT_CHECK = 1.0
#: The helper works on one core: a BLAS that spread a product over threads would take the
#: core the test's process runs on.
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


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
        self._pending: dict[int, tuple[asyncio.Future[HelperRows], asyncio.TimerHandle]] = {}
        self._ids = itertools.count()
        self._partial = b""

    @property
    def pid(self) -> int | None:
        """The helper's process id once started."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the helper and attach its pipes to the running loop; `ready` turns true when
        it has imported the generators. A helper that cannot start leaves `stopped` true."""
        path = [os.path.abspath(p) for p in sys.path if isinstance(p, str | os.PathLike)]
        try:
            process = self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(os.getpid()), _PACKAGE_ROOT, *path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **_ONE_THREAD},
            )
            assert process.stdin is not None and process.stdout is not None
            loop = asyncio.get_running_loop()
            self._reader, _ = await loop.connect_read_pipe(lambda: self, process.stdout)
            self._writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, process.stdin)
        except Exception as exc:
            logger.warning("mockinfer: no generation helper (%r); generating in the server", exc)
            self.close()
            return
        if self.stopped:  # closed while its pipes were being attached
            self.close()

    def data_received(self, data: bytes) -> None:
        # One read often holds several answers: each is read in place, and only the part of
        # a frame still to come is kept.
        received = self._partial + data if self._partial else data
        view, start = memoryview(received), 0
        while len(received) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(received, start)
            end = start + _LENGTH.size + size
            if len(received) < end:
                break
            reply = marshal.loads(view[start + _LENGTH.size : end])
            start = end
            self._settle(reply)
        self._partial = received[start:]

    def _settle(self, reply: tuple[Any, ...]) -> None:
        ident, answer = reply
        if ident == _READY:
            if answer == _GENERATOR_FILE:
                self.ready = not self.stopped
                return
            logger.warning(
                "mockinfer: the generation helper imported %s, not %s; generating in the server",
                answer,
                _GENERATOR_FILE,
            )
            self.close()
            return
        pending = self._pending.pop(ident, None)
        if pending is None:  # its waiter already released by `close`
            return
        future, deadline = pending
        deadline.cancel()
        if future.done():
            return
        if isinstance(answer, str):
            future.set_exception(HelperUnavailable(answer))
            return
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

        The request leaves at once rather than with others made in the same turn of the loop:
        sent on the next turn, it would wait for the test's client to hand back the GIL first.
        """
        writer = self._writer
        if not self.ready or writer is None or writer.is_closing():
            raise HelperUnavailable("the helper is not running")
        ident = next(self._ids)
        try:
            frame = _frame((ident, arguments))
        except (TypeError, ValueError) as exc:  # a value marshal cannot write: a seed's subclass
            raise HelperUnavailable(str(exc)) from None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[HelperRows] = loop.create_future()
        deadline = loop.call_later(_ANSWER_TIMEOUT, self._overdue, ident)
        self._pending[ident] = (future, deadline)
        writer.write(frame)
        rows = await future
        self.texts += len(rows.encoded)
        return rows

    def _overdue(self, ident: int) -> None:
        if ident in self._pending:
            if self._process is not None:
                self._process.kill()  # hung: closing must not wait for it on the loop
            logger.warning(
                "mockinfer: the generation helper did not answer within %s s; generating in the "
                "server from now on",
                _ANSWER_TIMEOUT,
            )
            self.close()

    def close(self) -> None:
        """Stop the helper; requests waiting for it fall back to the server's thread."""
        self.stopped, self.ready = True, False
        pending = list(self._pending.values())
        self._pending.clear()
        for future, deadline in pending:
            deadline.cancel()
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


def _read_exactly(fd: int, size: int, parent: int) -> bytes | None:
    """`size` bytes from `fd`; None at its end, or once the parent has died."""
    data = bytearray()
    while len(data) < size:
        if not select.select([fd], [], [], _PARENT_CHECK)[0]:
            if os.getppid() != parent:
                return None
            continue
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _read_frame(fd: int, parent: int) -> Any:
    head = _read_exactly(fd, _LENGTH.size, parent)
    if head is None:
        return None
    payload = _read_exactly(fd, _LENGTH.unpack(head)[0], parent)
    return None if payload is None else marshal.loads(payload)


def _answer(arguments: dict[str, Any]) -> tuple[Any, ...] | str:
    try:
        rows = dense.dense_array(**arguments)
    except Exception as exc:  # the server generates it again and reports what it raises
        return f"{type(exc).__name__}: {exc}"
    encoded = [orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in rows]
    return (rows.dtype.str, rows.shape, rows.tobytes(), encoded)


def main(parent: int) -> None:
    """The helper's loop: an answer for each request, until stdin closes or the parent
    `parent` dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to handle
    source, sink = sys.stdin.fileno(), sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not break a frame
    sink.write(_frame((_READY, _GENERATOR_FILE)))
    sink.flush()
    while (frame := _read_frame(source, parent)) is not None:
        ident, arguments = frame
        sink.write(_frame((ident, _answer(arguments))))
        sink.flush()
