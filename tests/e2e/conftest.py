"""A real server: `python app.py` on a free loopback port, with random weights (``served``)."""

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

import pytest
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "assets" / "examples"
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(log_dir: Path, **extra_env: str) -> Iterator[str]:
    """`python app.py` on a free loopback port with random weights and ``extra_env``: its URL while
    the ``with`` body runs. The server's log is printed afterwards (pytest shows it on failure)."""
    port = free_port()
    log_path = log_dir / "server.log"
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
        print(log_path.read_text())  # shown by pytest when a test failed


def wait_until_served(url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Return once ``url`` answers 200; fail the test if the server exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"app.py did not serve within {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}"
            )
        time.sleep(0.5)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)
