"""The generators stay pure: only numpy, faker and the standard library; no hidden entropy."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "mockinfer" / "generators"
SOURCES = sorted(PACKAGE_DIR.glob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy", "faker"}
# Sources of values that differ between runs or processes.
FORBIDDEN_CALLS = {"hash", "id", "time.time", "time.monotonic", "datetime.now", "datetime.utcnow",
                   "uuid.uuid1", "uuid.uuid4", "os.urandom", "Faker.seed", "np.random.default_rng",
                   "numpy.random.default_rng", "random.random", "random.randint", "random.choice",
                   "random.seed", "random.shuffle", "random.getrandbits", "random.randrange"}  # fmt: skip


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_imports_and_calls(source: Path) -> None:
    tree = ast.parse(source.read_text(), filename=str(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            modules = []
        for module in modules:
            top = module.split(".")[0]
            assert (
                top in sys.stdlib_module_names
                or top in ALLOWED_THIRD_PARTY
                or module == "__future__"
                or module.startswith(("mockinfer.generators", "mockinfer.wire"))
            ), f"{source.name} imports {module}"
            assert top not in {"aiohttp", "pytest", "time", "os", "secrets"}, module
        if isinstance(node, ast.Call):
            assert dotted(node.func) not in FORBIDDEN_CALLS, f"{source.name}: {dotted(node.func)}"


def test_modules_stay_small() -> None:
    for source in SOURCES:
        assert len(source.read_text().splitlines()) <= 500, source.name  # ARCHITECTURE.md: one role
