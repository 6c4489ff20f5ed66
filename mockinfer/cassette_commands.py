"""`mockinfer cassette <verb>`: inspect, compare, re-time and scrub cassettes.

Exit codes: 0 done (for `diff`, the same; for `scrub --dry-run`, nothing to scrub); 1 `diff`
found differences or `scrub --dry-run` something to scrub; 2 a path that does not exist or a
file that is not a readable cassette (the other files are still handled).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from mockinfer.cassette import report
from mockinfer.cassette.check import cassette_files, check_file
from mockinfer.cassette.format import CassetteData, CassetteError, read, write
from mockinfer.cassette.redact import Redactor
from mockinfer.cassette.tools import diff, retimed, rows, scrubbed, timeline

EXIT_CODES = (
    "exit codes: 0 done; 1 (scrub --dry-run) something would be scrubbed; "
    "2 a missing path or an unreadable cassette"
)


def _positive(value: str) -> float:
    number = _seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"a finite number of seconds >= 0, not {value!r}")
    return number


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `cassette` and its verbs to the `mockinfer` command line."""
    cassette = commands.add_parser(
        "cassette", help="inspect, compare, re-time or scrub cassettes", epilog=EXIT_CODES
    )
    verbs = cassette.add_subparsers(dest="verb", required=True)
    inspect = verbs.add_parser(
        "inspect",
        help="list every interaction; draw each stream's timeline",
        epilog=EXIT_CODES,
    )
    inspect.add_argument("paths", nargs="+", type=Path, help="cassette files or folders")
    page = verbs.add_parser(
        "report",
        help="one self-contained HTML page for a folder of cassettes",
        epilog="exit codes: 0 written; 1 written, and a cassette holds something like a "
        "credential; 2 a missing folder, or written with an unreadable cassette on it",
    )
    page.add_argument("folder", type=Path, help="a folder of cassettes")
    page.add_argument("--html", type=Path, required=True, help="the page to write")
    compare = verbs.add_parser(
        "diff",
        help="what differs between two cassettes, interaction by interaction",
        epilog="exit codes: 0 the same; 1 they differ; 2 a file is missing or unreadable",
    )
    compare.add_argument("first", type=Path, help="a cassette (the old one)")
    compare.add_argument("second", type=Path, help="a cassette (the new one)")
    compare.add_argument(
        "--timing",
        type=_seconds,
        default=0.05,
        help="report a stream event whose wait changed by more than this (seconds, default 0.05)",
    )
    retime = verbs.add_parser(
        "retime", help="rewrite the offsets of stream events, in place", epilog=EXIT_CODES
    )
    retime.add_argument("paths", nargs="+", type=Path, help="cassette files or folders")
    how = retime.add_mutually_exclusive_group(required=True)
    how.add_argument("--factor", type=_positive, help="scale every offset by this factor")
    how.add_argument("--cap", type=_seconds, help="cut every wait to at most this many seconds")
    how.add_argument("--gap", type=_seconds, help="make every wait this many seconds")
    scrub = verbs.add_parser(
        "scrub",
        help="redact existing cassettes (vcrpy's too) by the recorder's rules, in place",
        epilog=EXIT_CODES,
    )
    scrub.add_argument("paths", nargs="+", type=Path, help="cassette files or folders")
    scrub.add_argument(
        "--dry-run", action="store_true", help="list what would change, change nothing"
    )


def run(args: argparse.Namespace) -> int:
    """Carry out `mockinfer cassette <verb>`."""
    if args.verb == "inspect":
        return _each(args.paths, _inspect)
    if args.verb == "report":
        return _report(args.folder, args.html)
    if args.verb == "diff":
        return _diff(args.first, args.second, args.timing)
    if args.verb == "retime":
        return _each(
            args.paths,
            lambda path, data: _rewrite(
                path,
                data,
                lambda: retimed(data, factor=args.factor, cap=args.cap, gap=args.gap),
            ),
        )
    if args.dry_run:
        return _dry_scrub(args.paths)
    redactor = Redactor()
    return _each(
        args.paths, lambda path, data: _rewrite(path, data, lambda: scrubbed(data, redactor))
    )


def _each(paths: list[Path], action: Callable[[Path, CassetteData], int | None]) -> int:
    """Run `action` on every cassette under `paths`; 2 when one could not be read or
    handled."""
    status = 0
    for path in paths:
        if not path.exists():
            print(f"mockinfer: no such file or folder: {path}", file=sys.stderr)
            status = 2
            continue
        for file in cassette_files(path):
            try:
                data = read(file)
            except CassetteError as exc:
                print(f"mockinfer: {exc}", file=sys.stderr)
                status = 2
                continue
            if data is not None and action(file, data):
                status = 2
    return status


#: Control characters a cassette could use to drive the terminal, shown escaped instead.
_CONTROLS = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}


def _shown(text: object) -> str:
    return str(text).translate(_CONTROLS)


def _inspect(path: Path, data: CassetteData) -> None:
    print(f"{_shown(path)}: {len(data.interactions)} interaction(s)")
    head = f"{'#':>4}  {'method':<7}{'path':<48}{'inference id':<26}{'status':>6}"
    print(head + f"{'bytes':>10}{'events':>8}{'duration':>10}")
    for row in rows(data):
        events = "" if row.events is None else str(row.events)
        duration = "" if row.duration is None else f"{row.duration:.3f} s"
        print(
            f"{row.number:>4}  {_shown(row.method):<7}{_shown(row.path)[:47]:<48}"
            f"{_shown(row.inference_id)[:25]:<26}"
            f"{row.status:>6}{row.size:>10}{events:>8}{duration:>10}"
        )
    for number, interaction in enumerate(data.interactions):
        if interaction.response.events is not None:
            print(f"  stream #{number}: {timeline(interaction.response.events)}")


def _rewrite(path: Path, before: CassetteData, after: Callable[[], CassetteData]) -> int:
    """Write what `after` makes of a cassette; 2 when it cannot be."""
    if path.suffix.lower() == ".json":
        # mockinfer writes YAML: in a `.json` file vcrpy's JSON serializer could not read it.
        print(
            f"mockinfer: {path}: left as it is: .json cassettes are read, not rewritten",
            file=sys.stderr,
        )
        return 2
    try:
        changed_data = after()
    except ValueError as exc:
        print(f"mockinfer: {path}: left as it is: {exc}", file=sys.stderr)
        return 2
    if changed_data.interactions == before.interactions:
        print(f"{path}: unchanged")
        return 0
    changed = sum(
        a != b for a, b in zip(changed_data.interactions, before.interactions, strict=True)
    )
    write(path, changed_data)
    print(f"{path}: {changed} interaction(s) rewritten")
    return 0


def _report(folder: Path, out: Path) -> int:
    if not folder.is_dir():
        print(f"mockinfer: no such folder: {folder}", file=sys.stderr)
        return 2
    written = report.render(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(written.page, encoding="utf-8")
    print(
        f"{out}: {len(written.page):,} bytes, {written.credentials} possible credential(s), "
        f"{written.unreadable} unreadable cassette(s)",
        file=sys.stderr,
    )
    return 2 if written.unreadable else 1 if written.credentials else 0


def _diff(first: Path, second: Path, timing: float) -> int:
    loaded = []
    for path in (first, second):
        try:
            data = read(path)
        except CassetteError as exc:
            print(f"mockinfer: {exc}", file=sys.stderr)
            return 2
        if data is None:
            print(f"mockinfer: no such cassette: {path}", file=sys.stderr)
            return 2
        loaded.append(data)
    changes = diff(loaded[0], loaded[1], timing=timing)
    for change in changes:
        print(_shown(change))
    print(f"{len(changes)} difference(s)", file=sys.stderr)
    return 1 if changes else 0


def _dry_scrub(paths: list[Path]) -> int:
    found = 0

    def report(path: Path, _: CassetteData) -> None:
        nonlocal found
        for finding in check_file(path):
            print(f"{path}: would scrub {finding}")
            found += 1

    status = _each(paths, report)
    return status or (1 if found else 0)
