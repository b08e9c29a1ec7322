"""/api/catalog against the whole app: everyone lists the active items, admins create and patch;
decimals travel as strings; a stale version is 409 and a duplicate reference 422 on its field."""

from __future__ import annotations

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user


async def _headers(api: httpx.AsyncClient, role: Role, email: str, name: str) -> dict[str, str]:
    with unit_of_work() as session:
        make_user(session, role=role, email=email, name=name)
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


async def test_admins_write_the_catalog_and_everyone_reads_it(api: httpx.AsyncClient) -> None:
    admin = await _headers(api, Role.ADMIN, "ada@example.org", "Ada Admin")
    rep = await _headers(api, Role.USER, "rita@example.org", "Rita Rep")
    created = await api.post(
        "/api/catalog",
        headers=admin,
        json={"reference": "END-1", "name": "Endoscope", "unit_price": "1250.10", "default_vat_rate": "5.5"},
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["unit_price"], item["default_vat_rate"], item["unit"], item["version"]) == (
        "1250.10",
        "5.50",
        "unit",
        1,
    )
    refused = await api.post("/api/catalog", headers=rep, json={"reference": "X", "name": "X", "unit_price": "1"})
    assert refused.status_code == 403
    duplicate = await api.post(
        "/api/catalog", headers=admin, json={"reference": "end-1", "name": "B", "unit_price": "1"}
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["error"]["fields"] == {"reference": "This reference is already used by another item."}

    patched = await api.patch(f"/api/catalog/{item['id']}", headers=admin, json={"version": 1, "is_active": False})
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    stale = await api.patch(f"/api/catalog/{item['id']}", headers=admin, json={"version": 1, "name": "Y"})
    assert stale.status_code == 409
    assert stale.json()["error"]["changed_by"] == "Ada Admin"

    listed = await api.get("/api/catalog", headers=rep, params={"active": "all"})
    assert listed.status_code == 200 and listed.json()["total"] == 0  # inactive: not for a rep
    assert (await api.get(f"/api/catalog/{item['id']}", headers=rep)).status_code == 404
    listed = await api.get("/api/catalog", headers=admin, params={"active": "all", "q": "endo"})
    assert [i["reference"] for i in listed.json()["items"]] == ["END-1"]
