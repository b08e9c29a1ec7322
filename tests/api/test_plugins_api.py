"""/api/plugins (super administrators): list, enable, disable, settings; and a plugin's own routes under
/api/plugins/<name>/ (the FEC export's download), served only while it is enabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_app.integrations import plugin_host
from crm_app.platform import settings as app_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_buyer
from tests.plugin_factories import load_from

SHIPPED = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture
def shipped_plugins(api: httpx.AsyncClient) -> Iterator[None]:
    """The plugins of the repository's plugins/ folder, loaded as PLUGIN_DIRECTORY (found disabled)."""
    load_from(SHIPPED, auto_enable=False)
    yield
    plugin_host.install([])


def _account(role: Role, email: str) -> str:
    with unit_of_work() as session:
        return make_user(session, role=role, email=email).email


async def _token(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _issued_invoice() -> str:
    with unit_of_work() as session:
        app_settings.update_section(session, SYSTEM_ACTOR, "branding", {"siret": "73282932000074"})
        admin = actor_of(make_user(session, role=Role.ADMIN, email="compta@example.org"))
        institution = make_buyer(session, name="Clinique du Lac", accounting_number="LAC01")
        draft = invoices.create_invoice(
            session,
            admin,
            {"institution_id": institution.id, "lines": [{"description": "Audit", "quantity": "1",
                                                          "unit_price": "100.00", "vat_rate": "20"}]},
        )  # fmt: skip
        issued = invoices.issue_invoice(session, admin, draft.id)
        assert issued.number is not None and issued.issue_date is not None
        return issued.issue_date.isoformat()


async def test_super_admins_list_enable_and_disable_plugins(api: httpx.AsyncClient, shipped_plugins: None) -> None:
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    admin = await _token(api, _account(Role.ADMIN, "admin@example.org"))
    assert (await api.get("/api/plugins", headers=admin)).status_code == 403
    assert (await api.post("/api/plugins/fec_export/enable", headers=admin)).status_code == 403
    assert (await api.get("/api/plugins")).status_code == 401
    listed = await api.get("/api/plugins", headers=boss)
    assert listed.status_code == 200, listed.text
    [fec] = listed.json()
    assert (fec["name"], fec["version"], fec["source"], fec["enabled"], fec["load_error"]) == (
        "fec_export",
        "1.0.0",
        "directory",
        False,
        None,
    )
    assert fec["description"].startswith("FEC accounting export")
    assert (fec["has_settings"], fec["has_page"], fec["has_routes"]) == (True, True, True)
    enabled = await api.post("/api/plugins/fec_export/enable", headers=boss)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    assert (await api.get("/api/plugins/fec_export", headers=boss)).json()["enabled"] is True
    disabled = await api.post("/api/plugins/fec_export/disable", headers=boss)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert (await api.post("/api/plugins/nothing_here/enable", headers=boss)).status_code == 404


async def test_plugin_settings_are_validated_and_stored(api: httpx.AsyncClient, shipped_plugins: None) -> None:
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    form = (await api.get("/api/plugins/fec_export/settings", headers=boss)).json()
    assert form["values"]["sales_journal"] == "VE"
    assert {f["name"]: f["kind"] for f in form["fields"]}["separator"] == "choice"
    refused = await api.patch(
        "/api/plugins/fec_export/settings",
        headers={**boss, "Accept-Language": "en"},
        json={"values": {"bank_account": "401000", "separator": "comma"}, "version": form["version"]},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {
        "bank_account": "A bank account starts with 512.",
        "separator": "Choose one of the offered values.",
    }
    saved = await api.patch(
        "/api/plugins/fec_export/settings",
        headers=boss,
        json={"values": {"bank_journal": "BNP", "separator": "pipe"}, "version": form["version"]},
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["values"]["bank_journal"], saved.json()["values"]["separator"]) == ("BNP", "pipe")
    stale = await api.patch(
        "/api/plugins/fec_export/settings",
        headers=boss,
        json={"values": {"bank_journal": "BQ"}, "version": form["version"]},
    )
    assert stale.status_code == 409


async def test_the_fec_route_answers_only_while_the_plugin_is_enabled(
    api: httpx.AsyncClient, shipped_plugins: None
) -> None:
    day = _issued_invoice()
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    rep = await _token(api, _account(Role.USER, "rep@example.org"))
    query = {"date_from": day, "date_to": day}
    off = await api.get("/api/plugins/fec_export/fec", headers=boss, params=query)
    assert off.status_code == 404 and off.json()["error"]["code"] == "not_found"
    await api.post("/api/plugins/fec_export/enable", headers=boss)
    anonymous = await api.get("/api/plugins/fec_export/fec", params=query)
    assert anonymous.status_code == 401, anonymous.text
    assert (await api.get("/api/plugins/fec_export/fec", headers=rep, params=query)).status_code == 403
    assert (await api.get("/api/plugins/fec_export/unknown", headers=boss)).status_code == 404
    answer = await api.get("/api/plugins/fec_export/fec", headers=boss, params=query)
    assert answer.status_code == 200, answer.text
    compact = day.replace("-", "")
    assert answer.headers["content-disposition"] == f'attachment; filename="732829320FEC{compact}.txt"'
    assert answer.headers["content-type"] == "text/plain; charset=ISO-8859-15"
    lines = answer.content.decode("iso-8859-15").splitlines()
    assert len(lines) == 4  # the header, then 411 / 706 / 44571
    assert lines[1].split("\t")[4:7] == ["411000", "Clients", "CLAC01"]
    assert [line.split("\t")[11:13] for line in lines[1:]] == [
        ["120,00", "0,00"],
        ["0,00", "100,00"],
        ["0,00", "20,00"],
    ]
    missing = await api.get("/api/plugins/fec_export/fec", headers=boss, params={"date_from": day})
    assert missing.status_code == 422


async def test_a_plugin_route_takes_a_personal_token_with_the_admin_scope(
    api: httpx.AsyncClient, shipped_plugins: None
) -> None:
    day = _issued_invoice()
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    await api.post("/api/plugins/fec_export/enable", headers=boss)

    async def personal(scopes: list[str]) -> dict[str, str]:
        made = await api.post(
            "/api/tokens", headers=boss, json={"name": f"Sage export ({' '.join(scopes)})", "scopes": scopes}
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    query = {"date_from": day, "date_to": day}
    reader = await api.get("/api/plugins/fec_export/fec", headers=await personal(["invoices:read"]), params=query)
    assert reader.status_code == 403, reader.text
    assert reader.json()["error"]["code"] == "insufficient_scope"
    admin = await api.get("/api/plugins/fec_export/fec", headers=await personal(["admin"]), params=query)
    assert admin.status_code == 200, admin.text
    assert admin.content.decode("iso-8859-15").count("\n") == 4
