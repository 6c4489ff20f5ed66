"""The HTTP layer: the only package that imports `aiohttp.web`."""

from mockinfer.server.runner import MockInferServer

__all__ = ["MockInferServer"]
