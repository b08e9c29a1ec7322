"""Every read path applies the rights of the record's own page: a rep of another team and the manager of
another team, refused a rep's quote and invoice, learn neither their numbers, amounts nor comments
through the PDFs, the payments, the comments, the emails, the institution's timeline or their
notifications (they were told about the quote while it was theirs: it has since gone to the other
team); the rep's own manager reads them all (so that the refusals are not vacuous)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from crm_app.platform import comments
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role, Team
from crm_app.sales import invoices, payments, quotes
from tests.activity_factories import make_org, make_person, notifications_of
from tests.factories import PASSWORD
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_quote, quote_line

SECRET_COMMENT = "Remise exceptionnelle de 12 % accordée"
SECRET_MENTION = "prix plancher convenu avec la direction"


@dataclass(frozen=True)
class World:
    institution_id: uuid.UUID
    quote_id: uuid.UUID
    invoice_id: uuid.UUID
    contact_id: uuid.UUID
    secrets: tuple[str, ...]  # what no refused reader may read anywhere
    emails: dict[str, str]  # who → email


def _world() -> World:
    """Rep A's sent quote (with a comment) and issued, partly paid invoice on an institution everyone sees.
    The quote was first rep B's: the admin mentioned rep B and manager B on it (each got a notification
    about it), then gave it to rep A, who sent it."""
    with unit_of_work() as session:
        org = make_org(session)
        manager_b = make_person(
            session, role=Role.MANAGER, team=session.get(Team, org.rep_b.user.team_id), email="mb@ex.org"
        )
        institution = make_buyer(session, org.admin.actor)
        contact = make_contact(session, institution, first_name="Jeanne", last_name="Dupont", email="j@ex.org")
        quote = make_quote(
            session, org.admin.actor, institution, [quote_line("Colonne", unit_price="31415.00")], owner_id=org.rep_b.id
        )
        handles = " ".join("@" + person.user.email.split("@")[0] for person in (org.rep_b, manager_b))
        comments.add_comment(session, org.admin.actor, "quote", quote.id, f"{handles} {SECRET_MENTION}")
        for person in (org.rep_b, manager_b):  # told while the quote was theirs to see
            assert [n.record_id for n in notifications_of(session, person)] == [quote.id]
        quote = quotes.update_quote(
            session, org.admin.actor, quote.id, {"owner_id": org.rep_a.id}, expected_version=quote.version
        )
        quote = quotes.send_quote(session, org.rep_a.actor, quote.id)
        comments.add_comment(session, org.rep_a.actor, "quote", quote.id, SECRET_COMMENT)
        invoice = invoices.create_invoice(
            session,
            org.rep_a.actor,
            {
                "institution_id": institution.id,
                "lines": [{"description": "Maintenance", "quantity": "1", "unit_price": "27182.00", "vat_rate": "20"}],
            },
        )
        invoices.issue_invoice(session, org.rep_a.actor, invoice.id)
        payments.record_payment(session, org.rep_a.actor, invoice.id, {"amount": "1234.56", "method": "transfer"})
        assert quote.number and invoice.number and invoice.total_incl_vat == Decimal("32618.40")
        return World(
            institution.id,
            quote.id,
            invoice.id,
            contact.id,
            (quote.number, invoice.number, "37698", "32618", "1234.56", SECRET_COMMENT, SECRET_MENTION),
            {
                "rep_b": org.rep_b.user.email,
                "manager_b": manager_b.user.email,
                "manager_a": org.manager_a.user.email,
            },
        )


async def _headers(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _reads(world: World) -> list[tuple[str, str, dict[str, object] | None]]:
    """The read paths that name the quote or the invoice (method, path, JSON body)."""
    quote, invoice = world.quote_id, world.invoice_id
    return [
        ("GET", f"/api/quotes/{quote}", None),
        ("GET", f"/api/quotes/{quote}/pdf", None),
        ("GET", f"/api/invoices/{invoice}", None),
        ("GET", f"/api/invoices/{invoice}/pdf", None),
        ("GET", f"/api/invoices/{invoice}/payments", None),
        ("GET", f"/api/comments?target_kind=quote&target_id={quote}", None),
        ("POST", f"/api/quotes/{quote}/email", {"contact_ids": [str(world.contact_id)]}),
        ("POST", f"/api/invoices/{invoice}/email", {"contact_ids": [str(world.contact_id)]}),
    ]


def _leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.mark.parametrize("reader", ["rep_b", "manager_b"])
async def test_a_reader_refused_a_document_learns_nothing_of_it_anywhere(api: httpx.AsyncClient, reader: str) -> None:
    world = _world()
    headers = await _headers(api, world.emails[reader])
    for method, path, body in _reads(world):
        response = await api.request(method, path, json=body, headers=headers)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert not _leaks(response.text, world.secrets), path
    for path in (
        f"/api/institutions/{world.institution_id}/timeline?page_size=100",
        f"/api/institutions/{world.institution_id}",
        f"/api/institutions/{world.institution_id}/contacts",
        "/api/quotes?page_size=100",
        "/api/invoices?page_size=100",
        "/api/notifications?page_size=100",
    ):
        response = await api.get(path, headers=headers)
        assert response.status_code == 200, path
        assert not _leaks(response.text, world.secrets), (path, _leaks(response.text, world.secrets))
        items = response.json().get("items", [])
        assert not {item.get("record_id") for item in items} & {str(world.quote_id), str(world.invoice_id)}, path


async def test_the_owners_manager_reads_what_the_others_are_refused(api: httpx.AsyncClient) -> None:
    world = _world()
    headers = await _headers(api, world.emails["manager_a"])
    for method, path, _body in _reads(world):
        if method == "GET":
            response = await api.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
    timeline = await api.get(f"/api/institutions/{world.institution_id}/timeline?page_size=100", headers=headers)
    assert {str(world.quote_id), str(world.invoice_id)} <= {item["record_id"] for item in timeline.json()["items"]}
    comments_page = await api.get(f"/api/comments?target_kind=quote&target_id={world.quote_id}", headers=headers)
    assert SECRET_COMMENT in comments_page.text
