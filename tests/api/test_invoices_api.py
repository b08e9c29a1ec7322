"""/api/invoices, payments, credit notes and /api/quotes/{id}/invoice against the whole app (requests
commit; tables emptied after each test): conventions (201, 204, 404, 403, 409 with the current status,
422 with the field), rights on direct calls, amounts as decimal strings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import facturx
import httpx
import pytest
from nicegui.testing import User

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.sales import quotes
from tests.conftest import truncate_all
from tests.factories import PASSWORD, actor_of, make_team, make_user
from tests.institution_factories import make_buyer
from tests.sales_factories import make_accepted_quote, quote_line

UNKNOWN = uuid.UUID(int=1)


@pytest.fixture
async def api(user: User) -> AsyncIterator[httpx.AsyncClient]:
    try:
        yield user.http_client
    finally:
        truncate_all()


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    actor: Actor


@dataclass(frozen=True)
class World:
    rep_a: Person
    rep_a2: Person
    manager_a: Person
    rep_b: Person
    admin: Person
    institution_id: uuid.UUID


@pytest.fixture
def world() -> World:
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Aquitaine"), make_team(session, "Bretagne")
        people = [
            make_user(session, role=role, team=team, email=email, name=email.split("@")[0].title())
            for role, team, email in (
                (Role.USER, team_a, "anne@example.org"),
                (Role.USER, team_a, "alain@example.org"),
                (Role.MANAGER, team_a, "marc@example.org"),
                (Role.USER, team_b, "bruno@example.org"),
                (Role.ADMIN, None, "ada@example.org"),
            )
        ]
        institution = make_buyer(session, name="CHU de Nantes")
        rep_a, rep_a2, manager_a, rep_b, admin = (Person(p.id, p.email, actor_of(p)) for p in people)
        return World(rep_a, rep_a2, manager_a, rep_b, admin, institution_id=institution.id)


async def _auth(api: httpx.AsyncClient, person: Person) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _line(unit_price: str = "100.00", **values: Any) -> dict[str, Any]:
    return {"description": "Formation", "quantity": "2", "unit_price": unit_price, "vat_rate": "20", **values}


async def _draft(api: httpx.AsyncClient, headers: dict[str, str], world: World, **body: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/invoices", headers=headers, json={"institution_id": str(world.institution_id), "lines": [_line()], **body}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _issued(api: httpx.AsyncClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    invoice = await _draft(api, headers, world)
    response = await api.post(f"/api/invoices/{invoice['id']}/issue", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/invoices"),
        ("POST", "/api/invoices"),
        ("GET", f"/api/invoices/{UNKNOWN}"),
        ("PATCH", f"/api/invoices/{UNKNOWN}"),
        ("DELETE", f"/api/invoices/{UNKNOWN}"),
        ("POST", f"/api/invoices/{UNKNOWN}/issue"),
        ("GET", f"/api/invoices/{UNKNOWN}/payments"),
        ("POST", f"/api/invoices/{UNKNOWN}/payments"),
        ("DELETE", f"/api/invoices/{UNKNOWN}/payments/{UNKNOWN}"),
        ("POST", f"/api/invoices/{UNKNOWN}/credit-note"),
        ("POST", f"/api/quotes/{UNKNOWN}/invoice"),
    ],
)
async def test_every_endpoint_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={})
    assert response.status_code == 401


async def test_draft_edit_issue_and_immutability(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    invoice = await _draft(api, headers, world, title="Formation bloc")
    assert (invoice["status"], invoice["number"], invoice["total_incl_vat"]) == ("draft", None, "240.00")
    assert invoice["lines"][0]["quantity"] == "2.000" and invoice["vat_rows"] == [
        {"rate": "20", "base": "200.00", "vat": "40.00"}
    ]
    patched = await api.patch(
        f"/api/invoices/{invoice['id']}",
        headers=headers,
        json={"version": invoice["version"], "lines": [_line("50.00"), _line("10.00")]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["total_incl_vat"] == "144.00" and patched.json()["version"] == 2
    stale = await api.patch(f"/api/invoices/{invoice['id']}", headers=headers, json={"version": 1, "title": "x"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    issued = await api.post(f"/api/invoices/{invoice['id']}/issue", headers=headers, json={"version": 2})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["status"] == "issued" and body["number"].startswith("FAC-") and body["due_date"]
    assert body["buyer"]["name"] == "CHU de Nantes"
    for method, path, payload in (
        ("PATCH", f"/api/invoices/{invoice['id']}", {"version": body["version"], "title": "changed"}),
        ("DELETE", f"/api/invoices/{invoice['id']}", None),
        ("POST", f"/api/invoices/{invoice['id']}/issue", None),
    ):
        refused = await api.request(method, path, headers=headers, json=payload)
        assert refused.status_code == 409, (method, refused.text)
        assert refused.json()["error"]["current_status"] == "issued"


async def test_validation_errors_name_the_field(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    response = await api.post(
        "/api/invoices",
        headers=headers,
        json={
            "institution_id": str(world.institution_id),
            "lines": [_line(), _line(vat_rate="19.6"), _line(unit_price="12.345")],
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "lines.1.vat_rate": "This VAT rate is not allowed.",
        "lines.2.unit_price": "Too many decimals.",
    }
    missing = await api.post("/api/invoices", headers=headers, json={"lines": []})
    assert missing.json()["error"]["fields"] == {"institution_id": "This field is required."}
    unknown = await api.post(
        "/api/invoices", headers=headers, json={"institution_id": str(world.institution_id), "colour": "red"}
    )
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["fields"]


async def test_payments_and_statuses_through_the_api(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    invoice = await _issued(api, headers, world)  # 240.00
    path = f"/api/invoices/{invoice['id']}/payments"
    first = await api.post(path, headers=headers, json={"amount": "40.00", "method": "transfer", "reference": "V1"})
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["remaining"]) == ("partially_paid", "200.00")
    too_much = await api.post(path, headers=headers, json={"amount": "200.01", "method": "check"})
    assert too_much.status_code == 422 and set(too_much.json()["error"]["fields"]) == {"amount"}
    last = await api.post(path, headers=headers, json={"amount": "200", "method": "check"})
    assert last.json()["status"] == "paid" and last.json()["paid_at"]
    listed = await api.get(path, headers=headers)
    assert [(p["amount"], p["method"]) for p in listed.json()] == [("40.00", "transfer"), ("200.00", "check")]
    after_paid = await api.post(path, headers=headers, json={"amount": "1", "method": "cash"})
    assert after_paid.status_code == 409 and after_paid.json()["error"]["current_status"] == "paid"
    deleted = await api.delete(f"{path}/{listed.json()[1]['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["status"] == "partially_paid"
    gone = await api.delete(f"{path}/{listed.json()[1]['id']}", headers=headers)
    assert gone.status_code == 404


async def test_credit_notes_through_the_api(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    invoice = await _issued(api, headers, world)  # 240.00
    path = f"/api/invoices/{invoice['id']}/credit-note"
    partial = await api.post(path, headers=headers, json={"amount_incl_vat": "60.00"})
    assert partial.status_code == 201, partial.text
    note = partial.json()
    assert (note["kind"], note["status"], note["total_incl_vat"]) == ("credit_note", "issued", "60.00")
    assert note["number"].startswith("AV-") and note["credited_invoice_number"] == invoice["number"]
    too_much = await api.post(path, headers=headers, json={"amount_incl_vat": "180.01"})
    assert too_much.status_code == 422 and set(too_much.json()["error"]["fields"]) == {"amount_incl_vat"}
    rest = await api.post(path, headers=headers)
    assert rest.status_code == 201 and rest.json()["total_incl_vat"] == "180.00"
    credited = (await api.get(f"/api/invoices/{invoice['id']}", headers=headers)).json()
    assert (credited["status"], credited["amount_credited"], credited["remaining"]) == ("cancelled", "240.00", "0.00")
    assert len(credited["credit_notes"]) == 2
    again = await api.post(path, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["current_status"] == "cancelled"


async def test_a_paid_invoice_is_credited_and_refunded_through_the_api(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    invoice = await _issued(api, headers, world)  # 240.00
    paid = await api.post(
        f"/api/invoices/{invoice['id']}/payments", headers=headers, json={"amount": "240.00", "method": "transfer"}
    )
    assert paid.status_code == 201 and paid.json()["status"] == "paid"
    path = f"/api/invoices/{invoice['id']}/credit-note"
    too_much = await api.post(
        path, headers=headers, json={"amount_incl_vat": "100.00", "refund": {"amount": "100.01", "method": "check"}}
    )
    assert too_much.status_code == 422 and set(too_much.json()["error"]["fields"]) == {"refund.amount"}
    created = await api.post(
        path,
        headers=headers,
        json={"amount_incl_vat": "100.00", "refund": {"amount": "40.00", "method": "check", "reference": "CHQ-1"}},
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert (note["total_incl_vat"], note["amount_refunded"], note["refundable"]) == ("100.00", "40.00", "60.00")
    assert [(r["amount"], r["direction"], r["reference"]) for r in note["refunds"]] == [("40.00", "out", "CHQ-1")]
    refunds = f"/api/invoices/{note['id']}/refunds"
    over = await api.post(refunds, headers=headers, json={"amount": "60.01", "method": "transfer"})
    assert over.status_code == 422 and set(over.json()["error"]["fields"]) == {"amount"}
    on_invoice = await api.post(
        f"/api/invoices/{invoice['id']}/refunds", headers=headers, json={"amount": "1", "method": "transfer"}
    )
    assert on_invoice.status_code == 409
    other = await _auth(api, world.rep_b)
    assert (await api.post(refunds, headers=other, json={"amount": "1", "method": "cash"})).status_code == 403
    assert (await api.get(refunds, headers=other)).status_code == 403
    rest = await api.post(refunds, headers=headers, json={"amount": "60.00", "method": "transfer"})
    assert rest.status_code == 201 and rest.json()["refundable"] == "0.00"
    listed = (await api.get(refunds, headers=headers)).json()
    assert [r["amount"] for r in listed] == ["40.00", "60.00"]
    credited = (await api.get(f"/api/invoices/{invoice['id']}", headers=headers)).json()
    assert (credited["status"], credited["amount_paid"], credited["amount_credited"]) == ("paid", "240.00", "100.00")
    assert (credited["amount_refunded"], credited["remaining"], credited["refundable"]) == ("100.00", "0.00", "0.00")
    assert [r["credit_note_number"] for r in credited["refunds"]] == [note["number"]] * 2
    deleted = await api.delete(f"{refunds}/{listed[1]['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["refundable"] == "60.00"
    # The whole invoice (what was not credited yet): 140.00, all of it paid and owed back.
    whole = await api.post(path, headers=headers, json={"full": True})
    assert whole.status_code == 201 and whole.json()["total_incl_vat"] == "140.00"
    cancelled = (await api.get(f"/api/invoices/{invoice['id']}", headers=headers)).json()
    assert (cancelled["status"], cancelled["remaining"], cancelled["refundable"]) == ("cancelled", "-200.00", "200.00")


async def test_invoicing_a_quote_through_the_api(api: httpx.AsyncClient, world: World) -> None:
    with unit_of_work() as session:
        institution = make_buyer(session, name="Clinique des Cèdres")
        quote = make_accepted_quote(session, world.rep_a.actor, institution, [quote_line(unit_price="1000.00")])
        draft_quote = quotes.create_quote(
            session, world.rep_a.actor, {"institution_id": institution.id, "lines": [quote_line()]}
        )
        quote_id, draft_id, quote_number = quote.id, draft_quote.id, quote.number
    headers = await _auth(api, world.rep_a)
    deposit = await api.post(f"/api/quotes/{quote_id}/invoice", headers=headers, json={"percent": "30"})
    assert deposit.status_code == 201, deposit.text
    assert (deposit.json()["total_incl_vat"], deposit.json()["quote_number"]) == ("360.00", quote_number)
    too_much = await api.post(f"/api/quotes/{quote_id}/invoice", headers=headers, json={"amount_incl_vat": "840.01"})
    assert too_much.status_code == 422 and set(too_much.json()["error"]["fields"]) == {"amount_incl_vat"}
    balance = await api.post(f"/api/quotes/{quote_id}/invoice", headers=headers)
    assert balance.status_code == 201 and balance.json()["total_incl_vat"] == "840.00"
    not_accepted = await api.post(f"/api/quotes/{draft_id}/invoice", headers=headers)
    assert not_accepted.status_code == 409 and not_accepted.json()["error"]["current_status"] == "draft"
    other = await _auth(api, world.rep_b)
    forbidden = await api.post(f"/api/quotes/{quote_id}/invoice", headers=other, json={"percent": "1"})
    assert forbidden.status_code == 403
    missing = await api.post(f"/api/quotes/{UNKNOWN}/invoice", headers=headers)
    assert missing.status_code == 404


async def test_rights_on_direct_calls(api: httpx.AsyncClient, world: World) -> None:
    anne = await _auth(api, world.rep_a)
    invoice = await _issued(api, anne, world)
    draft = await _draft(api, anne, world)
    for person in (world.rep_a2, world.rep_b):
        headers = await _auth(api, person)
        for method, path, payload in (
            ("GET", f"/api/invoices/{invoice['id']}", None),
            ("GET", f"/api/invoices/{invoice['id']}/payments", None),
            ("POST", f"/api/invoices/{invoice['id']}/payments", {"amount": "1", "method": "cash"}),
            ("POST", f"/api/invoices/{invoice['id']}/credit-note", {}),
            ("PATCH", f"/api/invoices/{draft['id']}", {"version": 1, "title": "x"}),
            ("POST", f"/api/invoices/{draft['id']}/issue", None),
            ("DELETE", f"/api/invoices/{draft['id']}", None),
        ):
            response = await api.request(method, path, headers=headers, json=payload)
            assert response.status_code == 403, (person.email, method, path, response.text)
        listed = await api.get("/api/invoices", headers=headers)
        assert listed.json()["total"] == 0
    marc = await _auth(api, world.manager_a)
    assert (await api.get(f"/api/invoices/{invoice['id']}", headers=marc)).status_code == 200
    assert (await api.get("/api/invoices", headers=marc)).json()["total"] == 2
    ada = await _auth(api, world.admin)
    deleted = await api.delete(f"/api/invoices/{draft['id']}", headers=ada)
    assert deleted.status_code == 204
    assert (await api.get(f"/api/invoices/{draft['id']}", headers=ada)).status_code == 404


async def test_the_list_pages_filters_and_totals(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    first = await _issued(api, headers, world)  # 240.00
    await api.post(f"/api/invoices/{first['id']}/payments", headers=headers, json={"amount": "40", "method": "cash"})
    second = await _issued(api, headers, world)
    await api.post(f"/api/invoices/{second['id']}/credit-note", headers=headers, json={"amount_incl_vat": "24.00"})
    await _draft(api, headers, world)
    response = await api.get("/api/invoices?page_size=2&sort=-amount", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], len(body["items"])) == (4, 1, 2, 2)
    assert body["totals"] == {"total_incl_vat": "696.00", "outstanding": "416.00", "overdue": "0.00"}
    assert set(body["items"][0]) >= {"id", "number", "status", "total_incl_vat", "remaining", "institution_name"}
    assert "can_edit" not in body["items"][0]
    only = await api.get("/api/invoices", headers=headers, params={"status": "partially_paid,draft", "kind": "invoice"})
    assert {item["status"] for item in only.json()["items"]} == {"partially_paid", "draft"}
    notes = await api.get("/api/invoices", headers=headers, params={"kind": "credit_note"})
    assert notes.json()["total"] == 1 and notes.json()["totals"]["total_incl_vat"] == "-24.00"
    by_number = await api.get("/api/invoices", headers=headers, params={"q": first["number"]})
    assert [item["id"] for item in by_number.json()["items"]] == [first["id"]]


async def test_the_facturx_xml_and_the_refusal_naming_the_missing_field(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    invoice = await _issued(api, headers, world)
    xml = await api.get(f"/api/invoices/{invoice['id']}/facturx.xml", headers=headers)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert f"<ram:ID>{invoice['number']}</ram:ID>".encode() in xml.content
    pdf = await api.get(f"/api/invoices/{invoice['id']}/pdf", headers=headers)
    assert facturx.get_xml_from_pdf(pdf.content, check_xsd=False) == ("factur-x.xml", xml.content)  # its attachment
    other = await _auth(api, world.rep_b)
    assert (await api.get(f"/api/invoices/{invoice['id']}/facturx.xml", headers=other)).status_code == 403
    draft = await _draft(api, headers, world, lines=[_line(vat_rate="0")])
    assert (await api.get(f"/api/invoices/{draft['id']}/facturx.xml", headers=headers)).status_code == 409
    refused = await api.post(f"/api/invoices/{draft['id']}/issue", headers=headers)
    assert refused.status_code == 422 and set(refused.json()["error"]["fields"]) == {"lines.0.vat_exemption"}
    exempt = [_line(vat_rate="0", vat_exemption="training")]
    patched = await api.patch(f"/api/invoices/{draft['id']}", headers=headers, json={"version": 1, "lines": exempt})
    assert patched.status_code == 200 and patched.json()["lines"][0]["vat_exemption"] == "training"
    issued = await api.post(f"/api/invoices/{draft['id']}/issue", headers=headers)
    assert issued.status_code == 200, issued.text
