"""End-to-end: the real `opex-crm serve` process on a free port, driven by Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.conftest import truncate_all
from tests.factories import PASSWORD
from tests.servers import free_port, serve

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


_free_port = free_port  # the journeys' name for it


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """On the login page (in French): the email and the password (the tests' own), then "Se connecter"."""
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium; Playwright never downloads a browser here."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the test command does it as root)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "fr-FR", "timezone_id": "Europe/Paris"}


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
