"""A real server: `python app.py` on a free loopback port, with random weights (``served``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client

from segdemo.bench import server
from segdemo.bench.server import ROOT, free_port

EXAMPLES = ROOT / "assets" / "examples"
__all__ = ["EXAMPLES", "ROOT", "free_port", "served"]


@contextmanager
def served(log_dir: Path, **extra_env: str) -> Iterator[str]:
    """`python app.py` on a free loopback port with random weights and ``extra_env``: its URL while
    the ``with`` body runs (see :func:`segdemo.bench.server.served`). The server's log is printed
    afterwards (pytest shows it on failure)."""
    log_path = log_dir / "server.log"
    try:
        with server.served(log_path, **extra_env) as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))
    finally:
        if log_path.exists():
            print(log_path.read_text())


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)
