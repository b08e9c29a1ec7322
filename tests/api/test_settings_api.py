"""/api/settings (super administrators) and modules switched off answering 404 on their API."""

from __future__ import annotations

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user
from tests.institution_factories import make_institution
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture


def _account(role: Role, email: str, name: str = "Test User") -> str:
    with unit_of_work() as session:
        return make_user(session, role=role, email=email, name=name).email


async def _token(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_super_admin_reads_and_changes_settings(api: httpx.AsyncClient) -> None:
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org", "Sam Super"))
    read = await api.get("/api/settings", headers=boss)
    assert read.status_code == 200, read.text
    sections = read.json()["sections"]
    assert set(sections) == {
        "organisation",
        "email",
        "modules",
        "sessions",
        "retention",
        "documents",
        "branding",
        "reminders",
        "templates",
    }
    assert sections["email"]["values"]["smtp_password"] == "not set"
    changed = await api.patch(
        "/api/settings",
        headers=boss,
        json={
            "section": "organisation",
            "values": {"name": "Clinique Lumière", "default_language": "de"},
            "version": 0,
        },
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["values"]["name"]) == (1, "Clinique Lumière")
    stale = await api.patch(
        "/api/settings", headers=boss, json={"section": "organisation", "values": {"name": "Autre"}, "version": 0}
    )
    assert stale.status_code == 409
    invalid = await api.patch(
        "/api/settings",
        headers=boss,
        json={
            "section": "organisation",
            "values": {"timezone": "Nowhere/Land", "default_language": "xx"},
            "version": 1,
        },
    )
    assert invalid.status_code == 422
    assert set(invalid.json()["error"]["fields"]) == {"timezone", "default_language"}
    unknown = await api.patch("/api/settings", headers=boss, json={"section": "quotes", "values": {}})
    assert unknown.status_code == 404

    log = await api.get("/api/security-log", params={"action": "settings.changed"}, headers=boss)
    [entry] = log.json()["items"]
    assert entry["details"]["changes"]["name"] == {"old": "OPEx CRM", "new": "Clinique Lumière"}
    assert entry["details"]["changes"]["default_language"] == {"old": "fr", "new": "de"}


async def test_admins_see_only_the_sales_sections_and_others_are_refused(api: httpx.AsyncClient) -> None:
    admin = await _token(api, _account(Role.ADMIN, "admin@example.org"))
    read = await api.get("/api/settings", headers=admin)
    assert read.status_code == 200, read.text
    assert set(read.json()["sections"]) == {"documents", "branding", "reminders", "templates"}
    refused = await api.patch("/api/settings", headers=admin, json={"section": "modules", "values": {"tasks": False}})
    assert refused.status_code == 403
    manager = await _token(api, _account(Role.MANAGER, "manager@example.org"))
    assert (await api.get("/api/settings", headers=manager)).status_code == 403
    assert (await api.get("/api/settings")).status_code == 401


async def test_a_module_switched_off_answers_404_and_back_on(api: httpx.AsyncClient) -> None:
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    rep = await _token(api, _account(Role.USER, "rep@example.org"))
    assert (await api.get("/api/tasks", headers=rep)).status_code == 200
    with unit_of_work() as session:
        clinic_id = make_institution(session, name="Clinique des Lilas").id
    created = await api.post("/api/tasks", headers=rep, json={"title": "Relancer", "institution_id": str(clinic_id)})
    assert created.status_code == 201, created.text
    timeline = f"/api/institutions/{clinic_id}/timeline"
    assert "task" in {entry["kind"] for entry in (await api.get(timeline, headers=rep)).json()["items"]}
    off = await api.patch("/api/settings", headers=boss, json={"section": "modules", "values": {"tasks": False}})
    assert off.status_code == 200, off.text
    for method, path in (
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/tasks/00000000-0000-0000-0000-000000000001"),
    ):
        response = await api.request(method, path, headers=rep, json={} if method == "POST" else None)
        assert response.status_code == 404, (path, response.text)
    assert (await api.get("/api/notes", headers=rep)).status_code == 200  # the other modules stay
    assert "task" not in {entry["kind"] for entry in (await api.get(timeline, headers=rep)).json()["items"]}
    on = await api.patch("/api/settings", headers=boss, json={"section": "modules", "values": {"tasks": True}})
    assert on.status_code == 200
    assert (await api.get("/api/tasks", headers=rep)).status_code == 200


async def test_test_email_through_the_api(api: httpx.AsyncClient, smtp_server: SMTPServer) -> None:
    boss = await _token(api, _account(Role.SUPER_ADMIN, "boss@example.org"))
    sent = await api.post("/api/settings/test-email", headers=boss, json={"to": "it@example.org"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is True and sent.json()["answer"].startswith("250")
    assert [m["To"] for m in smtp_server.messages] == ["it@example.org"]
    smtp_server.stop()
    down = await api.post("/api/settings/test-email", headers=boss, json={"to": "it@example.org"})
    assert down.status_code == 200 and down.json()["ok"] is False
    assert "refused" in down.json()["answer"].lower()
