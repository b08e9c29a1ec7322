"""/api/events/catalogue and /api/webhooks: the catalogue in the reader's language, webhooks for super
administrators only, the secret shown once, a private address refused next to the field, redelivery,
and each event body's `data` equal to what the REST API's GET of the record answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlmodel import select

from crm_app.integrations import catalogue
from crm_app.integrations.webhook_models import WebhookDelivery
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user
from tests.institution_factories import unique_siret

HOOK = "https://hooks.example.org/opex"


async def _headers(api: httpx.AsyncClient, role: Role, email: str, language: str = "en") -> dict[str, str]:
    with unit_of_work() as session:
        make_user(session, role=role, email=email, name="Sam Super")
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": language}


def _bodies(event: str) -> list[dict[str, Any]]:
    with unit_of_work() as session:
        rows = session.exec(select(WebhookDelivery).where(WebhookDelivery.event == event)).all()
        return [json.loads(row.body) for row in rows]


async def test_the_catalogue_lists_every_public_event_in_the_readers_language(api: httpx.AsyncClient) -> None:
    rep = await _headers(api, Role.USER, "rita@example.org", language="fr")
    response = await api.get("/api/events/catalogue", headers=rep)
    assert response.status_code == 200, response.text
    entries = {entry["name"]: entry for entry in response.json()}
    assert list(entries) == list(catalogue.NAMES)
    paid = entries["invoice.paid"]
    assert paid["description"] == "Une facture a été entièrement payée."
    assert paid["data_schema"] == "InvoiceDetailOut" and paid["built_from"] == "invoice.paid"
    assert set(paid["example"]) == {"id", "event", "occurred_at", "actor", "data"}
    schemas = (await api.get("/api/openapi.json")).json()["components"]["schemas"]
    assert {entry["data_schema"] for entry in entries.values()} <= set(schemas)
    assert (await api.get("/api/events/catalogue")).status_code == 401


async def test_webhooks_are_for_super_admins_and_the_secret_is_shown_once(
    api: httpx.AsyncClient, settings_override: Callable[..., None]
) -> None:
    admin = await _headers(api, Role.ADMIN, "ada@example.org")
    refused = await api.post("/api/webhooks", headers=admin, json={"url": HOOK, "all_events": True})
    assert refused.status_code == 403
    sam = await _headers(api, Role.SUPER_ADMIN, "sam@example.org")

    private = await api.post("/api/webhooks", headers=sam, json={"url": "http://127.0.0.1:9000/x", "all_events": True})
    assert private.status_code == 422
    assert "private" in private.json()["error"]["fields"]["url"]
    no_events = await api.post("/api/webhooks", headers=sam, json={"url": "http://192.0.2.10/hook"})
    assert no_events.json()["error"]["fields"] == {"events": "Choose at least one event, or all events."}

    settings_override(webhooks_allow_private_networks="true")  # example.org's name need not resolve here
    created = await api.post(
        "/api/webhooks",
        headers=sam,
        json={"url": "http://10.20.30.40/hook", "events": ["invoice.paid", "quote.sent"], "description": "ERP"},
    )
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_")
    assert webhook["events"] == ["quote.sent", "invoice.paid"] and webhook["is_active"]
    read = (await api.get(f"/api/webhooks/{webhook['id']}", headers=sam)).json()
    assert "secret" not in read
    listed = (await api.get("/api/webhooks", headers=sam)).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    rotated = (await api.post(f"/api/webhooks/{webhook['id']}/rotate-secret", headers=sam)).json()
    assert rotated["secret"] != webhook["secret"]  # and the version moved on: 2
    patched = await api.patch(
        f"/api/webhooks/{webhook['id']}", headers=sam, json={"all_events": True, "is_active": False, "version": 2}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["all_events"] and not patched.json()["is_active"]
    stale = await api.patch(f"/api/webhooks/{webhook['id']}", headers=sam, json={"description": "x", "version": 2})
    assert stale.status_code == 409
    blind = await api.patch(f"/api/webhooks/{webhook['id']}", headers=sam, json={"description": "x"})
    assert blind.status_code == 422 and "version" in blind.text  # a change must say which version it read
    assert (await api.delete(f"/api/webhooks/{webhook['id']}", headers=sam)).status_code == 204
    assert (await api.get(f"/api/webhooks/{webhook['id']}", headers=sam)).status_code == 404


#: An institution that can be invoiced (the e-invoice needs its address and SIRET).
_BUYER = {
    "name": "CHU de Rennes",
    "street": "2 rue Henri Le Guilloux",
    "postal_code": "35000",
    "city": "Rennes",
    "siret": unique_siret(),
}


async def test_event_data_is_the_records_rest_representation_and_redelivery_works(
    api: httpx.AsyncClient, settings_override: Callable[..., None]
) -> None:
    settings_override(webhooks_allow_private_networks="true")
    sam = await _headers(api, Role.SUPER_ADMIN, "sam@example.org")
    created = await api.post("/api/webhooks", headers=sam, json={"url": "http://10.20.30.40/hook", "all_events": True})
    webhook = created.json()

    institution = (await api.post("/api/institutions", headers=sam, json=_BUYER)).json()
    contact = (
        await api.post(f"/api/institutions/{institution['id']}/contacts", headers=sam, json={"last_name": "Le Gall"})
    ).json()
    task = (
        await api.post("/api/tasks", headers=sam, json={"title": "Call back", "institution_id": institution["id"]})
    ).json()
    line = {"description": "Formation", "quantity": "2", "unit_price": "100.00", "vat_rate": "20"}
    invoice = (
        await api.post("/api/invoices", headers=sam, json={"institution_id": institution["id"], "lines": [line]})
    ).json()
    issued = await api.post(f"/api/invoices/{invoice['id']}/issue", headers=sam)
    assert issued.status_code == 200, issued.text

    for event, path in (
        ("institution.created", f"/api/institutions/{institution['id']}"),
        ("contact.created", f"/api/contacts/{contact['id']}"),
        ("task.created", f"/api/tasks/{task['id']}"),
        ("invoice.issued", f"/api/invoices/{invoice['id']}"),
    ):
        [body] = _bodies(event)
        rest = (await api.get(path, headers=sam)).json()
        if event == "institution.created":  # the contact and the invoice came after: compare what they leave
            rest = {k: v for k, v in rest.items() if k in body["data"]}
            assert body["data"]["name"] == "CHU de Rennes"
        else:
            assert body["data"] == rest, event
        assert body["actor"] == {"id": body["actor"]["id"], "name": "Sam Super"}

    log = (await api.get(f"/api/webhooks/{webhook['id']}/deliveries", headers=sam)).json()
    assert log["total"] == 4 and log["items"][0]["event"] == "invoice.issued"
    first = log["items"][-1]
    detail = (await api.get(f"/api/webhooks/{webhook['id']}/deliveries/{first['id']}", headers=sam)).json()
    assert json.loads(detail["body"])["event"] == "institution.created"
    again = await api.post(f"/api/webhooks/{webhook['id']}/deliveries/{first['id']}/redeliver", headers=sam)
    assert again.status_code == 202, again.text
    assert again.json()["redelivery_of"] == first["id"] and again.json()["event_id"] == first["event_id"]
    assert again.json()["status"] == "pending"
    other = await api.post(f"/api/webhooks/{webhook['id']}/deliveries/{webhook['id']}/redeliver", headers=sam)
    assert other.status_code == 404
    ping = await api.post(f"/api/webhooks/{webhook['id']}/test", headers=sam)
    assert ping.status_code == 202 and ping.json()["event"] == "ping"
