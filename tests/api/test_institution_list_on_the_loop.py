"""`GET /api/institutions` reads its page on the event loop when it can (`awaited_list_institutions`):
the same answer as the service in a unit of work, without a worker thread once the total is in memory,
and in a worker thread otherwise (a total to count, a page past the first anchor)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from anyio import to_thread
from sqlalchemy import text

from crm_app.institutions import service as institutions
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_institution


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every function sent to a worker thread from now on."""
    sent: list[str] = []
    real_run_sync = to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(function, "__name__", repr(function)))
        return await real_run_sync(function, *args, **kwargs)

    monkeypatch.setattr(to_thread, "run_sync", counted)
    yield sent


@pytest.fixture
def bearer() -> dict[str, str]:
    """Thirty institutions of varied types, tags, teams and assignees; a sales rep's login."""
    with unit_of_work() as session:
        team = make_team(session, "Grand Ouest")
        rep = make_user(session, role=Role.USER, team=team, email="rita@example.org", name="Rita Rep")
        make_user(session, role=Role.USER, team=team, email="remi@example.org", name="Rémi Rep")
        kinds = ("hospital", "pharmacy", "private_clinic")
        for index in range(30):
            make_institution(
                session,
                name=f"{'Hôpital' if index % 3 == 0 else 'Clinique'} Saint-{index:02d}",
                type=kinds[index % 3],
                city=("Nantes", "Rennes", "Brest")[index % 3],
                postal_code=("44000", "35000", "29200")[index % 3],
                tags=["vip", "suivi"][: index % 3],
                assigned_to=rep if index % 2 else None,
            )
    return {"Authorization": f"Bearer {_token('rita@example.org')}"}


def _token(email: str) -> str:
    from crm_app.accounts import tokens
    from crm_app.platform.security_log import ClientInfo

    with unit_of_work() as session:
        pair = tokens.login(session, email, PASSWORD, client=ClientInfo())
    assert isinstance(pair, tokens.TokenPair)
    return pair.access_token


QUERIES = [
    "",  # the first page
    "?page=2&page_size=10",
    "?type=hospital&type=pharmacy",  # a list of values: one parameter each
    "?tag=vip",  # one tag alone: the name-ordered label table
    "?q=saint-0",  # a search alone: the name-ordered search table
    "?sort=-city&city=Nantes",
    "?unassigned=1&sort=postal_code",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_a_page_with_its_total_in_memory_is_read_on_the_loop_and_answers_the_same(
    api: httpx.AsyncClient, bearer: dict[str, str], trips: list[str], query: str
) -> None:
    counted = await api.get(f"/api/institutions{query}", headers=bearer)  # the total counted, in a thread
    assert counted.status_code == 200, counted.text
    assert trips == ["_list_in_own_unit"]
    assert counted.json()["items"], "the query must find something to compare"
    trips.clear()

    on_the_loop = await api.get(f"/api/institutions{query}", headers=bearer)

    assert on_the_loop.status_code == 200
    assert trips == []  # no worker thread: the page awaited on the loop, the total from memory
    assert on_the_loop.json() == counted.json()


async def test_a_change_made_by_another_process_shows_at_the_next_read_on_the_loop(
    api: httpx.AsyncClient, bearer: dict[str, str], trips: list[str]
) -> None:
    """Another process's commit does not clear this process's caches: the page read on the loop, in
    autocommit, still shows it at once (the total, counted for every reader, within seconds)."""
    await api.get("/api/institutions", headers=bearer)
    first = (await api.get("/api/institutions", headers=bearer)).json()["items"][0]
    with get_engine().begin() as connection:  # not through this process's services: its caches stay
        connection.execute(
            text("UPDATE institutions SET name = 'Clinique renommée' WHERE id = :id"), {"id": first["id"]}
        )
    trips.clear()

    after = (await api.get("/api/institutions", headers=bearer)).json()["items"][0]

    assert trips == []
    assert after["id"] == first["id"] and after["name"] == "Clinique renommée"


async def test_a_page_past_the_first_anchor_is_read_in_a_thread(
    api: httpx.AsyncClient, bearer: dict[str, str], trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 3)
    await api.get("/api/institutions?page=4&page_size=5", headers=bearer)
    trips.clear()

    deep = await api.get("/api/institutions?page=4&page_size=5", headers=bearer)

    assert trips == ["_list_in_own_unit"]
    with unit_of_work() as session:
        everything = institutions.list_institutions(session, SYSTEM_ACTOR, InstitutionQuery(), PageRequest(1, 100))
    assert [item["name"] for item in deep.json()["items"]] == [row.name for row in everything.items[15:20]]
