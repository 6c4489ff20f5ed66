"""`mockinfer serve` in a process of its own, for the benchmarks that need one."""

from __future__ import annotations

import subprocess
import sys


def start_serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `mockinfer serve --port 0 ARGS`; the process and the URL it listens on."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "mockinfer.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert serve.stdout is not None
    return serve, serve.stdout.readline().strip()
