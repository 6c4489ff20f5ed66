"""Seeded, deterministic generators for synthesized inference results.

Pure functions of (master seed, endpoint, task type, input): no I/O, no global state beyond
caches. See each module for how its content is made plausible.
"""

from mockinfer.generators.chat import chat_chunks, chat_completion_object, chat_reply
from mockinfer.generators.completion import completion_text, count_tokens, split_deltas
from mockinfer.generators.dense import dense_array, dense_vector, dense_vectors
from mockinfer.generators.rerank import rerank
from mockinfer.generators.schema import value_for_schema
from mockinfer.generators.seeds import DEFAULT_SEED, canonical_json, derive_seed, to_float32
from mockinfer.generators.sparse import sparse_vector
from mockinfer.generators.timing import INSTANT, REALISTIC, TimingProfile, event_offsets
from mockinfer.wire.results import ChatReply, RankedDocument, ToolCall

__all__ = [
    "DEFAULT_SEED",
    "INSTANT",
    "REALISTIC",
    "ChatReply",
    "RankedDocument",
    "TimingProfile",
    "ToolCall",
    "canonical_json",
    "chat_chunks",
    "chat_completion_object",
    "chat_reply",
    "completion_text",
    "count_tokens",
    "dense_array",
    "dense_vector",
    "dense_vectors",
    "derive_seed",
    "event_offsets",
    "rerank",
    "sparse_vector",
    "split_deltas",
    "to_float32",
    "value_for_schema",
]
