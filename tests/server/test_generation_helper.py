"""The generation helper: new texts that arrive together are embedded in another process.

Everything here goes through real sockets and the official clients. The helper must give the
bytes the server's own thread gives, stay out of sequential runs, and never outlive the server
or the process that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch, TransportError

from mockinfer import MockInferServer
from mockinfer.backend import Backend
from mockinfer.engines import helper as helper_module
from mockinfer.engines import synthesize
from mockinfer.engines.helper import GeneratorHelper
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.wire.requests import InferenceCall, InferenceInput

E5 = ".multilingual-e5-small-elasticsearch"
#: Generous for a busy 2-core machine: the helper imports numpy before it is ready.
DEADLINE = 60.0
_TEXTS = itertools.count()


def new_texts(count: int) -> list[str]:
    """Texts no server has seen yet in this run."""
    return [f"helper text number {next(_TEXTS)} about whales" for _ in range(count)]


#: Endpoints whose every setting `dense_array` takes must reach the helper intact.
ENDPOINTS: dict[str, dict[str, Any]] = {
    "co-bytes": {
        "service": "cohere",
        "service_settings": {
            "api_key": "k",
            "model_id": "embed-english-v3.0",
            "embedding_type": "byte",
            "dimensions": 64,
        },
    },
    "co-bits": {
        "service": "cohere",
        "service_settings": {
            "api_key": "k",
            "model_id": "embed-english-v3.0",
            "embedding_type": "bit",
            "dimensions": 64,
        },
    },
    "oa-l2": {
        "service": "openai",
        "service_settings": {
            "api_key": "k",
            "model_id": "text-embedding-3-small",
            "dimensions": 96,
            "similarity": "l2_norm",
        },
    },
}


def create_endpoints(url: str) -> None:
    with Elasticsearch(url, request_timeout=30) as es:
        for inference_id, config in ENDPOINTS.items():
            es.inference.put(
                inference_id=inference_id, task_type="text_embedding", inference_config=config
            )


async def crowd(url: str, calls: list[tuple[str, Any, str | None]]) -> list[dict[str, Any]]:
    """Send `(inference id, input, input_type)` calls all at once; their response bodies."""
    async with AsyncElasticsearch(url, connections_per_node=len(calls), request_timeout=30) as es:
        responses = await asyncio.gather(
            *(
                es.inference.text_embedding(inference_id=inference_id, input=text)
                if input_type is None
                else es.inference.inference(
                    inference_id=inference_id,
                    input=text,
                    input_type=input_type,
                )
                for inference_id, text, input_type in calls
            )
        )
    return [dict(response.body) for response in responses]


def helper_of(server: MockInferServer) -> GeneratorHelper | None:
    return server.state.synthesizer.helper


def wait_for_helper(server: MockInferServer) -> GeneratorHelper:
    """Crowd the server with new texts until its helper is ready."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        asyncio.run(crowd(server.url, [(E5, text, None) for text in new_texts(16)]))
        helper = helper_of(server)
        if helper is not None and helper.ready:
            return helper
        time.sleep(0.05)
    raise AssertionError(f"no ready helper within {DEADLINE} s: {helper_of(server)}")


@pytest.fixture
def helper_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the helper at the first crowded call instead of the 64th."""
    monkeypatch.setattr(synthesize, "HELPER_AFTER", 1)


@pytest.fixture
def crowded_server(helper_soon: None) -> Iterator[MockInferServer]:
    """A server of its own (seed 5) whose helper is ready."""
    with MockInferServer(seed=5) as server:
        create_endpoints(server.url)
        wait_for_helper(server)
        yield server
        server.raise_failures()


def mixed_calls() -> list[tuple[str, Any, str | None]]:
    """Calls over every endpoint, single texts and batches, with and without an input type."""
    calls: list[tuple[str, Any, str | None]] = []
    for inference_id in (E5, *ENDPOINTS):
        calls.append((inference_id, new_texts(1)[0], None))
        calls.append((inference_id, new_texts(2), None))  # as many as the helper takes
        calls.append((inference_id, new_texts(3), None))  # more: the server's own thread
        calls.append((inference_id, new_texts(1)[0], "ingest"))
    calls.append((E5, ["a repeated text", "a repeated text", *new_texts(1)], None))
    calls.append((E5, "\U0001f40b whale emoji " + new_texts(1)[0], None))
    return calls


def sequential_answers(calls: list[tuple[str, Any, str | None]]) -> list[dict[str, Any]]:
    """The same calls, one at a time, from a fresh server with the same seed: no helper."""
    with MockInferServer(seed=5) as reference:
        create_endpoints(reference.url)
        with Elasticsearch(reference.url, request_timeout=30) as es:
            answers = [
                dict(
                    (
                        es.inference.text_embedding(inference_id=inference_id, input=text)
                        if input_type is None
                        else es.inference.inference(
                            inference_id=inference_id, input=text, input_type=input_type
                        )
                    ).body
                )
                for inference_id, text, input_type in calls
            ]
        assert helper_of(reference) is None
    return answers


def test_texts_embedded_by_the_helper_are_those_the_server_would_give(
    crowded_server: MockInferServer,
) -> None:
    helper = helper_of(crowded_server)
    assert helper is not None
    before = helper.texts
    calls = mixed_calls()
    answers = asyncio.run(crowd(crowded_server.url, calls))
    assert helper.texts > before, "the helper embedded none of the crowded calls"
    assert answers == sequential_answers(calls)


def test_the_answers_stay_the_same_when_asked_again(crowded_server: MockInferServer) -> None:
    calls = mixed_calls()
    first = asyncio.run(crowd(crowded_server.url, calls))
    with Elasticsearch(crowded_server.url, request_timeout=30) as es:
        again = [
            dict(es.inference.text_embedding(inference_id=inference_id, input=text).body)
            for inference_id, text, input_type in calls
            if input_type is None
        ]
    assert again == [a for a, (_, _, t) in zip(first, calls, strict=True) if t is None]


@pytest.mark.parametrize("piece", [1, 5, 4096, 1 << 20])
def test_answers_are_read_however_the_pipe_cuts_them(
    piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = [(ident, "x" * (ident * 700)) for ident in range(1, 8)]
    stream = b"".join(helper_module._frame(reply) for reply in replies)
    settled: list[tuple[Any, ...]] = []
    helper = GeneratorHelper()
    monkeypatch.setattr(helper, "_settle", settled.append)
    for start in range(0, len(stream), piece):
        helper.data_received(stream[start : start + piece])
    assert settled == replies


def test_the_helper_starts_at_the_64th_crowded_call() -> None:
    synthesizer = Synthesizer(seed=5)
    call = InferenceCall(Backend().get(E5), input=InferenceInput(("a text",)))

    async def crowded_calls(count: int) -> None:
        for _ in range(count):
            work = synthesizer.helper_work(call)
            assert work is not None
            assert await synthesizer.generate_ahead(work) == []  # not ready: the thread makes it

    async def run() -> None:
        try:
            await crowded_calls(synthesize.HELPER_AFTER - 1)
            assert synthesizer.helper is None
            await crowded_calls(1)
            assert synthesizer.helper is not None
        finally:
            synthesizer.close_helper()

    assert synthesize.HELPER_AFTER == 64
    asyncio.run(run())
    assert helpers_of_this_process() == []


def test_sequential_calls_never_start_the_helper(helper_soon: None) -> None:
    with MockInferServer(seed=5) as server, Elasticsearch(server.url) as es:
        for text in new_texts(40):
            es.inference.text_embedding(inference_id=E5, input=text)
        assert helper_of(server) is None


def test_a_server_told_not_to_never_starts_the_helper(helper_soon: None) -> None:
    with MockInferServer(seed=5, generation_helper=False) as server:
        for _ in range(8):
            asyncio.run(crowd(server.url, [(E5, text, None) for text in new_texts(16)]))
        assert helper_of(server) is None


def test_a_killed_helper_leaves_the_answers_unchanged(
    crowded_server: MockInferServer, caplog: pytest.LogCaptureFixture
) -> None:
    helper = helper_of(crowded_server)
    assert helper is not None and helper.pid is not None
    os.kill(helper.pid, signal.SIGKILL)
    deadline = time.monotonic() + DEADLINE
    with caplog.at_level(logging.WARNING, logger="mockinfer"):
        while not helper.stopped and time.monotonic() < deadline:
            time.sleep(0.02)
    assert helper.stopped
    assert "the generation helper stopped" in caplog.text
    calls = mixed_calls()
    assert asyncio.run(crowd(crowded_server.url, calls)) == sequential_answers(calls)


def test_a_seed_the_helper_cannot_be_sent_is_embedded_by_the_server(
    crowded_server: MockInferServer,
) -> None:
    class Seeds(enum.IntEnum):
        SUITE = 5

    crowded_server.seed = Seeds.SUITE  # accepted as an int, but not marshal's exact int
    calls = mixed_calls()
    assert asyncio.run(crowd(crowded_server.url, calls)) == sequential_answers(calls)


def test_a_helper_that_stops_answering_is_left(
    crowded_server: MockInferServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(helper_module, "_ANSWER_TIMEOUT", 0.5)
    helper = helper_of(crowded_server)
    assert helper is not None and helper.pid is not None
    os.kill(helper.pid, signal.SIGSTOP)
    calls = mixed_calls()
    with caplog.at_level(logging.WARNING, logger="mockinfer"):
        answers = asyncio.run(crowd(crowded_server.url, calls))
    assert helper.stopped
    assert "did not answer within 0.5 s" in caplog.text
    assert answers == sequential_answers(calls)


def test_a_helper_running_other_code_is_not_used(
    helper_soon: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(helper_module, "_GENERATOR_FILE", "/elsewhere/dense.py")
    with caplog.at_level(logging.WARNING), MockInferServer(seed=5) as server:
        deadline = time.monotonic() + DEADLINE
        while "/elsewhere/dense.py" not in caplog.text and time.monotonic() < deadline:
            asyncio.run(crowd(server.url, [(E5, text, None) for text in new_texts(16)]))
        helper = helper_of(server)
        assert helper is not None and helper.stopped and not helper.ready
        assert helper.texts == 0


def test_a_path_entry_that_is_not_text_still_starts_the_helper(
    helper_soon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [*sys.path, Path("/nowhere")])
    with MockInferServer(seed=5) as server:
        assert wait_for_helper(server).ready


def test_calls_made_one_at_a_time_beside_a_slow_one_never_use_the_helper(
    helper_soon: None,
) -> None:
    with MockInferServer(seed=5) as server, Elasticsearch(server.url) as es:
        stall = server.fault(inference_id="slow-one", delay=5)

        def slow_call() -> None:
            with (
                Elasticsearch(server.url, request_timeout=60, max_retries=0) as client,
                contextlib.suppress(ApiError, TransportError),  # ended by the server's stop
            ):
                client.inference.text_embedding(inference_id="slow-one", input="x")

        slow = threading.Thread(target=slow_call, daemon=True)
        slow.start()
        deadline = time.monotonic() + DEADLINE
        while not stall.hits and time.monotonic() < deadline:
            time.sleep(0.01)
        for text in new_texts(40):
            es.inference.text_embedding(inference_id=E5, input=text)
        assert slow.is_alive(), "the slow call ended before the others were made"
        assert helper_of(server) is None
    slow.join(DEADLINE)


def test_stopping_the_server_ends_its_helper(helper_soon: None) -> None:
    with MockInferServer(seed=5) as server:
        helper = wait_for_helper(server)
        pid = helper.pid
        assert pid is not None and process_alive(pid)
    assert helper.stopped
    assert not process_alive(pid)
    assert helpers_of_this_process() == []


@pytest.mark.parametrize("pause", [0.0, 0.001, 0.01, 0.1])
def test_stopping_while_the_helper_starts_leaves_nothing_behind(
    helper_soon: None, pause: float, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), MockInferServer(seed=5) as server:
        deadline = time.monotonic() + DEADLINE
        while helper_of(server) is None and time.monotonic() < deadline:
            asyncio.run(crowd(server.url, [(E5, text, None) for text in new_texts(16)]))
        started = helper_of(server)
        time.sleep(pause)
    assert started is not None, "the crowded calls started no helper"
    assert started.stopped
    assert helpers_of_this_process() == []
    assert caplog.text == ""


def helpers_of_this_process() -> list[int]:
    """The helper processes this process started that still run."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not process_alive(int(entry.name)):
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"mockinfer.engines.helper" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("forked", [False, True], ids=["alone", "a-fork-keeps-its-pipe"])
def test_a_helper_does_not_outlive_a_killed_test_process(tmp_path: Path, forked: bool) -> None:
    """Killed, its parent cannot close the helper: the helper must see it go, even when a
    process forked from the parent (a multiprocessing worker) still holds the helper's stdin."""
    script = tmp_path / "crowd.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            sys.path.insert(0, {str(Path(__file__).parents[2])!r})
            from tests.server.test_generation_helper import wait_for_helper
            from mockinfer import MockInferServer
            from mockinfer.engines import synthesize
            synthesize.HELPER_AFTER = 1
            server = MockInferServer(seed=5).start()
            helper = wait_for_helper(server).pid
            fork = os.fork() if {forked!r} else None
            if fork == 0:
                time.sleep(120)
                os._exit(0)
            print(helper, fork or 0, flush=True)
            time.sleep(600)
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    fork = 0
    try:
        assert process.stdout is not None
        helper, fork = (int(pid) for pid in process.stdout.readline().split())
        assert process_alive(helper)
        process.kill()
        process.wait()
        deadline = time.monotonic() + DEADLINE
        while process_alive(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(helper), "the helper outlived the process that started it"
        assert not forked or process_alive(fork)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if fork and process_alive(fork):
            os.kill(fork, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads process states from /proc"
)
