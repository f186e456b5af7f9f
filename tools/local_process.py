"""The local stack (`python -m chalicelib.local`) as a child process: free ports, starting it, stopping it.

Shared by `tools/load.py` and the tests that drive the real stack process, so that they all start and stop
it the same way.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_reading_banner(env: Mapping[str, str], timeout: float) -> tuple[subprocess.Popen[str], str]:
    """Start the stack with its output on a pipe; return it and its banner: what it wrote up to the line
    "Serving on", or everything until it exited or `timeout` seconds passed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local"],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        banner.append(line)
        if "Serving on" in line or process.poll() is not None:
            break
    return process, "".join(banner)


def stop(process: subprocess.Popen[Any], timeout: float) -> None:
    """Ctrl-C the stack (it shuts its servers down cleanly), and kill it if it is still running after
    `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
