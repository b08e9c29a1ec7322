"""Test set-up: a fresh PostgreSQL database for the run (one per xdist worker, dropped at the end),
settings for tests, a rolled-back session per unit test, and clean tables after tests that commit
through the app."""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nicegui.testing import User
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from tests.postgres import PostgresServer, find_server

_DATA_DIR = Path(tempfile.mkdtemp(prefix="opex-test-data-"))

# Settings for the whole run, before any application module reads them.
os.environ.update(
    {
        "APP_ENV": "development",
        "DATA_DIR": str(_DATA_DIR),
        "JWT_SECRET": "test-jwt-secret-" + "x" * 32,
        "JWT_REFRESH_SECRET": "test-refresh-secret-" + "y" * 32,
        "STORAGE_SECRET": "test-storage-secret-" + "z" * 32,
        "BCRYPT_ROUNDS": "4",  # speed; the cost-12 default has its own test
        "SCHEDULER_ENABLED": "false",
        "API_RATE_LIMIT_PER_MINUTE": "0",  # off, but in the tests of the limit (tests/api/test_api_tokens.py)
        "TIMEZONE": "Europe/Paris",
    }
)
for _name in ("DB_HOST", "SMTP_HOST"):
    os.environ.pop(_name, None)

_server: PostgresServer | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _server
    _server = find_server()
    url = _server.create_database()
    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ["OPEX_TEST_SERVER_URL"] = _server.admin_url.render_as_string(hide_password=False)
    from crm_app import bootstrap
    from crm_app.operations import migrate
    from crm_app.platform.config import reset_settings

    reset_settings()
    bootstrap.wire()  # as the application and the CLI do before anything else
    migrate.upgrade()
    seed_seller()


#: The company's identity every test starts with: an invoice is issued only as a valid Factur-X
#: e-invoice, which needs the seller's SIRET, VAT number, address and IBAN (tests that want them
#: missing change them in their own transaction).
TEST_SELLER: dict[str, Any] = {
    "legal_name": "OPEx Médical SAS",
    "address": "12 rue de la Santé\n75013 Paris",
    "siret": "73282932000074",
    "vat_number": "FR44732829320",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}


def seed_seller() -> None:
    from sqlalchemy import delete

    from crm_app.platform import settings
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.audit import SecurityEvent
    from crm_app.platform.permissions import SYSTEM_ACTOR

    with unit_of_work() as session:
        settings.update_section(session, SYSTEM_ACTOR, "branding", dict(TEST_SELLER))
        # set-up, not an admin's change: the security log starts empty as the tests expect
        session.execute(delete(SecurityEvent))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from sqlalchemy.engine import make_url

    from crm_app.platform.db import dispose_engines

    dispose_engines()
    if _server is not None and os.environ.get("DATABASE_URL"):
        _server.drop_database(make_url(os.environ["DATABASE_URL"]))
        _server.stop()


#: should_see's attempts, 0.1 s apart. NiceGUI's default (3) leaves 0.3 s for a screen that loads its
#: data off the event loop: too little on a busy CI machine, where such a test fails at random.
SHOULD_SEE_RETRIES = 50


@pytest.fixture
def user(user: User) -> User:  # every folder's screens: tests/ui, tests/api's page rights
    """NiceGUI's simulated user, more patient in `should_see` (a test still fails when the element never
    comes, after 5 s instead of 0.3 s)."""
    impatient = user.should_see

    async def should_see(*args: Any, retries: int = SHOULD_SEE_RETRIES, **kwargs: Any) -> None:
        await impatient(*args, retries=retries, **kwargs)

    user.should_see = should_see  # type: ignore[method-assign]
    return user


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    assert _server is not None
    return _server


@pytest.fixture
def db() -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (services commit nothing)."""
    from crm_app.platform.db import get_engine

    connection = get_engine().connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def truncate_all() -> None:
    """Empty every table (for tests whose requests commit through the running app)."""
    import crm_app.tables  # noqa: F401 - the metadata knows every table
    from crm_app.analytics import rollup
    from crm_app.platform import cache, rate_limit
    from crm_app.platform.db import get_engine

    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    for attempt in range(5):
        try:
            with get_engine().begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} CASCADE"))
            break
        except OperationalError as error:
            # A screen of the test that just ended may still be reading in a worker thread: the
            # TRUNCATE's exclusive locks can then deadlock with it. PostgreSQL cancels one side; retry.
            if "deadlock" not in str(error) or attempt == 4:
                raise
            time.sleep(0.2)
    cache.forget_all()
    rate_limit.forget_leases()  # the counters they were reserved from are gone
    seed_seller()
    # A test may have changed the organisation's time zone, which the dashboard's per-day totals follow:
    # build them again in the zone the next test starts with (empty tables: a few milliseconds).
    rollup.ensure_now()


@pytest.fixture
def clean_db() -> Iterator[None]:
    yield
    truncate_all()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[..., datetime]:
    """Move the application's clock: `clock(minutes=16)` jumps ahead and returns the new now."""
    from crm_app.platform.models import base

    now = [base._system_clock()]
    monkeypatch.setattr(base, "clock", lambda: now[0])

    def advance(**delta: Any) -> datetime:
        now[0] = now[0] + timedelta(**delta)
        return now[0]

    return advance


@pytest.fixture
def settings_override(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Change settings through the environment for one test; the originals come back after it."""
    from crm_app.platform.config import reset_settings
    from crm_app.platform.db import dispose_engines

    def override(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value)
        reset_settings()
        dispose_engines()

    yield override
    monkeypatch.undo()
    reset_settings()
    dispose_engines()


#: How many tests run between two full collections of what the tests left behind (see below).
FULL_COLLECTION_EVERY = 50
_tests_run = 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """What exists when a test starts is moved out of the cyclic collector's sight (`gc.freeze`), as
    `crm_app.serving.gc_tuning` does in the server.

    NiceGUI's `user` fixture runs a full `gc.collect()` before and after every test, and a full
    collection walks every object the process holds: 430,000 after collection, 250 to 300 ms a
    collection on a slow machine, and more as the tests leave things behind. That was more than half
    of the suite's time. Frozen, those objects are not walked: each collection walks what the test made.

    A frozen object that later becomes garbage in a cycle (the screens of the test that just ran,
    dropped at the next test's reset) waits for the next full collection: every FULL_COLLECTION_EVERY
    tests, everything is unfrozen and collected once."""
    global _tests_run
    _tests_run += 1
    if _tests_run % FULL_COLLECTION_EVERY == 0:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker: the marks below count
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser journeys last: Playwright's sync API keeps an event loop of its own running until the
    end of the session, and asyncio tests cannot start theirs after it. Every test of tests/e2e is
    one, marked or not (a journey run in the middle broke every asyncio test after it)."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if item.path.is_relative_to(e2e) and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
