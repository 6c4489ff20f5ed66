"""Same seed, same bytes: across processes and hash seeds, and with no hidden state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Builds one JSON document from every generator; run here and in fresh interpreters.
SNAPSHOT = """
import json
from mockinfer.generators import (
    chat_chunks, chat_reply, completion_text, dense_vectors, derive_seed, event_offsets,
    REALISTIC, rerank, sparse_vector, split_deltas, value_for_schema,
)

def snapshot():
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["city", "n"]}}}]
    reply = chat_reply(seed=9, inference_id="c", model="m", request={
        "messages": [{"role": "user", "content": "lookup Oslo"}], "tools": tools})
    text = completion_text(seed=9, inference_id="l", task_type="completion",
                           prompt="Why is the sky blue?", max_tokens=None)
    return {
        "seed": derive_seed(9, "e", "text_embedding", "héllo"),
        "dense": dense_vectors(seed=9, inference_id="e", task_type="text_embedding",
                               contents=["héllo wörld", "", "日本"], dimensions=64,
                               similarity="cosine", element_type="float", input_type="search"),
        "bits": dense_vectors(seed=9, inference_id="e", task_type="embedding",
                              contents=["bits"], dimensions=64, similarity="cosine",
                              element_type="bit", input_type=None),
        "sparse": sparse_vector(seed=9, inference_id="s", task_type="sparse_embedding",
                                text="Cats are sitting on the mats"),
        "rerank": [d.__dict__ for d in rerank(seed=9, inference_id="r", query="cats",
                   documents=["cats and dogs", "stocks"], top_n=None, return_documents=True)],
        "text": text,
        "deltas": split_deltas(text, seed=9),
        "chat": reply.__dict__ | {"tool_calls": [c.__dict__ for c in reply.tool_calls]},
        "chunks": chat_chunks(reply, seed=9),
        "offsets": event_offsets(REALISTIC, seed=9, count=5),
        "schema": value_for_schema({"type": "array", "items": {"type": "string",
                                    "format": "email"}, "minItems": 2}, seed=9),
    }

print(json.dumps(snapshot(), sort_keys=True))
"""


def in_process() -> str:
    namespace: dict[str, object] = {}
    exec(SNAPSHOT.replace("print(", "result = ("), namespace)
    return json.dumps(json.loads(str(namespace["result"])), sort_keys=True)


def in_subprocess(hash_seed: str) -> str:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", SNAPSHOT], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_same_bytes_in_other_processes() -> None:
    here = in_process()
    assert in_subprocess("1") == here
    assert in_subprocess("4242") == here


def test_call_order_does_not_matter() -> None:
    first = in_process()
    # Warm every cache with other inputs, then look again.
    exec(SNAPSHOT.replace('"héllo wörld"', '"other"').replace("print(", "_ = ("), {})
    assert in_process() == first
