"""Shared fixtures: one real mockinfer server per test session, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from elasticsearch import AsyncElasticsearch, Elasticsearch

from mockinfer import MockInferServer

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def _session_server() -> Iterator[MockInferServer]:
    with MockInferServer(seed=0) as server:
        yield server


@pytest.fixture
def server(_session_server: MockInferServer) -> Iterator[MockInferServer]:
    """The session's server, reset to a fresh cluster; faults inside it fail the test."""
    _session_server.reset()
    _session_server.seed = 0
    yield _session_server
    _session_server.raise_failures()


@pytest.fixture
def es(server: MockInferServer) -> Iterator[Elasticsearch]:
    """The official sync client, pointed at the server."""
    client = Elasticsearch(server.url, request_timeout=10)
    yield client
    client.close()


@pytest_asyncio.fixture
async def aes(server: MockInferServer) -> AsyncIterator[AsyncElasticsearch]:
    """The official async client (aiohttp node), pointed at the server."""
    client = AsyncElasticsearch(server.url, request_timeout=10)
    yield client
    await client.close()
