"""ARCHITECTURE.md's import directions, enforced over the source with `ast`.

Arrows point the way imports may go; nothing imports upward:

    wire <- generators <- engines  <- server <- pytest_plugin, cli
    wire <- generators <- dialects <- server
    wire <- cassette   <- engines
    wire <- backend    <- engines

Plus two gatekeepers: only `mockinfer/server/` imports `aiohttp.web`, and only the pytest
front door (the `mockinfer/pytest_plugin/` package) imports pytest.
`mockinfer.errors`, `mockinfer.settings` and the plugin API `mockinfer.plugins` are importable
by anyone.
Imports under `if TYPE_CHECKING:` count too: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "mockinfer"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE
ROOT = PACKAGE  # the package's own `__init__`: the public facade

#: Leaf modules every layer may import: the exception root, the settings vocabulary and the
#: generator plugin API.
SHARED = frozenset({"errors", "settings", "plugins"})
#: Layer -> the layers it may import from (itself and SHARED are always allowed).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "settings": frozenset(),
    "plugins": frozenset(),
    "wire": frozenset(),
    "generators": frozenset({"wire"}),
    "cassette": frozenset({"wire"}),
    "backend": frozenset({"wire"}),
    "dialects": frozenset({"wire", "generators"}),
    "engines": frozenset({"wire", "generators", "cassette", "backend"}),
    "server": frozenset({"wire", "generators", "cassette", "backend", "engines", "dialects", ROOT}),
    ROOT: frozenset({"wire", "generators", "cassette", "backend", "engines", "dialects", "server"}),
}
#: Front doors: they may import anything in the package.
TOP = frozenset({"pytest_plugin", "cli", "cassette_commands", "__main__"})

AIOHTTP_WEB_LAYER = "server"
PYTEST_LAYER = "pytest_plugin"


def layer_of(module: str) -> str:
    """`mockinfer.wire.sse` -> `wire`; `mockinfer` -> the root facade."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def module_name(path: Path) -> str:
    """The dotted module name of a file under the package directory."""
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a (possibly relative) `from ... import` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(tree: ast.AST, module: str, *, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for every import; `from pkg import name` yields `pkg.name`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # The names may be submodules (`from aiohttp import web`, `from mockinfer import
            # errors`), so each one counts as `pkg.name`.
            target = _absolute(node, module, is_package)
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def _is_aiohttp_web(name: str) -> bool:
    return name == "aiohttp.web" or name.startswith(("aiohttp.web.", "aiohttp.web_"))


def _is_pytest(name: str) -> bool:
    return name.split(".")[0] in ("pytest", "_pytest")


def _internal_layer(name: str, known: frozenset[str]) -> str | None:
    """The layer an internal import reaches, or None for a module outside the package.

    `mockinfer.X` where X is not a layer is a name from the root facade.
    """
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    layer = layer_of(name)
    return layer if layer in known else ROOT


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every import in `source` (the text of `module`) that breaks the layering rules."""
    own = layer_of(module)
    known = frozenset(ALLOWED) | TOP
    if own not in known:
        return [f"{module}: layer [{own}] is not in ARCHITECTURE.md's table; add it to ALLOWED"]
    tree = ast.parse(source, filename=module)
    problems: list[str] = []
    for line, name in imported_modules(tree, module, is_package=is_package):
        where = f"{module}:{line} imports {name}"
        if _is_aiohttp_web(name) and own != AIOHTTP_WEB_LAYER:
            problems.append(f"{where}: only mockinfer/server/ may import aiohttp.web")
        if _is_pytest(name) and own != PYTEST_LAYER:
            problems.append(f"{where}: only the pytest front door may import pytest")
        target = _internal_layer(name, known)
        if target is None or own in TOP or target == own or target in SHARED:
            continue
        if target not in ALLOWED[own]:
            problems.append(f"{where}: layer [{own}] may not import [{target}]")
    return sorted(set(problems))


SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))


@pytest.mark.parametrize(
    "path", SOURCES, ids=[str(p.relative_to(PACKAGE_DIR.parent)) for p in SOURCES]
)
def test_imports_follow_the_layers(path: Path) -> None:
    module = module_name(path)
    found = violations(
        path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
    )
    assert not found, "\n".join(found)


def test_package_has_sources() -> None:
    assert any(p.parent.name == "wire" for p in SOURCES), f"no sources found under {PACKAGE_DIR}"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "mockinfer.wire.sse",
            "from mockinfer.engines.replies import x\n",
            "may not import [engines]",
        ),
        ("mockinfer.wire.sse", "from ..server import app\n", "may not import [server]"),
        (
            "mockinfer.wire.sse",
            "from mockinfer import MockInferServer\n",
            "may not import [mockinfer]",
        ),
        ("mockinfer.generators.dense", "import mockinfer.backend\n", "may not import [backend]"),
        (
            "mockinfer.backend",
            "from mockinfer.generators import seeds\n",
            "may not import [generators]",
        ),
        (
            "mockinfer.cassette.io",
            "from mockinfer.engines import replay\n",
            "may not import [engines]",
        ),
        (
            "mockinfer.engines.compose",
            "from mockinfer.server.app import create_app\n",
            "may not import [server]",
        ),
        ("mockinfer.server.app", "from mockinfer.cli import main\n", "may not import [cli]"),
        (
            "mockinfer.server.app",
            "from mockinfer import pytest_plugin\n",
            "may not import [pytest_plugin]",
        ),
        (
            "mockinfer.errors",
            "from mockinfer.wire.errors import EsError\n",
            "may not import [wire]",
        ),
        (
            "mockinfer.engines.record",
            "from aiohttp import web\n",
            "only mockinfer/server/ may import aiohttp.web",
        ),
        (
            "mockinfer.cli",
            "import aiohttp.web_response\n",
            "only mockinfer/server/ may import aiohttp.web",
        ),
        ("mockinfer.cli", "import pytest\n", "only the pytest front door may import pytest"),
        (
            "mockinfer.wire.sse",
            "from _pytest.fixtures import f\n",
            "only the pytest front door may import pytest",
        ),
        (
            "mockinfer.wire.sse",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mockinfer.backend import B\n",
            "may not import [backend]",
        ),
        ("mockinfer.config", "import json\n", "layer [config] is not in ARCHITECTURE.md's table"),
    ],
)
def test_checker_catches_violations(module: str, source: str, expected: str) -> None:
    found = violations(source, module)
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        (
            "mockinfer.wire.sse",
            "from mockinfer.wire.errors import EsError\nfrom . import tasks\n",
            False,
        ),
        ("mockinfer.wire", "from . import sse\nfrom .tasks import TaskType\n", True),
        ("mockinfer.generators.dense", "from mockinfer.errors import MockinferError\n", False),
        ("mockinfer.engines.record", "from aiohttp import ClientSession\n", False),
        (
            "mockinfer.engines.compose",
            "from ..backend import Backend\nfrom ..cassette import x\n",
            False,
        ),
        (
            "mockinfer.server.app",
            "from aiohttp import web\nfrom mockinfer.engines import compose\n",
            False,
        ),
        ("mockinfer.pytest_plugin", "import pytest\nfrom mockinfer.server import runner\n", False),
        ("mockinfer.cli", "from mockinfer.server.runner import start_site\n", False),
        ("mockinfer", "from mockinfer.server.runner import MockInferServer\n", True),
    ],
)
def test_checker_allows_permitted_imports(module: str, source: str, is_package: bool) -> None:
    assert violations(source, module, is_package=is_package) == []
