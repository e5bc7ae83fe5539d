"""segdemo.weights: the torchvision checkpoint download, against local servers (no network).

A server on 127.0.0.1 in a thread answers each path the way a test asks: the file at once, the
file in two halves with a pause between them (to look at the store while the download is under
way), headers and then silence, or an error. Files are named the torchvision way,
``name-<first 8 hex digits of the SHA-256>.pth``, and the store is a temporary TORCH_HOME.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from segdemo import weights
from segdemo.weights import WeightsUnavailable

TITLE = "Toy model"
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


def sha_name(content: bytes, stem: str = "x") -> str:
    """torchvision's file name for ``content``: ``<stem>-<8 hex of its SHA-256>.pth``."""
    return f"{stem}-{hashlib.sha256(content).hexdigest()[:8]}.pth"


class Server:
    """A local HTTP server; ``routes[path]`` answers a GET of ``path``; counts connections."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.closing = threading.Event()  # stalled handlers give up when the test ends
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                else:
                    route(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def headers(handler: http.server.BaseHTTPRequestHandler, length: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def whole(content: bytes) -> Route:
    """Answer with ``content`` at once."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        headers(handler, len(content))
        handler.wfile.write(content)

    return route


def paused(content: bytes, half_sent: threading.Event, go_on: threading.Event) -> Route:
    """Send the first half of ``content``, set ``half_sent``, wait for ``go_on``, send the rest."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        headers(handler, len(content))
        handler.wfile.write(content[: len(content) // 2])
        handler.wfile.flush()
        half_sent.set()
        if go_on.wait(timeout=30):
            handler.wfile.write(content[len(content) // 2 :])

    return route


def stalled_after_half(content: bytes, closing: threading.Event) -> Route:
    """Send the headers and half of ``content``, then nothing until the test ends."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        headers(handler, len(content))
        handler.wfile.write(content[: len(content) // 2])
        handler.wfile.flush()
        closing.wait(timeout=30)

    return route


@pytest.fixture(autouse=True)
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty temporary store, the network allowed, no proxy between us and 127.0.0.1."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("SEGDEMO_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server that accepts connections and never answers: (its URL base, the connections)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # so that the accepting thread sees the end of the test
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    done.set()
    thread.join(timeout=5)
    listener.close()
    for connection in accepted:
        connection.close()


def payload(size: int = 3 * 2**20 + 123, seed: int = 0) -> bytes:
    """Bytes that are not all alike, larger than one read of the download loop (1 MiB)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (size,), dtype=torch.uint8, generator=g).numpy().tobytes()


def files_in(folder: Path) -> list[str]:
    """Every file in ``folder``, hidden ones (the download's .partial) included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fetch_in_thread(url: str) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["path"] = weights.fetch_checkpoint(url, TITLE)
        except BaseException as error:  # examined by the test
            outcome["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


# --------------------------------------------------------------------------- a good download


def test_a_download_appears_under_its_final_name_only_when_complete(
    server: Server, store: Path
) -> None:
    content = payload()
    name = sha_name(content)
    half_sent, go_on = threading.Event(), threading.Event()
    server.routes[f"/{name}"] = paused(content, half_sent, go_on)
    url = server.url(name)
    assert weights.checkpoint_path(url) == store / name

    thread, outcome = fetch_in_thread(url)
    try:
        assert half_sent.wait(timeout=30)
        # Under way: only a hidden temporary file, never a partial file under the final name.
        during = files_in(store)
        assert name not in during
        assert len(during) == 1 and during[0].startswith(f".{name}.")
        assert during[0].endswith(".partial")
    finally:
        go_on.set()
        thread.join(timeout=60)
    assert "error" not in outcome, outcome
    assert outcome["path"] == store / name
    assert (store / name).read_bytes() == content
    assert files_in(store) == [name]  # the temporary file became the final one
    # Now in the store: used as it is, with no connection.
    assert weights.fetch_checkpoint(url, TITLE) == store / name
    assert server.requests == [f"/{name}"]


def test_a_download_leaves_the_process_wide_socket_timeout_alone(server: Server) -> None:
    content = payload(2 * 2**20)
    name = sha_name(content)
    half_sent, go_on = threading.Event(), threading.Event()
    server.routes[f"/{name}"] = paused(content, half_sent, go_on)
    before = socket.getdefaulttimeout()

    thread, outcome = fetch_in_thread(server.url(name))
    try:
        assert half_sent.wait(timeout=30)
        seen_during = {socket.getdefaulttimeout() for _ in range(100)}
    finally:
        go_on.set()
        thread.join(timeout=60)
    assert "path" in outcome, outcome
    assert seen_during == {before}
    assert socket.getdefaulttimeout() == before


def test_a_file_without_a_hash_in_its_name_is_downloaded_unchecked(
    server: Server, store: Path
) -> None:
    content = payload(1000)
    server.routes["/plain.pth"] = whole(content)
    assert weights.fetch_checkpoint(server.url("plain.pth"), TITLE) == store / "plain.pth"
    assert (store / "plain.pth").read_bytes() == content


def test_load_checkpoint_downloads_and_reads_the_state_dict(server: Server, store: Path) -> None:
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.arange(4.0)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    name = sha_name(buffer.getvalue(), "toy")
    server.routes[f"/{name}"] = whole(buffer.getvalue())
    loaded = weights.load_checkpoint(server.url(name), TITLE)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert files_in(store) == [name]


UNPICKLED: list[str] = []


def _unpickled(tag: str) -> str:
    UNPICKLED.append(tag)
    return tag


class Payload:
    """Runs ``_unpickled`` when unpickled by a loader that allows arbitrary globals."""

    def __reduce__(self) -> tuple[Callable[[str], str], tuple[str]]:
        return (_unpickled, ("code ran",))


def test_a_checkpoint_is_loaded_with_weights_only(store: Path) -> None:
    url = "http://127.0.0.1:9/toy-00000000.pth"  # in the store already: never fetched
    path = weights.checkpoint_path(url)
    path.parent.mkdir(parents=True)
    torch.save({"weight": torch.ones(2), "extra": Payload()}, path)
    with pytest.raises(WeightsUnavailable, match=r"could not be read.*python -m segdemo fetch"):
        weights.load_checkpoint(url, TITLE)
    assert UNPICKLED == []  # refused before anything in the file ran


# --------------------------------------------------------------------------- failed downloads


def test_a_hash_mismatch_raises_and_leaves_no_file(server: Server, store: Path) -> None:
    content = payload(5000)
    name = "x-00000000.pth"
    assert not hashlib.sha256(content).hexdigest().startswith("00000000")
    server.routes[f"/{name}"] = whole(content)
    with pytest.raises(WeightsUnavailable) as caught:
        weights.fetch_checkpoint(server.url(name), TITLE)
    message = str(caught.value)
    assert "SHA-256" in message and "00000000" in message
    assert "python -m segdemo fetch" in message and TITLE in message
    assert server.requests == [f"/{name}"]  # it was downloaded, then refused
    assert files_in(store) == []


def test_a_missing_file_raises_and_leaves_no_file(server: Server, store: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="404"):
        weights.fetch_checkpoint(server.url("gone-12345678.pth"), TITLE)
    assert files_in(store) == []


def test_a_server_that_never_answers_times_out(
    silent_server: tuple[str, list[socket.socket]], store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, accepted = silent_server
    monkeypatch.setattr(weights, "DOWNLOAD_TIMEOUT_S", 0.5)
    before = socket.getdefaulttimeout()
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable, match="timed out"):
        weights.fetch_checkpoint(f"{base}/x-12345678.pth", TITLE)
    elapsed = time.monotonic() - start
    assert 0.45 <= elapsed < 5, elapsed
    assert len(accepted) == 1  # it did connect: the wait was for an answer
    assert files_in(store) == []
    assert socket.getdefaulttimeout() == before


def test_a_server_that_stops_in_the_middle_times_out(
    server: Server, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = payload(200_000)
    name = sha_name(content)
    server.routes[f"/{name}"] = stalled_after_half(content, server.closing)
    monkeypatch.setattr(weights, "DOWNLOAD_TIMEOUT_S", 0.5)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable, match="timed out"):
        weights.fetch_checkpoint(server.url(name), TITLE)
    assert time.monotonic() - start < 5
    assert files_in(store) == []  # the temporary file is gone too


# --------------------------------------------------------------------------- offline


@pytest.mark.parametrize("flag", ["SEGDEMO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_raises_without_any_connection(
    flag: str, server: Server, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = payload(1000)
    name = sha_name(content)
    server.routes[f"/{name}"] = whole(content)
    monkeypatch.setenv(flag, "1")
    assert weights.offline()

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline mode must not open a connection")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(WeightsUnavailable) as caught:
        weights.fetch_checkpoint(server.url(name), TITLE)
    assert weights.OFFLINE_REASON in str(caught.value)
    assert server.requests == []
    assert files_in(store) == []


@pytest.mark.parametrize(("value", "expected"), [("", False), ("0", False), ("1", True)])
def test_the_offline_flag_values(value: str, expected: bool, monkeypatch) -> None:
    monkeypatch.setenv("SEGDEMO_OFFLINE", value)
    assert weights.offline() is expected
