"""PDFs and emails of sales documents over REST: /api/quotes/{id}/pdf and /email, /api/invoices/{id}/pdf
and /email (requests commit; tables emptied after each test)."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from pypdf import PdfReader
from sqlmodel import func, select

from crm_app.institutions.models import Contact
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import Role, User
from crm_app.sales import invoices
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_sent_quote, quote_line


@pytest.fixture
def sent_quote() -> dict[str, str]:
    """A sent quote of Anne's, with a contact that has an email; Bruno is another sales rep."""
    with unit_of_work() as session:
        anne = make_user(session, role=Role.USER, email="anne@example.org", name="Anne Martin")
        make_user(session, role=Role.USER, email="bruno@example.org", name="Bruno Petit")
        clinic = make_buyer(session, name="Clinique des Cèdres")
        contact = make_contact(session, clinic, first_name="Jeanne", last_name="Dupont", email="jeanne@cedres.fr")
        quote = make_sent_quote(
            session, actor_of(anne), clinic, lines=[quote_line("Échographe portable", "2", "12500.00")]
        )
        return {"id": str(quote.id), "number": quote.number, "contact_id": str(contact.id)}


async def _auth(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _text(pdf: bytes) -> str:
    """The PDF's text, with the narrow no-break spaces of French amounts as plain spaces."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _outbox_count() -> int:
    with unit_of_work() as session:
        return int(session.exec(select(func.count()).select_from(OutboxMessage)).one())


async def test_a_sent_quote_pdf_is_the_same_file_every_time(api: httpx.AsyncClient, sent_quote: dict[str, str]) -> None:
    anne = await _auth(api, "anne@example.org")
    first = await api.get(f"/api/quotes/{sent_quote['id']}/pdf", headers=anne)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf"
    assert first.headers["content-disposition"] == f'attachment; filename="{sent_quote["number"]}.pdf"'
    text = _text(first.content)
    assert sent_quote["number"] in text and "Clinique des Cèdres" in text and "30 000,00" in text  # 2 × 12 500 + 20 %
    again = await api.get(f"/api/quotes/{sent_quote['id']}/pdf", headers=anne)
    assert again.content == first.content


async def test_another_reps_quote_is_refused_and_an_unknown_one_is_404(
    api: httpx.AsyncClient, sent_quote: dict[str, str]
) -> None:
    bruno = await _auth(api, "bruno@example.org")
    assert (await api.get(f"/api/quotes/{sent_quote['id']}/pdf", headers=bruno)).status_code == 403
    refused = await api.post(
        f"/api/quotes/{sent_quote['id']}/email", headers=bruno, json={"contact_ids": [sent_quote["contact_id"]]}
    )
    assert refused.status_code == 403
    assert (await api.get(f"/api/quotes/{uuid.uuid4()}/pdf", headers=bruno)).status_code == 404
    assert (await api.get(f"/api/quotes/{sent_quote['id']}/pdf")).status_code == 401


async def test_emailing_a_quote_queues_one_message_and_a_repeated_request_queues_nothing(
    api: httpx.AsyncClient, sent_quote: dict[str, str]
) -> None:
    anne = await _auth(api, "anne@example.org") | {"Idempotency-Key": "send-dialog-1"}
    body = {"contact_ids": [sent_quote["contact_id"]]}
    sent = await api.post(f"/api/quotes/{sent_quote['id']}/email", headers=anne, json=body)
    assert sent.status_code == 200, sent.text
    assert len(sent.json()["message_ids"]) == 1
    again = await api.post(f"/api/quotes/{sent_quote['id']}/email", headers=anne, json=body)
    assert again.status_code == 200
    assert _outbox_count() == 1
    with unit_of_work() as session:
        message = session.exec(select(OutboxMessage)).one()
        assert message.to_addresses == ["Jeanne Dupont <jeanne@cedres.fr>"]
    invalid = await api.post(
        f"/api/quotes/{sent_quote['id']}/email", headers=anne, json={"contact_ids": [str(uuid.uuid4())]}
    )
    assert invalid.status_code == 422
    assert "contact_ids" in invalid.json()["error"]["fields"]


async def test_an_issued_invoice_pdf_and_email(api: httpx.AsyncClient, sent_quote: dict[str, str]) -> None:
    with unit_of_work() as session:
        anne = actor_of(session.exec(select(User).where(User.email == "anne@example.org")).one())
        contact = session.get(Contact, uuid.UUID(sent_quote["contact_id"]))
        assert contact is not None
        draft = invoices.create_invoice(
            session,
            anne,
            {
                "institution_id": contact.institution_id,
                "contact_id": contact.id,
                "lines": [
                    {"description": "Maintenance annuelle", "quantity": "1", "unit_price": "1500.00", "vat_rate": "20"}
                ],
            },
        )
        invoice_id = str(draft.id)
    headers = await _auth(api, "anne@example.org")
    refused = await api.post(
        f"/api/invoices/{invoice_id}/email", headers=headers, json={"contact_ids": [sent_quote["contact_id"]]}
    )
    assert refused.status_code == 409  # a draft is never emailed
    issued = await api.post(f"/api/invoices/{invoice_id}/issue", headers=headers, json={})
    assert issued.status_code == 200, issued.text
    number = issued.json()["number"]
    pdf = await api.get(f"/api/invoices/{invoice_id}/pdf", headers=headers)
    assert pdf.status_code == 200
    text = _text(pdf.content)
    assert number in text and "1 800,00 €" in text and "40,00 €" in text
    sent = await api.post(
        f"/api/invoices/{invoice_id}/email", headers=headers, json={"contact_ids": [sent_quote["contact_id"]]}
    )
    assert sent.status_code == 200, sent.text
    assert _outbox_count() == 1
