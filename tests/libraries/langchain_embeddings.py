"""Embed with langchain-elasticsearch against a server; run by the langchain venv's python.

Usage: `python langchain_embeddings.py URL`. Prints one JSON object: the vectors' dimension,
the whole query vector, the cosine of the query with each document (sync and async), whether
sync and async vectors are identical, and whether `model_must_be_deployed` passed. Any error
propagates, so the exit status is non-zero.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch, NotFoundError
from langchain_elasticsearch import AsyncElasticsearchEmbeddings, ElasticsearchEmbeddings
from langchain_elasticsearch._utilities import model_must_be_deployed

MODEL_ID = ".multilingual-e5-small"
#: A model the test declares as not deployed.
COLD_MODEL_ID = "cold-model"
DOCUMENTS = ["a cat sat on the mat", "stock markets fell sharply today", "the cat sat on a mat"]
QUERY = "cat on a mat"


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine of two vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def run_sync(url: str) -> tuple[list[list[float]], list[float]]:
    """Documents' and query vectors through `ElasticsearchEmbeddings`; probes deployment."""
    client = Elasticsearch(url, request_timeout=10)
    try:
        embeddings = ElasticsearchEmbeddings(MODEL_ID, client=client)
        documents = embeddings.embed_documents(DOCUMENTS)
        query = embeddings.embed_query(QUERY)
        # Sends `{"x": "y"}`: a 400 means "deployed"; 404 or 409 would raise.
        model_must_be_deployed(client, MODEL_ID)
    finally:
        client.close()
    return documents, query


def cold_model_message(url: str) -> str:
    """What langchain says of a model that is not deployed (it turns the 409 into a 404)."""
    with Elasticsearch(url, request_timeout=10) as client:
        try:
            model_must_be_deployed(client, COLD_MODEL_ID)
        except NotFoundError as exc:
            return str(exc.message)
    raise AssertionError(f"{COLD_MODEL_ID} passed langchain's deployment check")


async def run_async(url: str) -> tuple[list[list[float]], list[float]]:
    """Documents' and query vectors through `AsyncElasticsearchEmbeddings`."""
    client = AsyncElasticsearch(url, request_timeout=10)
    try:
        embeddings = AsyncElasticsearchEmbeddings(MODEL_ID, client=client)
        documents = await embeddings.aembed_documents(DOCUMENTS)
        query = await embeddings.aembed_query(QUERY)
    finally:
        await client.close()
    return documents, query


def main(url: str) -> dict[str, Any]:
    """The summary the test checks."""
    sync_documents, sync_query = run_sync(url)
    async_documents, async_query = asyncio.run(run_async(url))
    dimensions = {len(v) for v in [*sync_documents, sync_query, *async_documents, async_query]}
    if len(dimensions) != 1:
        raise AssertionError(f"vectors of different dimensions: {sorted(dimensions)}")
    return {
        "dimension": dimensions.pop(),
        "documents": DOCUMENTS,
        "query": sync_query,
        "deployed": True,
        "cold": cold_model_message(url),
        "cosines": {
            "sync": [cosine(sync_query, d) for d in sync_documents],
            "async": [cosine(async_query, d) for d in async_documents],
        },
        "identical": sync_documents == async_documents and sync_query == async_query,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
