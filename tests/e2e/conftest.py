"""End-to-end: the real `opex-crm serve` process on a free port, driven by Debian's Chromium."""

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
from typing import Any

import pytest

from tests.conftest import truncate_all

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as log:
        return log.read()[-3000:]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium; Playwright never downloads a browser here."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the test command does it as root)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "fr-FR", "timezone_id": "Europe/Paris"}


@contextlib.contextmanager
def serve(port: int | None = None, **extra_env: str) -> Iterator[str]:
    """`opex-crm serve` as an operator runs it, on the test database, on a free port (or on `port`)."""
    port = port or _free_port()
    data_dir = tempfile.mkdtemp(prefix="opex-e2e-")
    # Without pytest's variables: NiceGUI would otherwise behave as if under its own screen tests.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env = {**inherited, "PORT": str(port), "HOST": "127.0.0.1", "DATA_DIR": data_dir,
           "NICEGUI_STORAGE_PATH": os.path.join(data_dir, "nicegui"), "SCHEDULER_ENABLED": "true", **extra_env}
    log_path = os.path.join(data_dir, "server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "crm_app.cli", "serve"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=1) as response:  # noqa: S310 - local http
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited: {_tail(log_path)}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the server did not answer: {_tail(log_path)}")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture(scope="session")
def second_server_url(server_url: str) -> Iterator[str]:
    """A second instance on the same database (the scheduler runs in the first one only)."""
    with serve(SCHEDULER_ENABLED="false") as url:
        yield url


@pytest.fixture
def clean_after() -> Iterator[None]:
    yield
    truncate_all()
