"""The `mockinfer` command line: `serve`, `check` for credentials left in cassettes, and
`generators` to list the generator plugins installed."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mockinfer import cassette_commands
from mockinfer.backend import Backend, CallJournal
from mockinfer.cassette.check import cassette_files, check_file
from mockinfer.cassette.format import CassetteError
from mockinfer.cassette.matching import DEFAULT_MATCHERS, MATCHERS, check_matchers
from mockinfer.engines.cassettes import CassetteEngine, open_cassette
from mockinfer.engines.faults import load_rules
from mockinfer.engines.plugins import GeneratorSet
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.errors import ConfigurationError, PluginError
from mockinfer.generators import DEFAULT_SEED
from mockinfer.server.app import create_app
from mockinfer.server.runner import start_site
from mockinfer.server.state import ServerState
from mockinfer.settings import (
    ENV_PREFIX,
    FALLBACKS,
    PROVIDER_API_KEY_ENV,
    RECORD_MODES,
    UPSTREAM_API_KEY_ENV,
    Route,
    parse_route,
)
from mockinfer.wire.models import declared_model

UPSTREAM_ENV = "MOCKINFER_UPSTREAM"
#: `serve` runs for days: its journal keeps the newest calls, and no body over 64 KiB.
SERVE_JOURNAL_CALLS = 1000
SERVE_JOURNAL_BODY_BYTES = 64 * 1024


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {value!r}")
    return port


def _route(value: str) -> Route:
    try:
        return parse_route(value)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _matchers(value: str) -> tuple[str, ...]:
    try:
        return check_matchers([m.strip() for m in value.split(",") if m.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _host(value: str) -> str:
    if not value.strip():
        # An empty host would bind every interface: say which one is meant.
        raise argparse.ArgumentTypeError("name an address to bind, such as 127.0.0.1 or 0.0.0.0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockinfer", description="A stand-in for the Elasticsearch Inference API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server until interrupted")
    serve.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, default=9200, help="port to bind; 0 picks a free one (default 9200)"
    )
    serve.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="master seed of synthesized results"
    )
    serve.add_argument("--cassette", type=Path, help="replay (and record into) this cassette")
    serve.add_argument("--record-mode", choices=RECORD_MODES, default="none")
    serve.add_argument(
        "--fallback",
        choices=FALLBACKS,
        default="error",
        help="for requests the cassette does not match",
    )
    serve.add_argument(
        "--upstream",
        default=os.environ.get(UPSTREAM_ENV),
        help=f"the real cluster to record from (default ${UPSTREAM_ENV}); "
        f"${UPSTREAM_API_KEY_ENV} replaces the client's credentials",
    )
    serve.add_argument(
        "--timing",
        default="recorded",
        help="stream timing on replay: recorded, instant, or a factor such as 0.5",
    )
    serve.add_argument(
        "--match-on",
        type=_matchers,
        default=DEFAULT_MATCHERS,
        help=f"comma-separated matchers (from {', '.join(MATCHERS)})",
    )
    serve.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ID:TASK[:DIMS]",
        help="declare a trained model (task: text_embedding, text_expansion or "
        "text_similarity); repeatable",
    )
    serve.add_argument(
        "--provider-api-key",
        default=os.environ.get(PROVIDER_API_KEY_ENV),
        metavar="KEY",
        help="require 'Authorization: Bearer KEY' on the OpenAI, Cohere and Hugging Face "
        f"routes (default ${PROVIDER_API_KEY_ENV}; unset: any request is let in)",
    )
    serve.add_argument(
        "--generator",
        action="append",
        type=_route,
        metavar="ROUTE",
        help="send endpoints to a generator plugin: GENERATOR (every endpoint of a task it "
        "serves) or SELECTOR:GLOB=GENERATOR with a selector from endpoint, model, service, "
        f"task; 'core' is the built-in one; repeatable, first match wins (default "
        f"${ENV_PREFIX}GENERATORS, comma-separated)",
    )
    serve.add_argument(
        "--faults",
        type=Path,
        help="a YAML or JSON file holding a list of fault rules to apply from the start",
    )
    check = commands.add_parser("check", help="fail when cassettes hold anything like a credential")
    check.add_argument("paths", nargs="+", type=Path, help="cassette files or folders")
    commands.add_parser(
        "generators",
        help="list the generator plugins installed: tasks, default models and services; "
        "exit 1 when one fails to load",
    )
    cassette_commands.add_commands(commands)
    return parser


async def _serve(host: str, port: int, state: ServerState) -> None:
    runner, url = await start_site(create_app(state), host, port)
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A closed terminal (SIGHUP) stops the server as cleanly as Ctrl-C or `docker stop`.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if state.cassette is not None and state.cassette.recorder is not None:
            await state.cassette.recorder.close()


def _open(args: argparse.Namespace) -> CassetteEngine:
    return open_cassette(
        args.cassette,
        record_mode=args.record_mode,
        fallback=args.fallback,
        matchers=args.match_on,
        timing=args.timing,
        upstream=args.upstream,
        upstream_api_key=os.environ.get(UPSTREAM_API_KEY_ENV),
    )


def _generators(routes: Sequence[Route]) -> GeneratorSet:
    """The installed generators with `routes`: a plugin that cannot load is reported before
    the server listens."""
    generators = GeneratorSet()
    generators.use(routes)
    for problem in generators.prepare():
        print(f"mockinfer: warning: {problem}; it answers nothing", file=sys.stderr)
    return generators


def _routes(args: argparse.Namespace) -> Sequence[Route]:
    if args.generator is not None:
        return list(args.generator)
    listed = os.environ.get(ENV_PREFIX + "GENERATORS", "")
    return [parse_route(route) for route in listed.split(",") if route.strip()]


def _run_serve(args: argparse.Namespace) -> int:
    try:
        state = ServerState(
            backend=Backend(
                [declared_model(spec) for spec in args.model],
                CallJournal(limit=SERVE_JOURNAL_CALLS, body_limit=SERVE_JOURNAL_BODY_BYTES),
            ),
            # The helper frees the GIL for a client in the server's process; serve has none,
            # and there the helper's CPU and pipes cost its clients more than it saves.
            synthesizer=Synthesizer(
                seed=args.seed, generators=_generators(_routes(args)), generation_helper=False
            ),
            provider_api_key=args.provider_api_key or None,
        )
        for rule in load_rules(args.faults) if args.faults is not None else ():
            state.faults.add(rule)
        if args.cassette is not None:
            state.cassette = _open(args)
    except (CassetteError, ConfigurationError, PluginError, ValueError) as exc:
        print(f"mockinfer: {exc}", file=sys.stderr)
        return 2
    status = 0
    try:
        asyncio.run(_serve(args.host, args.port, state))
    except OSError as exc:
        print(
            f"mockinfer: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        status = 1
    if state.cassette is not None:
        cassette = state.cassette.cassette
        try:
            written = cassette.save()
        except CassetteError as exc:
            print(f"mockinfer: {exc}", file=sys.stderr)
            return 1
        if written:
            print(f"mockinfer: wrote {written} interactions to {cassette.path}", file=sys.stderr)
    return status


def _run_check(paths: Sequence[Path]) -> int:
    """Exit 1 when a cassette holds anything like a credential, 2 when one cannot be read."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"mockinfer: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = list(dict.fromkeys(f for p in paths for f in cassette_files(p)))
    found = unreadable = 0
    for file in files:
        try:
            findings = check_file(file)
        except CassetteError as exc:
            print(f"mockinfer: {exc}", file=sys.stderr)
            unreadable += 1
            continue
        for finding in findings:
            print(f"{file}: {finding}")
        found += len(findings)
    print(
        f"checked {len(files)} cassette(s): {found} possible credential(s)"
        + (f", {unreadable} unreadable" if unreadable else ""),
        file=sys.stderr,
    )
    return 2 if unreadable else 1 if found else 0


def _run_generators() -> int:
    """Exit 1 when an installed generator plugin fails to load."""
    rows = GeneratorSet().describe()
    if not rows:
        print("no generator plugins installed: every endpoint gets the built-in (core) results")
        return 0
    failed = 0
    for name, plugin in rows:
        if isinstance(plugin, PluginError):
            failed += 1
            print(f"{name}: {plugin}")
            continue
        claims = ", ".join([*plugin.models, *(f"service {s}" for s in plugin.services)])
        print(
            f"{name} {plugin.version} ({plugin.origin})\n"
            f"  tasks: {', '.join(sorted(plugin.tasks))}\n"
            f"  deterministic: {'yes' if plugin.deterministic else 'no'}\n"
            f"  answers by default: {claims or 'nothing (route endpoints to it)'}"
        )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mockinfer` console script."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _run_check(args.paths)
    if args.command == "cassette":
        return cassette_commands.run(args)
    if args.command == "generators":
        return _run_generators()
    return _run_serve(args)


if __name__ == "__main__":
    sys.exit(main())
