"""Chorus Pro through the API: an institution's public entity fields (SIRET required, service codes
checked), the invoice's service code and engagement number (422 next to the field at issue), the
public buyers filter and POST /api/invoices/export/einvoices.zip (stored files, drafts left out, rights)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.sales import documents
from crm_app.sales.models.quotes import DocumentKind
from tests.api import test_invoices_api as invoice_api
from tests.api.test_invoices_api import World, _auth, _line
from tests.institution_factories import unique_siret

#: The invoices API's tests' fixtures: the app's client (tables emptied after) and two teams' people.
api = invoice_api.api
world = invoice_api.world

CODES = [{"code": "PHARMA01", "label": "Pharmacie"}, {"code": "BIOMED02", "label": None}]


async def _public_buyer(api: httpx.AsyncClient, headers: dict[str, str], **values: Any) -> dict[str, Any]:
    body = {
        "name": "CHU de Poitiers",
        "type": "university_hospital",
        "is_public_entity": True,
        "siret": unique_siret(),
        "service_codes": CODES,
        "requires_engagement_number": True,
        "street": "2 rue de la Milétrie",  # an address: the e-invoice needs it
        "postal_code": "86000",
        "city": "Poitiers",
        **values,
    }
    response = await api.post("/api/institutions", headers=headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_an_institution_is_a_public_buyer_with_its_service_codes(api: httpx.AsyncClient, world: World) -> None:
    headers = await _auth(api, world.rep_a)
    created = await _public_buyer(api, headers)
    assert created["is_public_entity"] is True and created["requires_engagement_number"] is True
    assert created["service_codes"] == CODES
    read = await api.get(f"/api/institutions/{created['id']}", headers=headers)
    assert read.json()["service_codes"] == CODES

    no_siret = await api.post(
        "/api/institutions", headers=headers, json={"name": "CH de Niort", "is_public_entity": True}
    )
    assert no_siret.status_code == 422
    assert no_siret.json()["error"]["fields"] == {
        "siret": "A public entity needs its SIRET: Chorus Pro identifies the buyer by it."
    }
    twice = await api.patch(
        f"/api/institutions/{created['id']}",
        headers=headers,
        json={"version": created["version"], "service_codes": [{"code": "A1"}, {"code": "A1", "label": "bis"}]},
    )
    assert twice.status_code == 422
    assert twice.json()["error"]["fields"] == {"service_codes": "This service code is listed twice."}
    too_long = await api.patch(
        f"/api/institutions/{created['id']}",
        headers=headers,
        json={"version": created["version"], "service_codes": [{"code": "C" * 101}]},
    )
    assert too_long.status_code == 422 and set(too_long.json()["error"]["fields"]) == {"service_codes"}


async def test_issuing_to_a_public_buyer_is_refused_without_code_and_engagement_number(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = await _auth(api, world.rep_a)
    buyer = await _public_buyer(api, headers)
    created = await api.post("/api/invoices", headers=headers, json={"institution_id": buyer["id"], "lines": [_line()]})
    invoice = created.json()
    assert invoice["buyer_reference"] is None and invoice["buyer_order_reference"] is None
    refused = await api.post(f"/api/invoices/{invoice['id']}/issue", headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {
        "buyer_reference": "This buyer is a public entity: choose its Chorus Pro service code.",
        "buyer_order_reference": "This buyer requires an engagement number (its purchase order reference).",
    }
    free_text = await api.patch(
        f"/api/invoices/{invoice['id']}",
        headers=headers,
        json={"version": invoice["version"], "buyer_reference": "NOT-A-CODE"},
    )
    assert free_text.status_code == 422
    assert free_text.json()["error"]["fields"] == {
        "buyer_reference": "Choose one of the buyer's Chorus Pro service codes."
    }
    patched = await api.patch(
        f"/api/invoices/{invoice['id']}",
        headers=headers,
        json={"version": invoice["version"], "buyer_reference": "BIOMED02", "buyer_order_reference": "ENG-2026-5"},
    )
    assert patched.status_code == 200, patched.text
    issued = await api.post(f"/api/invoices/{invoice['id']}/issue", headers=headers)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["number"] and (body["buyer_reference"], body["buyer_order_reference"]) == ("BIOMED02", "ENG-2026-5")
    note = await api.post(f"/api/invoices/{invoice['id']}/credit-note", headers=headers, json={"amount_incl_vat": "10"})
    assert note.status_code == 201
    assert (note.json()["buyer_reference"], note.json()["buyer_order_reference"]) == ("BIOMED02", "ENG-2026-5")


def _names(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_the_einvoices_zip_of_a_selection_and_of_the_public_buyers_filter(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = await _auth(api, world.rep_a)
    buyer = await _public_buyer(api, headers, service_codes=CODES[:1], requires_engagement_number=False)
    numbers = []
    ids = []
    for _ in range(2):
        draft = (
            await api.post("/api/invoices", headers=headers, json={"institution_id": buyer["id"], "lines": [_line()]})
        ).json()
        issued = (await api.post(f"/api/invoices/{draft['id']}/issue", headers=headers)).json()
        numbers.append(issued["number"])
        ids.append(issued["id"])
    waiting = (
        await api.post("/api/invoices", headers=headers, json={"institution_id": buyer["id"], "lines": [_line()]})
    ).json()
    private = (
        await api.post(
            "/api/invoices", headers=headers, json={"institution_id": str(world.institution_id), "lines": [_line()]}
        )
    ).json()
    private_issued = (await api.post(f"/api/invoices/{private['id']}/issue", headers=headers)).json()

    response = await api.post(
        "/api/invoices/export/einvoices.zip", headers=headers, json={"ids": [*ids, waiting["id"]]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["x-deposited-count"] == "2" and response.headers["x-skipped-drafts"] == "1"
    files = _names(response.content)
    assert set(files) == {f"{number}.pdf" for number in numbers}
    with unit_of_work() as session:  # the stored file, byte for byte
        stored, _name = documents.document_pdf(session, world.rep_a.actor, DocumentKind.INVOICE, ids[0])
    assert files[f"{numbers[0]}.pdf"] == stored

    by_filter = await api.post("/api/invoices/export/einvoices.zip?public_buyers=1", headers=headers)
    assert by_filter.status_code == 200 and by_filter.headers["x-skipped-drafts"] == "1"
    assert set(_names(by_filter.content)) == {f"{number}.pdf" for number in numbers}
    assert f"{private_issued['number']}.pdf" not in _names(by_filter.content)

    listed = await api.get("/api/invoices", headers=headers, params={"public_buyers": "1"})
    assert {item["id"] for item in listed.json()["items"]} == {*ids, waiting["id"]}

    only_drafts = await api.post("/api/invoices/export/einvoices.zip", headers=headers, json={"ids": [waiting["id"]]})
    assert only_drafts.status_code == 422 and set(only_drafts.json()["error"]["fields"]) == {"ids"}
    other_team = await api.post(
        "/api/invoices/export/einvoices.zip", headers=await _auth(api, world.rep_b), json={"ids": ids}
    )
    assert other_team.status_code == 403
