"""A real server: `python app.py` on a free loopback port with random weights, for the app
bench and the end-to-end tests (which turn its RuntimeError into a test failure)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    """A TCP port nobody listens on, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(log_path: Path, **extra_env: str) -> Iterator[str]:
    """`python app.py` on a free loopback port with random weights and ``extra_env``: its URL
    (once the page answers 200) while the ``with`` body runs; stopped afterwards.

    The server's output goes to ``log_path``. RuntimeError (with the log) when it exits or does
    not serve within STARTUP_TIMEOUT_S.
    """
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_MCP_SERVER": "False",
        "SEGDEMO_MCP": "",
        "SEGDEMO_WEIGHTS": "random",
        "SEGDEMO_OFFLINE": "1",
        **extra_env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until_served(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until_served(url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Return once ``url`` answers 200; RuntimeError if the server exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"app.py did not serve within {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}"
            )
        time.sleep(0.05)
