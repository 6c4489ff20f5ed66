"""How long synthesizing a reply takes, next to how long the official client takes to decode it.

Run from the repository root:

    .venv/bin/python -m benchmarks.bench_generators [--repeat N]

Rows:

* text_embedding: 100 inputs x 1536 dimensions (``dense_vectors`` + ``json.dumps`` of the
  ``{"text_embedding": [{"embedding": [...]}, ...]}`` body); fresh texts every repetition, so
  per-text work is never served from a cache.
* generation alone: ``dense_array`` for the same fresh texts, the array the server encodes.
* one new text: ``dense_array`` for a single 384-dimension text with a word never seen, what
  a server makes for a request whose text is new (microseconds, printed below the table).
* server path: what mockinfer really does per request, ``Synthesizer.infer`` (generation as a
  numpy array, cached per input) rendered by the ES dialect (orjson, encodings of repeated
  rows cached) and encoded as the body: cold
  (fresh texts) and warm (texts seen before, as in a test suite that repeats its inputs).
* completion stream: ``completion_text`` (budget 2600 tokens, so ~600-1100 events) +
  ``split_deltas`` + ``event_offsets`` + one ``json.dumps`` per event, scaled to 1000 events.

The client column is ``elastic_transport.JsonSerializer().loads`` over the same bytes (each
event separately for the stream), i.e. what the Python client does with the body.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from elastic_transport import JsonSerializer

from mockinfer.dialects import ES
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.generators import (
    REALISTIC,
    completion_text,
    dense_array,
    dense_vectors,
    event_offsets,
    split_deltas,
    to_float32,
)
from mockinfer.wire.endpoints import create_endpoint
from mockinfer.wire.requests import InferenceInput

INPUTS, DIMENSIONS, EVENTS = 100, 1536, 1000
_VOCABULARY = """search vector semantic index cluster shard query ranking embedding document field
token latency throughput relevance model inference pipeline snapshot replica mapping analyzer"""
WORDS = _VOCABULARY.split()


def median_ms(run: Callable[[int], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of run(i) over `repeat` calls (after one warm-up), and the last result."""
    result = run(-1)
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        result = run(i)
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times), result


def texts(rep: int) -> list[str]:
    """100 sentence-like inputs, different in every repetition."""
    return [
        f"{WORDS[(i * 7 + rep) % len(WORDS)]} {WORDS[i % len(WORDS)]} document {rep}-{i} "
        f"about {WORDS[(i * 3) % len(WORDS)]} and {WORDS[(i + rep) % len(WORDS)]} settings"
        for i in range(INPUTS)
    ]


ENDPOINT_SETTINGS: dict[str, Any] = {
    "seed": 0,
    "inference_id": "bench-e5",
    "task_type": "text_embedding",
    "dimensions": DIMENSIONS,
    "similarity": "cosine",
    "element_type": "float",
    "input_type": None,
}


def vectors(rep: int) -> list[list[float]]:
    result = dense_vectors(contents=texts(rep), **ENDPOINT_SETTINGS)
    return result  # type: ignore[return-value]  # element_type "float" gives floats


def generated(rep: int) -> np.ndarray:
    return dense_array(contents=texts(rep), **ENDPOINT_SETTINGS)


def one_new_text_us(count: int = 3000) -> float:
    """Median microseconds of `dense_array` for one 384-dimension text, a new word in each."""
    settings = {**ENDPOINT_SETTINGS, "dimensions": 384}
    times = []
    for i in range(count):
        text = f"the quick brown fox {i} jumps over the lazy dog"
        started = time.perf_counter()
        dense_array(contents=[text], **settings)
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times[count // 10 :])


def embedding_body(rep: int) -> bytes:
    body = {"text_embedding": [{"embedding": v} for v in vectors(rep)]}
    return json.dumps(body, separators=(",", ":")).encode()


BENCH_ENDPOINT = create_endpoint(
    "bench-e5",
    "text_embedding",
    {
        "service": "openai",
        "service_settings": {"api_key": "k", "model_id": "m", "dimensions": DIMENSIONS},
    },
)
SYNTHESIZER = Synthesizer(seed=0)


def server_body(rep: int) -> bytes:
    """The reply as the server builds it (cache included) for the texts of repetition `rep`."""
    result = SYNTHESIZER.infer(BENCH_ENDPOINT, InferenceInput(inputs=tuple(texts(rep))))
    return orjson.dumps(ES.document(result))


LLM_ENDPOINT = create_endpoint(
    "bench-llm",
    "completion",
    {"service": "openai", "service_settings": {"api_key": "k", "model_id": "gpt-4o"}},
)


def server_stream(rep: int) -> list[bytes]:
    """The framed SSE events the server writes for a long completion."""
    call = InferenceInput(
        inputs=(f"Write a long story about search engines, take {rep}",),
        task_settings={"max_tokens": 2600},
    )
    plan = SYNTHESIZER.stream_completion(LLM_ENDPOINT, call)
    return [ES.event(timed.event) for timed in plan.events]


def stream_parts(rep: int) -> list[str]:
    """A long completion split into deltas, with its event timing: all but the JSON."""
    text = completion_text(
        seed=0,
        inference_id="bench-llm",
        task_type="completion",
        prompt=f"Write a long story about search engines, take {rep}",
        max_tokens=2600,
    )
    deltas = split_deltas(text, seed=rep)
    event_offsets(REALISTIC, seed=rep, count=len(deltas) + 1)
    return deltas


def stream_events(rep: int) -> list[bytes]:
    return [
        json.dumps(
            {"completion": [{"delta": d}]}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        for d in stream_parts(rep)
    ]


def per_thousand_ms(run: Callable[[int], list[Any]], repeat: int) -> tuple[float, list[Any]]:
    """Median wall time of run(i) scaled to 1000 events, and the last result."""
    result = run(-1)
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        result = run(i)
        times.append((time.perf_counter() - started) * 1000.0 * EVENTS / len(result))
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    serializer = JsonSerializer()

    embed_ms, body = median_ms(embedding_body, repeat)
    vectors_ms, _ = median_ms(vectors, repeat)
    array_ms, _ = median_ms(lambda rep: generated(rep + 2000), repeat)
    values = np.random.default_rng(0).standard_normal(INPUTS * DIMENSIONS) * 0.03
    round_ms, _ = median_ms(lambda _: to_float32(values), repeat)
    decode_body_ms, _ = median_ms(lambda _: serializer.loads(body), repeat)
    server_cold_ms, _ = median_ms(lambda rep: server_body(rep + 1000), repeat)
    server_warm_ms, _ = median_ms(lambda _: server_body(0), repeat)

    stream_ms, events = per_thousand_ms(stream_events, repeat)
    parts_ms, _ = per_thousand_ms(stream_parts, repeat)
    server_stream_ms, _ = per_thousand_ms(server_stream, repeat)
    decode_events_ms, _ = per_thousand_ms(lambda _: [serializer.loads(e) for e in events], repeat)

    rows = [
        (f"text_embedding {INPUTS}x{DIMENSIONS} reply", embed_ms, decode_body_ms),
        ("  of which dense_vectors", vectors_ms, None),
        ("  of which to_float32 (153,600 values)", round_ms, None),
        ("generation alone (dense_array), new texts", array_ms, decode_body_ms),
        ("server path, new texts (cold)", server_cold_ms, decode_body_ms),
        ("server path, texts seen before (warm)", server_warm_ms, decode_body_ms),
        (f"completion stream, per {EVENTS} events", stream_ms, decode_events_ms),
        ("  of which text + deltas + offsets", parts_ms, None),
        ("server path, framed SSE events per 1000", server_stream_ms, decode_events_ms),
    ]
    print(f"median of {repeat} runs, milliseconds; embedding body {len(body):,} bytes")
    print(f"{'':42} {'generate':>9} {'client decode':>14}")
    for name, generate, decode in rows:
        decoded = f"{decode:14.1f}" if decode is not None else ""
        print(f"{name:42} {generate:9.1f} {decoded}".rstrip())
    print(f"\none new text of 384 dimensions (dense_array): {one_new_text_us():.1f} us")


if __name__ == "__main__":
    main()
