"""A request's actor is looked up before its unit of work, in autocommit: one round trip per statement,
what it finds as immediate as before. A REST request awaits it on the event loop (`lookups`), a page in a
thread (`db.autocommit_connection`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from anyio import to_thread
from nicegui.testing import User
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from crm_app.accounts import auth, teams, tokens
from crm_app.accounts.models import AuthSession
from crm_app.integrations import api_tokens
from crm_app.operations import migrate
from crm_app.platform import db, lookups
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.platform.security_log import ClientInfo
from tests.conftest import truncate_all
from tests.factories import PASSWORD, actor_of, make_team, make_user

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")


@pytest.fixture
def statements() -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent, with whether its connection was in autocommit."""
    seen: list[tuple[str, bool]] = []

    def sent(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement, bool(conn.connection.dbapi_connection.autocommit)))

    event.listen(Engine, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", sent)
        truncate_all()


def _login() -> tuple[str, uuid.UUID]:
    with unit_of_work() as session:
        user = make_user(session, role=Role.MANAGER, email="mina@example.org", name="Mina Manager")
    with unit_of_work() as session:
        pair = tokens.login(session, user.email, PASSWORD, client=CLIENT)
    assert isinstance(pair, tokens.TokenPair)
    return pair.access_token, user.id


def test_an_access_token_costs_one_statement_in_autocommit(statements: list[tuple[str, bool]]) -> None:
    token, user_id = _login()
    statements.clear()

    actor = tokens.authenticate_access_token(token)

    assert actor.id == user_id and actor.email == "mina@example.org"
    [(statement, autocommit)] = statements  # no BEGIN, no COMMIT: one round trip
    assert "auth_sessions" in statement and autocommit


def test_the_last_use_is_noted_at_once_even_if_the_request_then_fails(statements: list[tuple[str, bool]]) -> None:
    token, _user_id = _login()
    long_ago = utcnow() - timedelta(minutes=5)
    with unit_of_work() as session:
        for auth_session in session.exec(select(AuthSession)):
            auth_session.last_seen_at = long_ago
    statements.clear()

    with pytest.raises(RuntimeError), unit_of_work():  # the request's own unit, rolled back
        tokens.authenticate_access_token(token)
        raise RuntimeError("the route failed")

    assert [autocommit for _statement, autocommit in statements] == [True, True]  # the read, the note
    with unit_of_work() as session:
        [auth_session] = session.exec(select(AuthSession)).all()
        assert auth_session.last_seen_at > long_ago + timedelta(minutes=4)


def test_a_kept_access_token_check_still_refuses_it_once_expired(
    statements: list[tuple[str, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _user_id = _login()
    tokens.authenticate_access_token(token)  # checked, and the check kept
    expires = tokens._signed_access_session(token, tokens.get_settings().jwt_secret)[1]

    monkeypatch.setattr(tokens.time, "time", lambda: expires - 1)
    assert tokens.authenticate_access_token(token).email == "mina@example.org"
    monkeypatch.setattr(tokens.time, "time", lambda: expires)
    with pytest.raises(NotAuthenticated):
        tokens.authenticate_access_token(token)


def test_a_logout_ends_a_kept_access_token_at_its_next_use(statements: list[tuple[str, bool]]) -> None:
    token, _user_id = _login()
    actor = tokens.authenticate_access_token(token)

    with unit_of_work() as session:
        auth.logout(session, actor)

    with pytest.raises(NotAuthenticated):
        tokens.authenticate_access_token(token)


def test_a_forged_token_is_refused_and_not_kept(statements: list[tuple[str, bool]]) -> None:
    token, _user_id = _login()
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    kept = tokens._signed_access_session.cache_info().currsize
    statements.clear()

    with pytest.raises(NotAuthenticated):
        tokens.authenticate_access_token(forged)

    assert tokens._signed_access_session.cache_info().currsize == kept
    assert statements == []  # refused on its signature, before any read


@pytest.fixture
def sqlite_database(tmp_path: Path, settings_override: Callable[..., None]) -> Iterator[None]:
    settings_override(database_url=f"sqlite:///{tmp_path / 'lookup.sqlite3'}")
    migrate.upgrade()
    yield


def test_on_sqlite_a_refused_api_token_is_logged_without_waiting_for_the_lock(sqlite_database: None) -> None:
    with unit_of_work() as session:
        admin = actor_of(make_user(session, role=Role.ADMIN, email="ada@example.org", name="Ada Admin"))
        new = api_tokens.create_token(session, admin, name="ERP", scopes=["institutions:read"])
    assert api_tokens.authenticate(new.token).email == "ada@example.org"
    with unit_of_work() as session:
        api_tokens.revoke_token(session, admin, new.row.id)

    started = time.monotonic()
    with pytest.raises(NotAuthenticated) as refused:
        api_tokens.authenticate(new.token, CLIENT)

    assert time.monotonic() - started < 5  # the log's unit did not wait for the look-up's write lock
    assert refused.value.code == "token_revoked"
    with unit_of_work() as session:
        [logged] = session.exec(select(SecurityEvent).where(SecurityEvent.action == "api_token.refused")).all()
        assert logged.details["reason"] == "revoked"


def _team_member_bearer() -> tuple[dict[str, str], uuid.UUID]:
    with unit_of_work() as session:
        team = make_team(session, "Île-de-France")
        user = make_user(session, team=team, email="rita@example.org", name="Rita Rep")
        team_id = team.id
    with unit_of_work() as session:
        pair = tokens.login(session, user.email, PASSWORD, client=CLIENT)
    assert isinstance(pair, tokens.TokenPair)
    return {"Authorization": f"Bearer {pair.access_token}"}, team_id


def _look_up_connections() -> list[Any]:
    """The connections the running loop keeps for its look-ups (idle between requests)."""
    pool = lookups.here()
    assert pool is not None
    return list(pool.idle)


async def test_me_is_answered_on_the_event_loop_and_sees_a_rename_at_once(
    api: httpx.AsyncClient, statements: list[tuple[str, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer, team_id = _team_member_bearer()
    trips: list[object] = []
    real_run_sync = to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        trips.append(function)
        return await real_run_sync(function, *args, **kwargs)

    monkeypatch.setattr(to_thread, "run_sync", counted)
    statements.clear()

    answer = await api.get("/api/auth/me", headers=bearer)

    assert answer.status_code == 200 and answer.json()["team_name"] == "Île-de-France"
    assert statements == []  # nothing through SQLAlchemy: the session and the team were awaited on the loop
    assert trips == []  # and no worker thread was woken
    [connection] = _look_up_connections()  # one round trip at a time: one connection, kept, in autocommit
    assert connection.autocommit and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    with unit_of_work() as session:
        teams.rename_team(session, SYSTEM_ACTOR, team_id, "Paris et petite couronne")
    assert (await api.get("/api/auth/me", headers=bearer)).json()["team_name"] == "Paris et petite couronne"


async def test_a_logout_is_refused_at_the_next_request_on_the_loop(
    api: httpx.AsyncClient, statements: list[tuple[str, bool]]
) -> None:
    bearer, _team_id = _team_member_bearer()
    assert (await api.get("/api/auth/me", headers=bearer)).status_code == 200

    with unit_of_work() as session:  # as another process would: straight in the database
        for auth_session in session.exec(select(AuthSession)):
            auth_session.revoked_at = utcnow()

    refused = await api.get("/api/auth/me", headers=bearer)
    assert refused.status_code == 401


async def test_a_look_up_connection_closed_by_the_server_is_replaced_without_an_error(
    api: httpx.AsyncClient, statements: list[tuple[str, bool]]
) -> None:
    bearer, _team_id = _team_member_bearer()
    assert (await api.get("/api/auth/me", headers=bearer)).status_code == 200
    [connection] = _look_up_connections()
    with unit_of_work() as session:  # as a restart of PostgreSQL would
        session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": connection.info.backend_pid})

    answer = await api.get("/api/auth/me", headers=bearer)

    assert answer.status_code == 200 and answer.json()["team_name"] == "Île-de-France"
    [replacement] = _look_up_connections()
    assert connection.closed and not replacement.closed


async def test_concurrent_look_ups_share_the_connections_kept(
    api: httpx.AsyncClient, statements: list[tuple[str, bool]]
) -> None:
    bearer, _team_id = _team_member_bearer()

    async def wave() -> set[int]:
        answers = await asyncio.gather(*(api.get("/api/auth/me", headers=bearer) for _ in range(16)))
        assert {answer.status_code for answer in answers} == {200}
        return {connection.info.backend_pid for connection in _look_up_connections()}

    first = await wave()
    assert 1 <= len(first) <= lookups.POOL_SIZE
    assert await wave() <= first  # the second wave opened no connection


async def test_on_sqlite_the_look_up_runs_in_the_thread_pool(sqlite_database: None, user: User) -> None:
    assert lookups.here() is None
    bearer, _team_id = _team_member_bearer()
    answer = await user.http_client.get("/api/auth/me", headers=bearer)
    assert answer.status_code == 200 and answer.json()["team_name"] == "Île-de-France"


def test_the_look_up_pool_keeps_every_connection_it_opened(statements: list[tuple[str, bool]]) -> None:
    """16 requests looking their actor up at once, then 16 more: the second wave opens no connection.
    An overflow connection is closed when returned to a pool holding its `pool_size`; with 8 kept, one
    request in ten opened a PostgreSQL connection under 16 concurrent clients (bench/README.md)."""
    opened: list[object] = []

    def connected(*_args: object) -> None:
        opened.append(_args)

    def wave() -> None:
        with ExitStack() as stack:
            for _ in range(16):
                stack.enter_context(db.autocommit_connection()).execute(text("SELECT 1"))

    wave()  # opens the companion pool's connections
    companion = db._autocommit_engines[db.get_engine()]
    event.listen(companion, "connect", connected)
    try:
        wave()
    finally:
        event.remove(companion, "connect", connected)
    assert opened == []
