"""A sync REST route runs and commits in one trip to the thread pool, its actor looked up before on the
event loop (crm_app/platform/api/routes.py, crm_app/platform/lookups.py), with the behaviour of the
trips it replaces."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio.to_thread
import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event
from sqlmodel import Session, select

from crm_app import bootstrap
from crm_app.accounts import auth, tokens
from crm_app.platform import lookups
from crm_app.platform.api.deps import ActorDep, SessionDep
from crm_app.platform.api.errors import install_error_handlers
from crm_app.platform.api.routes import UnitOfWorkRoute, area_router
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.models.people import Role, Team
from crm_app.platform.security_log import ClientInfo
from tests.conftest import truncate_all
from tests.factories import PASSWORD, make_user

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")


def test_every_route_of_the_api_is_a_unit_of_work_route() -> None:
    app = FastAPI()
    app.include_router(bootstrap.api_router())
    routes = [c.original_route for c in iter_route_contexts(app.router.routes)]
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) > 150
    strays = [r.path for r in api_routes if not isinstance(r, UnitOfWorkRoute)]
    assert strays == []
    # Every route is awaited on the event loop: sync ones through their one-trip stand-in.
    assert all(inspect.iscoroutinefunction(r.endpoint) for r in api_routes)


async def session_of_a_dependency(session: SessionDep) -> Session:
    return session


class _Probe:
    """What the probe route saw: the threads it ran in and the commits, by thread."""

    def __init__(self) -> None:
        self.route_threads: list[int] = []
        self.commit_threads: list[int] = []
        self.loop_thread = 0


@pytest.fixture
def probe() -> Iterator[_Probe]:
    seen = _Probe()

    def committed(_session: Session) -> None:
        seen.commit_threads.append(threading.get_ident())

    event.listen(Session, "after_commit", committed)
    try:
        yield seen
    finally:
        event.remove(Session, "after_commit", committed)
        truncate_all()


@pytest.fixture
async def client(probe: _Probe) -> AsyncIterator[httpx.AsyncClient]:
    """A FastAPI application with one area router on the test database: POST /teams/{name} creates a
    team, then fails when the name is "fail"."""
    bootstrap.wire()
    router = area_router()

    @router.post("/teams/{name}")
    def create_team(name: str, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
        probe.route_threads.append(threading.get_ident())
        session.add(Team(name=name))
        session.flush()
        if name == "fail":
            raise ValidationFailed({"name": "refused after the write"})
        return {"by": actor.email}

    @router.get("/shared")
    def shared(
        actor: ActorDep, session: SessionDep, other: Annotated[Session, Depends(session_of_a_dependency)]
    ) -> dict[str, Any]:
        probe.route_threads.append(threading.get_ident())
        session.add(Team(name=f"by {actor.email}"))
        return {"same": session is other}

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    probe.loop_thread = threading.get_ident()
    lookups.serve_this_loop()  # as the application's startup does
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield http
    finally:
        await lookups.close_this_loop()


def _teams() -> list[str]:
    with unit_of_work() as session:
        return list(session.exec(select(Team.name)).all())


def _token() -> tuple[str, Any]:
    with unit_of_work() as session:
        user = make_user(session, role=Role.ADMIN, email="admin@example.org", name="Ada Admin")
    with unit_of_work() as session:
        pair = tokens.login(session, user.email, PASSWORD, client=CLIENT)
    assert isinstance(pair, tokens.TokenPair)
    return pair.access_token, user


async def test_the_route_and_its_commit_take_one_trip_to_the_thread_pool(
    client: httpx.AsyncClient, probe: _Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _user = _token()
    probe.commit_threads.clear()
    trips: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **options: Any) -> Any:
        target = getattr(func, "func", func)  # Starlette passes a functools.partial
        trips.append(getattr(target, "__name__", type(target).__name__))
        return await run_sync(func, *args, **options)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)

    response = await client.post("/teams/Bretagne", headers={"Authorization": f"Bearer {token}"})
    monkeypatch.undo()

    # The actor awaited on the loop, then one trip; FastAPI's own way: the actor, the route, its answer,
    # the commit.
    assert trips == ["_Trip"]

    assert response.status_code == 200 and response.json() == {"by": "admin@example.org"}
    assert _teams() == ["Bretagne"]  # committed when the answer arrived
    [route_thread] = probe.route_threads
    assert route_thread != probe.loop_thread
    assert probe.commit_threads[0] == route_thread  # the request's commit, in the route's own thread


async def test_a_route_that_fails_after_writing_leaves_nothing(client: httpx.AsyncClient, probe: _Probe) -> None:
    token, _user = _token()

    response = await client.post("/teams/fail", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 422 and response.json()["error"]["fields"] == {"name": "refused after the write"}
    assert probe.route_threads  # it ran, wrote, and was rolled back
    assert _teams() == []


@pytest.mark.parametrize("authorization", [None, "Basic YTpi", "Bearer not-a-token"])
async def test_no_valid_token_is_refused_before_the_route_runs(
    client: httpx.AsyncClient, probe: _Probe, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.post("/teams/Alsace", headers=headers)

    assert response.status_code == 401
    assert probe.route_threads == []
    assert _teams() == []


async def test_a_session_ended_elsewhere_is_refused_at_its_next_request(
    client: httpx.AsyncClient, probe: _Probe
) -> None:
    token, _user = _token()
    assert (await client.post("/teams/Corse", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    with unit_of_work() as session:  # a logout, from another process as much as from this one
        auth.logout(session, tokens.authenticate_access_token(token))

    response = await client.post("/teams/Savoie", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert len(probe.route_threads) == 1
    assert _teams() == ["Corse"]


async def test_concurrent_requests_each_commit_their_own_unit(client: httpx.AsyncClient, probe: _Probe) -> None:
    token, _user = _token()
    headers = {"Authorization": f"Bearer {token}"}

    answers = await asyncio.gather(*(client.post(f"/teams/Team {n}", headers=headers) for n in range(12)))

    assert [a.status_code for a in answers] == [200] * 12
    assert sorted(_teams()) == sorted(f"Team {n}" for n in range(12))


async def test_a_route_shares_its_unit_of_work_with_a_dependency_asking_for_a_session(
    client: httpx.AsyncClient, probe: _Probe
) -> None:
    token, _user = _token()
    probe.commit_threads.clear()

    response = await client.get("/shared", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200 and response.json() == {"same": True}
    assert probe.commit_threads == probe.route_threads  # one commit, in the route's trip
    assert _teams() == ["by admin@example.org"]
