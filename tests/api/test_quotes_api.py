"""/api/quotes against the whole app (requests commit; tables emptied after each test): the workflow,
amounts as decimal strings, errors (422 per field, 403, 404, 409 stale or with the current status),
rights, list filters and totals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
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


LINES = [
    {
        "description": "Scanner",
        "quantity": "3",
        "unit_price": "1333.33",
        "vat_rate": "20",
        "discount_type": "percent",
        "discount_value": "7.5",
    },
    {"description": "Livres", "quantity": "7", "unit_price": "12.35", "vat_rate": "5.5"},
]


async def _create(api: httpx.AsyncClient, headers: dict[str, str], institution_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/quotes", headers=headers, json={"institution_id": institution_id, "lines": LINES, **body}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/quotes"),
        ("POST", "/api/quotes"),
        ("GET", f"/api/quotes/{UNKNOWN}"),
        ("PATCH", f"/api/quotes/{UNKNOWN}"),
        *(
            ("POST", f"/api/quotes/{UNKNOWN}/{action}")
            for action in ("send", "accept", "reject", "order", "cancel", "revise")
        ),
    ],
)
async def test_every_quote_endpoint_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={})
    assert response.status_code == 401


async def test_quote_lifecycle(api: httpx.AsyncClient, org: Org, institution: tuple[str, str]) -> None:
    institution_id, contact_id = institution
    rep, manager = await _auth(api, org.rep_a), await _auth(api, org.manager_a)
    quote = await _create(
        api, rep, institution_id, contact_id=contact_id, title="Équipement", global_discount_percent="2"
    )
    assert (quote["status"], quote["version"], quote["revision"]) == ("draft", 1, 1)
    assert (quote["institution_name"], quote["contact_name"], quote["owner_name"]) == (
        "CHU de Rennes",
        "Jeanne Dupont",
        "Anne Aquitaine",
    )
    # Amounts travel as decimal strings, equal to the service's arithmetic.
    assert quote["lines"][0]["net_amount"] == "3699.99" and quote["lines"][1]["net_amount"] == "86.45"
    assert (quote["total_excl_vat"], quote["total_vat"], quote["total_incl_vat"]) == ("3710.71", "729.86", "4440.57")
    assert [row["rate"] for row in quote["vat_rows"]] == ["20", "5.5"]
    assert quote["allowed_actions"] == ["cancel", "edit", "send"]
    qid = quote["id"]
    patched = await api.patch(f"/api/quotes/{qid}", headers=rep, json={"version": 1, "lines": LINES[1:]})
    assert patched.status_code == 200 and patched.json()["total_excl_vat"] == "84.72"
    stale = await api.patch(f"/api/quotes/{qid}", headers=manager, json={"version": 1, "title": "x"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "conflict" and stale.json()["error"]["changed_by"] == "Anne Aquitaine"
    sent = await api.post(f"/api/quotes/{qid}/send", headers=rep)
    assert sent.status_code == 200 and sent.json()["status"] == "sent" and sent.json()["sent_at"]
    accepted = await api.post(f"/api/quotes/{qid}/accept", headers=manager, json={"client_comment": "Bon pour accord"})
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["decided_by_name"], accepted.json()["client_comment"]) == (
        "accepted",
        "Marc Manager",
        "Bon pour accord",
    )
    again = await api.post(f"/api/quotes/{qid}/accept", headers=rep)
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "invalid_transition",
        "current_status": "accepted",
        "message": "Only a sent quote can be accepted.",
    }
    ordered = await api.post(f"/api/quotes/{qid}/order", headers=rep, json={"purchase_order_ref": "PO-77"})
    assert ordered.status_code == 200
    assert ordered.json()["order_number"].startswith("BC-") and ordered.json()["purchase_order_ref"] == "PO-77"
    notified = await api.get("/api/notifications", headers=rep)
    assert [item["kind"] for item in notified.json()["items"]] == ["quote.accepted"]


async def test_revise_and_cancel(api: httpx.AsyncClient, org: Org, institution: tuple[str, str]) -> None:
    rep = await _auth(api, org.rep_a)
    quote = await _create(api, rep, institution[0])
    assert (await api.post(f"/api/quotes/{quote['id']}/revise", headers=rep)).status_code == 409
    await api.post(f"/api/quotes/{quote['id']}/send", headers=rep, json={"version": 1})
    revised = await api.post(f"/api/quotes/{quote['id']}/revise", headers=rep)
    assert revised.status_code == 201
    body = revised.json()
    assert body["number"] == quote["number"] + "-R2" and body["status"] == "draft"
    assert body["total_incl_vat"] == quote["total_incl_vat"] and len(body["lines"]) == 2
    old = (await api.get(f"/api/quotes/{quote['id']}", headers=rep)).json()
    assert (old["status"], old["superseded_by_id"]) == ("cancelled", body["id"])
    cancelled = await api.post(f"/api/quotes/{body['id']}/cancel", headers=rep, json={"version": 99})
    assert cancelled.status_code == 409 and cancelled.json()["error"]["code"] == "conflict"
    assert (await api.post(f"/api/quotes/{body['id']}/cancel", headers=rep)).json()["status"] == "cancelled"


async def test_quote_errors_have_one_shape(api: httpx.AsyncClient, org: Org, institution: tuple[str, str]) -> None:
    rep, other = await _auth(api, org.rep_a), await _auth(api, org.rep_a2)
    invalid = await api.post(
        "/api/quotes",
        headers=rep,
        json={
            "institution_id": institution[0],
            "lines": [LINES[0], {**LINES[1], "vat_rate": "7", "discount_type": "amount", "discount_value": "1000"}],
        },
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"] == {"lines.1.vat_rate": "This VAT rate is not allowed."}
    too_much = await api.post(
        "/api/quotes",
        headers=rep,
        json={
            "institution_id": institution[0],
            "lines": [{**LINES[1], "discount_type": "amount", "discount_value": "1000"}],
        },
    )
    assert too_much.json()["error"]["fields"] == {
        "lines.0.discount_value": "A discount cannot exceed the line's amount."
    }
    assert (
        await api.post("/api/quotes", headers=rep, json={"institution_id": institution[0], "colour": "red"})
    ).status_code == 422
    given = await api.post(
        "/api/quotes", headers=rep, json={"institution_id": institution[0], "owner_id": str(org.rep_a2.id)}
    )
    assert given.status_code == 403 and given.json()["error"]["code"] == "forbidden"
    quote = await _create(api, rep, institution[0])
    assert (await api.get(f"/api/quotes/{quote['id']}", headers=other)).status_code == 403
    assert (await api.post(f"/api/quotes/{quote['id']}/send", headers=other)).status_code == 403
    assert (
        await api.patch(f"/api/quotes/{quote['id']}", headers=other, json={"version": 1, "title": "x"})
    ).status_code == 403
    assert (await api.get(f"/api/quotes/{UNKNOWN}", headers=rep)).status_code == 404
    assert (await api.patch(f"/api/quotes/{quote['id']}", headers=rep, json={"title": "no version"})).status_code == 422


async def test_list_is_scoped_filtered_and_totalled(
    api: httpx.AsyncClient, org: Org, institution: tuple[str, str]
) -> None:
    rep, rep2, manager, admin, rep_b = [
        await _auth(api, p) for p in (org.rep_a, org.rep_a2, org.manager_a, org.admin, org.rep_b)
    ]
    first = await _create(api, rep, institution[0], title="Alpha")
    second = await _create(api, rep2, institution[0], lines=LINES[1:])
    await api.post(f"/api/quotes/{second['id']}/send", headers=rep2)
    theirs = await _create(api, rep_b, institution[0], lines=LINES[1:])

    async def listed(headers: dict[str, str], **params: Any) -> dict[str, Any]:
        response = await api.get("/api/quotes", headers=headers, params=params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    mine = await listed(rep)
    assert [item["id"] for item in mine["items"]] == [first["id"]]
    assert set(mine) == {"items", "total", "page", "page_size", "sum_excl_vat", "sum_incl_vat"}
    assert "can_edit" not in mine["items"][0] and "team_id" not in mine["items"][0]
    team = await listed(manager)
    assert {item["id"] for item in team["items"]} == {first["id"], second["id"]}
    assert Decimal(team["sum_incl_vat"]) == Decimal(first["total_incl_vat"]) + Decimal(second["total_incl_vat"])
    everything = await listed(admin, page_size=1, sort="-amount")
    assert everything["total"] == 3 and everything["items"][0]["id"] == first["id"]
    assert (await listed(admin, status="sent"))["total"] == 1
    assert (await listed(admin, status="draft,sent", owner_id=str(org.rep_b.id)))["items"][0]["id"] == theirs["id"]
    assert (await listed(admin, amount_min="100"))["total"] == 1
    assert (await listed(admin, q="alpha"))["total"] == 1
    assert (await listed(admin, q="rennes"))["total"] == 3
