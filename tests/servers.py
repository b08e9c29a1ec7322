"""Real `opex-crm serve` processes for tests (end-to-end journeys, graceful stop, several instances)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as log:
        return log.read()[-3000:]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: str
    data_dir: str

    def log(self) -> str:
        return tail(self.log_path)


def _start(port: int | None, data_dir: str, extra_env: dict[str, str]) -> Server:
    port = port or free_port()
    # Without pytest's variables: NiceGUI would otherwise behave as if under its own screen tests.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env = {
        **inherited,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": data_dir,
        "NICEGUI_STORAGE_PATH": os.path.join(data_dir, f"nicegui-{port}"),
        "SCHEDULER_ENABLED": "true",
        **extra_env,
    }
    log_path = os.path.join(data_dir, f"server-{port}.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "crm_app.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, data_dir=data_dir)


def _wait_until_healthy(server: Server) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{server.url}/api/health", timeout=1) as response:  # noqa: S310 - local
                if response.status == 200:
                    return
        except OSError:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited: {server.log()}") from None
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer: {server.log()}")


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()


@contextlib.contextmanager
def running_servers(count: int, *, data_dir: str | None = None, **extra_env: str) -> Iterator[list[Server]]:
    """`count` instances of `opex-crm serve` on the test database, started together, sharing one
    DATA_DIR (as the instances of systemd/opex-crm@.service do), stopped with SIGTERM at the end
    (unless the test stopped them)."""
    own_data_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="opex-e2e-")
    servers: list[Server] = []
    try:
        servers = [_start(None, data_dir, extra_env) for _ in range(count)]
        for server in servers:
            _wait_until_healthy(server)
        yield servers
    finally:
        for server in servers:
            _stop(server)
        if own_data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def running_server(port: int | None = None, *, data_dir: str | None = None, **extra_env: str) -> Iterator[Server]:
    """`opex-crm serve` as an operator runs it, on the test database, on a free port (or on `port`),
    stopped with SIGTERM at the end (unless the test stopped it)."""
    own_data_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="opex-e2e-")
    server = _start(port, data_dir, extra_env)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        _stop(server)
        if own_data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def serve(port: int | None = None, **extra_env: str) -> Iterator[str]:
    """`running_server`, yielding its base URL."""
    with running_server(port, **extra_env) as server:
        yield server.url
