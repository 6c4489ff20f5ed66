"""The hooks mockinfer's pytest plugin adds, for a `conftest.py` to implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockinfer.engines.plugins import GeneratorSet


@pytest.hookspec
def pytest_mockinfer_configure(config: pytest.Config, generators: GeneratorSet) -> None:
    """Called once per test process, when its mockinfer server is made.

    Register generators written in the test suite (`generators.register(obj)`) and set the
    routes every test starts from (`generators.routes = [...]`); the `generators` setting
    (ini, environment, command line, marker) is tried before them.
    """
