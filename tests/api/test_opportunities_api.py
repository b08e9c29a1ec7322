"""/api/opportunities and /api/opportunity-lost-reasons against the whole app (requests commit; tables
emptied after each test): creation and editing with amounts as decimal strings, stage moves (lost needs
a reason), stale versions, the list's filters and sums, the board's columns, history, export, rights,
the lost reasons' list, quotes and activities linked to an opportunity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_contact, make_institution

UNKNOWN = uuid.UUID(int=1)


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    name: str


@dataclass(frozen=True)
class Org:
    rep_a: Person
    rep_a2: Person
    manager_a: Person
    rep_b: Person
    admin: Person


@pytest.fixture
def org() -> Org:
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Aquitaine"), make_team(session, "Bretagne")
        people = [
            make_user(session, role=role, team=team, email=email, name=name)
            for role, team, email, name in (
                (Role.USER, team_a, "anne@example.org", "Anne Aquitaine"),
                (Role.USER, team_a, "alain@example.org", "Alain Aquitaine"),
                (Role.MANAGER, team_a, "marc@example.org", "Marc Manager"),
                (Role.USER, team_b, "bruno@example.org", "Bruno Bretagne"),
                (Role.ADMIN, None, "ada@example.org", "Ada Admin"),
            )
        ]
        return Org(*(Person(p.id, p.email, p.full_name) for p in people))


@pytest.fixture
def institution() -> tuple[str, str]:
    with unit_of_work() as session:
        chu = make_institution(session, name="CHU de Rennes")
        contact = make_contact(session, chu, first_name="Jeanne", last_name="Dupont")
        return str(chu.id), str(contact.id)


async def _auth(api: httpx.AsyncClient, person: Person) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


async def _create(api: httpx.AsyncClient, headers: dict[str, str], institution_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/opportunities", headers=headers, json={"name": "Scanner", "institution_id": institution_id, **body}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/opportunities"),
        ("GET", "/api/opportunities/board"),
        ("POST", "/api/opportunities"),
        ("GET", f"/api/opportunities/{UNKNOWN}"),
        ("PATCH", f"/api/opportunities/{UNKNOWN}"),
        ("POST", f"/api/opportunities/{UNKNOWN}/stage"),
        ("DELETE", f"/api/opportunities/{UNKNOWN}"),
        ("GET", "/api/opportunity-lost-reasons"),
    ],
)
async def test_every_opportunity_endpoint_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={})
    assert response.status_code == 401


async def test_opportunity_lifecycle(api: httpx.AsyncClient, org: Org, institution: tuple[str, str]) -> None:
    institution_id, contact_id = institution
    rep, manager = await _auth(api, org.rep_a), await _auth(api, org.manager_a)
    created = await _create(
        api, rep, institution_id, contact_id=contact_id, amount="12 345,67", expected_close_date="2026-06-30"
    )
    assert (created["stage"], created["probability"], created["probability_is_manual"], created["version"]) == (
        "prospecting",
        10,
        False,
        1,
    )
    assert (created["amount"], created["weighted_amount"]) == ("12345.67", "1234.57")  # decimal strings
    assert (created["institution_name"], created["contact_name"], created["owner_name"]) == (
        "CHU de Rennes",
        "Jeanne Dupont",
        "Anne Aquitaine",
    )
    assert created["team_name"] == "Aquitaine" and len(created["stage_history"]) == 1
    oid = created["id"]
    patched = await api.patch(f"/api/opportunities/{oid}", headers=rep, json={"version": 1, "probability": 40})
    assert patched.status_code == 200 and (patched.json()["probability"], patched.json()["version"]) == (40, 2)
    stale = await api.patch(f"/api/opportunities/{oid}", headers=manager, json={"version": 1, "name": "x"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "conflict" and stale.json()["error"]["changed_by"] == "Anne Aquitaine"
    no_reason = await api.post(f"/api/opportunities/{oid}/stage", headers=rep, json={"stage": "lost"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["fields"] == {"lost_reason_id": "Give the reason this sale was lost."}
    reasons = (await api.get("/api/opportunity-lost-reasons", headers=rep)).json()
    assert [r["label"] for r in reasons][:2] == ["Price too high", "Competitor chosen"]
    french = (await api.get("/api/opportunity-lost-reasons", headers={**rep, "Accept-Language": "fr"})).json()
    assert french[0]["label"] == "Prix trop élevé"
    lost = await api.post(
        f"/api/opportunities/{oid}/stage",
        headers=rep,
        json={"stage": "lost", "lost_reason_id": reasons[1]["id"], "lost_reason_text": "Moins cher", "version": 2},
    )
    assert lost.status_code == 200, lost.text
    body = lost.json()
    assert (body["stage"], body["probability"], body["lost_reason"], body["lost_reason_text"]) == (
        "lost",
        0,
        "Competitor chosen",
        "Moins cher",
    )
    assert body["closed_at"] and body["weighted_amount"] == "0.00"
    assert [(row["from_stage"], row["to_stage"]) for row in body["stage_history"]] == [
        (None, "prospecting"),
        ("prospecting", "lost"),
    ]
    assert body["stage_history"][0]["duration_seconds"] >= 0 and body["stage_history"][1]["duration_seconds"] is None
    history = (await api.get(f"/api/opportunities/{oid}/history", headers=rep)).json()
    assert history["total"] >= 5 and {"create", "update", "stage"} <= {e["action"] for e in history["items"]}
    forbidden = await api.get(f"/api/opportunities/{oid}", headers=await _auth(api, org.rep_b))
    assert forbidden.status_code == 403
    missing = await api.get(f"/api/opportunities/{UNKNOWN}", headers=rep)
    assert missing.status_code == 404
    deleted = await api.delete(f"/api/opportunities/{oid}", headers=manager)
    assert deleted.status_code == 204
    assert (await api.get(f"/api/opportunities/{oid}", headers=rep)).status_code == 404


async def test_creation_errors_name_their_field(api: httpx.AsyncClient, org: Org, institution: tuple[str, str]) -> None:
    institution_id, _contact = institution
    rep = await _auth(api, org.rep_a)
    missing = await api.post("/api/opportunities", headers=rep, json={"name": "X"})
    assert missing.status_code == 422
    negative = await api.post(
        "/api/opportunities", headers=rep, json={"name": "X", "institution_id": institution_id, "amount": "-1"}
    )
    assert negative.status_code == 422 and "amount" in negative.json()["error"]["fields"]
    with unit_of_work() as session:
        stranger = make_contact(session, make_institution(session), last_name="Ailleurs")
    wrong = await api.post(
        "/api/opportunities",
        headers=rep,
        json={"name": "X", "institution_id": institution_id, "contact_id": str(stranger.id)},
    )
    assert wrong.json()["error"]["fields"] == {"contact_id": "This contact belongs to another institution."}


async def test_list_and_board_filter_and_sum_in_sql(
    api: httpx.AsyncClient, org: Org, institution: tuple[str, str]
) -> None:
    institution_id, _contact = institution
    rep, admin = await _auth(api, org.rep_a), await _auth(api, org.admin)
    await _create(api, rep, institution_id, name="IRM", amount="333.33")
    await _create(api, rep, institution_id, name="Bloc", amount="200.01", stage="qualification", probability=33)
    await _create(api, rep, institution_id, name="Lits", amount="99.99", stage="negotiation", source="tender")
    await _create(api, await _auth(api, org.rep_b), institution_id, name="Autre équipe", amount="777")
    mine = (await api.get("/api/opportunities", headers=rep, params={"sort": "-amount"})).json()
    assert [row["name"] for row in mine["items"]] == ["IRM", "Bloc", "Lits"]
    # Σ = 633.33; weighted = (3333.30 + 6600.33 + 7499.25) / 100 = 174.3288 → 174.33
    assert (mine["total"], mine["sum_amount"], mine["sum_weighted"]) == (3, "633.33", "174.33")
    assert "can_edit" not in mine["items"][0] and mine["items"][0]["amount"] == "333.33"
    filtered = (
        await api.get("/api/opportunities", headers=admin, params={"stage": "qualification,negotiation", "q": "lit"})
    ).json()
    assert [row["name"] for row in filtered["items"]] == ["Lits"]
    assert (await api.get("/api/opportunities", headers=admin, params={"source": "tender"})).json()["total"] == 1
    assert (await api.get("/api/opportunities", headers=rep, params={"owner": "me"})).json()["total"] == 3
    bad = await api.get("/api/opportunities", headers=rep, params={"owner": "nobody"})
    assert bad.status_code == 422
    board = (await api.get("/api/opportunities/board", headers=admin, params={"page_size": 1})).json()
    columns = {column["stage"]: column for column in board}
    assert list(columns) == ["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
    prospecting = columns["prospecting"]
    # (333.33 + 777) × 10 / 100 = 111.033 → 111.03
    assert (prospecting["count"], prospecting["amount"], prospecting["weighted_amount"]) == (2, "1110.33", "111.03")
    assert len(prospecting["items"]) == 1 and prospecting["has_more"]
    more = (
        await api.get("/api/opportunities/board/prospecting", headers=admin, params={"page": 2, "page_size": 1})
    ).json()
    assert more["total"] == 2 and len(more["items"]) == 1
    assert columns["negotiation"]["weighted_amount"] == "74.99"
    export = await api.get("/api/opportunities/export", headers=rep)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.content.decode("utf-8-sig").count("\r\n") == 4  # header and three rows


async def test_lost_reasons_are_edited_by_admins(api: httpx.AsyncClient, org: Org) -> None:
    admin, rep = await _auth(api, org.admin), await _auth(api, org.rep_a)
    refused = await api.post("/api/opportunity-lost-reasons", headers=rep, json={"label": "Délai"})
    assert refused.status_code == 403
    added = await api.post("/api/opportunity-lost-reasons", headers=admin, json={"label": "Délai"})
    assert added.status_code == 201 and added.json()["label"] == "Délai"
    duplicate = await api.post("/api/opportunity-lost-reasons", headers=admin, json={"label": "délai"})
    assert duplicate.status_code == 422 and duplicate.json()["error"]["fields"] == {
        "label": "This reason is already in the list."
    }
    rid = added.json()["id"]
    renamed = await api.patch(f"/api/opportunity-lost-reasons/{rid}", headers=admin, json={"label": "Délais"})
    assert renamed.status_code == 200 and renamed.json()["label"] == "Délais"
    ordered = await api.post("/api/opportunity-lost-reasons/order", headers=admin, json={"reason_ids": [rid]})
    assert ordered.status_code == 200 and ordered.json()[0]["id"] == rid
    retired = await api.patch(f"/api/opportunity-lost-reasons/{rid}", headers=admin, json={"is_active": False})
    assert retired.json()["is_active"] is False
    offered = (await api.get("/api/opportunity-lost-reasons", headers=rep)).json()
    assert rid not in [r["id"] for r in offered]
    every = (await api.get("/api/opportunity-lost-reasons", headers=rep, params={"include_retired": True})).json()
    assert every[-1]["id"] == rid
    assert (await api.delete(f"/api/opportunity-lost-reasons/{rid}", headers=admin)).status_code == 204


async def test_quotes_and_activities_are_linked_to_an_opportunity(
    api: httpx.AsyncClient, org: Org, institution: tuple[str, str]
) -> None:
    institution_id, contact_id = institution
    rep = await _auth(api, org.rep_a)
    opportunity = await _create(api, rep, institution_id, name="Colonnes", contact_id=contact_id, stage="proposal")
    oid = opportunity["id"]
    lines = [{"description": "Colonne", "quantity": "2", "unit_price": "1500.50", "vat_rate": "20"}]
    quote = await api.post(
        "/api/quotes", headers=rep, json={"institution_id": institution_id, "opportunity_id": oid, "lines": lines}
    )
    assert quote.status_code == 201, quote.text
    assert (quote.json()["institution_id"], quote.json()["title"], quote.json()["opportunity_id"]) == (
        institution_id,
        "Colonnes",
        oid,
    )
    qid = quote.json()["id"]
    assert (await api.post(f"/api/quotes/{qid}/send", headers=rep)).status_code == 200
    assert (await api.post(f"/api/quotes/{qid}/accept", headers=rep)).status_code == 200
    won = (await api.get(f"/api/opportunities/{oid}", headers=rep)).json()
    assert (won["stage"], won["amount"], won["quotes"][0]["id"]) == ("won", "3001.00", qid)
    task = await api.post("/api/tasks", headers=rep, json={"title": "Relancer", "opportunity_id": oid})
    assert task.status_code == 201 and task.json()["opportunity_id"] == oid
    assert task.json()["institution_id"] == institution_id
    call = await api.post("/api/calls", headers=rep, json={"direction": "out", "opportunity_id": oid})
    assert call.status_code == 201 and call.json()["opportunity_id"] == oid
    other = await api.post(
        "/api/notes",
        headers=rep,
        json={"body": "?", "institution_id": _other_institution(), "opportunity_id": oid},
    )
    assert other.status_code == 422
    assert other.json()["error"]["fields"] == {"opportunity_id": "This opportunity belongs to another institution."}
    listed = (await api.get("/api/tasks", headers=rep, params={"opportunity_id": oid})).json()
    assert [row["id"] for row in listed["items"]] == [task.json()["id"]]
    activities = (await api.get(f"/api/opportunities/{oid}/activities", headers=rep)).json()
    assert {(e["kind"], e["record_id"]) for e in activities["items"]} == {
        ("task", task.json()["id"]),
        ("call", call.json()["id"]),
    }
    hidden = await api.get(f"/api/opportunities/{oid}/activities", headers=await _auth(api, org.rep_b))
    assert hidden.status_code == 403


def _other_institution() -> str:
    with unit_of_work() as session:
        return str(make_institution(session, name="Clinique ailleurs").id)
