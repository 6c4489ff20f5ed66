"""The `mockinfer` command line."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from mockinfer.engines.compose import Responder
from mockinfer.engines.synthesize import Synthesizer
from mockinfer.generators import DEFAULT_SEED
from mockinfer.server.app import create_app
from mockinfer.server.runner import start_site
from mockinfer.server.state import ServerState


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockinfer", description="A stand-in for the Elasticsearch Inference API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=9200, help="port to bind; 0 picks a free one (default 9200)"
    )
    serve.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="master seed of synthesized results"
    )
    return parser


async def _serve(host: str, port: int, seed: int) -> None:
    state = ServerState(responder=Responder(Synthesizer(seed=seed)))
    runner, url = await start_site(create_app(state), host, port)
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mockinfer` console script."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args.host, args.port, args.seed))
    except OSError as exc:
        print(
            f"mockinfer: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
