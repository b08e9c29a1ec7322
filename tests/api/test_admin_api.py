"""/api/teams, /api/security-log and /api/auth/sessions."""

from __future__ import annotations

import httpx
from sqlmodel import select

from crm_app.accounts.models import AuthSession
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from tests.factories import PASSWORD, make_user


def _account(role: Role, email: str, name: str = "Test User") -> str:
    with unit_of_work() as session:
        return make_user(session, role=role, email=email, name=name).email


async def _token(api: httpx.AsyncClient, email: str, user_agent: str = "pytest") -> dict[str, str]:
    response = await api.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD}, headers={"User-Agent": user_agent}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_admin_manages_a_team_through_the_api(api: httpx.AsyncClient) -> None:
    admin = await _token(api, _account(Role.ADMIN, "admin@example.org"))
    rep_email = _account(Role.USER, "rep@example.org", "Rita Rep")
    created = await api.post("/api/teams", json={"name": "Sud-Ouest"}, headers=admin)
    assert created.status_code == 201, created.text
    team = created.json()
    assert (team["name"], team["member_count"], team["version"]) == ("Sud-Ouest", 0, 1)
    duplicate = await api.post("/api/teams", json={"name": "sud-ouest"}, headers=admin)
    assert duplicate.status_code == 422 and "name" in duplicate.json()["error"]["fields"]

    renamed = await api.patch(f"/api/teams/{team['id']}", json={"name": "Sud Ouest", "version": 1}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Sud Ouest"
    stale = await api.patch(f"/api/teams/{team['id']}", json={"name": "Autre", "version": 1}, headers=admin)
    assert stale.status_code == 409

    with unit_of_work() as session:
        rep_id = session.exec(select(UserRow.id).where(UserRow.email == rep_email)).one()
    added = await api.post(
        f"/api/teams/{team['id']}/members", json={"user_id": str(rep_id), "is_manager": True}, headers=admin
    )
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "manager" and added.json()["is_manager"] is True
    members = await api.get(f"/api/teams/{team['id']}/members", headers=admin)
    assert [m["email"] for m in members.json()] == [rep_email]
    refused = await api.patch(f"/api/teams/{team['id']}", json={"is_archived": True}, headers=admin)
    assert refused.status_code == 422  # active members first
    unset = await api.put(
        f"/api/teams/{team['id']}/members/{rep_id}/manager", json={"is_manager": False}, headers=admin
    )
    assert unset.json()["role"] == "user"
    assert (await api.delete(f"/api/teams/{team['id']}/members/{rep_id}", headers=admin)).status_code == 204
    archived = await api.patch(f"/api/teams/{team['id']}", json={"is_archived": True}, headers=admin)
    assert archived.status_code == 200 and archived.json()["is_archived"] is True

    listed = await api.get("/api/teams", headers=admin)
    assert listed.json()["total"] == 0
    listed = await api.get("/api/teams", params={"archived": 1}, headers=admin)
    assert [t["name"] for t in listed.json()["items"]] == ["Sud Ouest"]

    log = await api.get("/api/security-log", params={"action": "team.renamed"}, headers=admin)
    assert log.status_code == 200
    [entry] = log.json()["items"]
    assert entry["details"]["old"] == "Sud-Ouest" and entry["email"] == "admin@example.org"


async def test_security_log_is_filtered_paged_and_exported(api: httpx.AsyncClient) -> None:
    admin = await _token(api, _account(Role.ADMIN, "admin@example.org"))
    _account(Role.USER, "rep@example.org")
    for _ in range(3):
        await api.post("/api/auth/login", json={"email": "rep@example.org", "password": "wrong-password"})
    page = await api.get("/api/security-log", params={"action": "login.failed", "page_size": 2}, headers=admin)
    body = page.json()
    assert (body["total"], len(body["items"]), body["page_size"]) == (3, 2, 2)
    assert {item["severity"] for item in body["items"]} == {"medium"}
    assert set(body["items"][0]) == {
        "id",
        "at",
        "user_id",
        "user_name",
        "email",
        "action",
        "severity",
        "ip",
        "user_agent",
        "details",
    }
    bad_range = await api.get(
        "/api/security-log", params={"date_from": "2026-03-02", "date_to": "2026-03-01"}, headers=admin
    )
    assert bad_range.status_code == 422

    export = await api.get("/api/security-log/export", params={"user": "rep@", "action": "login.failed"}, headers=admin)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.content.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 4 and all("Failed login" in line for line in lines[1:])
    with unit_of_work() as session:
        exports = session.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.EXPORT.value)).all()
    assert [e.details["list"] for e in exports] == ["security_log"]


async def test_refusals_are_403_and_logged(api: httpx.AsyncClient) -> None:
    rep = await _token(api, _account(Role.MANAGER, "manager@example.org"))
    assert (await api.get("/api/teams", headers=rep)).status_code == 403
    assert (await api.get("/api/security-log", headers=rep)).status_code == 403
    with unit_of_work() as session:
        refused = session.exec(
            select(SecurityEvent).where(SecurityEvent.action == SecurityAction.ACTION_REFUSED.value)
        ).all()
    assert sorted(e.details["refused"] for e in refused) == ["security_log.view", "team.administer"]
    assert (await api.get("/api/teams")).status_code == 401


async def test_sessions_are_listed_and_others_signed_out(api: httpx.AsyncClient) -> None:
    email = _account(Role.USER, "rep@example.org")
    laptop = await _token(api, email, "Mozilla/5.0 (Windows NT 10.0) Gecko/20100101 Firefox/128.0")
    phone = await _token(api, email, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1")
    listed = await api.get("/api/auth/sessions", headers=laptop)
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert sessions[0]["is_current"] is True and sessions[0]["device"] == "Firefox · Windows"
    assert sessions[1]["device"] == "Safari · iPhone" and sessions[1]["kind"] == "api"

    ended = await api.delete("/api/auth/sessions", headers=laptop)
    assert ended.json() == {"ended": 1}
    assert (await api.get("/api/auth/me", headers=phone)).status_code == 401
    assert (await api.get("/api/auth/me", headers=laptop)).status_code == 200
    with unit_of_work() as session:
        live = session.exec(select(AuthSession).where(AuthSession.revoked_at == None)).all()  # noqa: E711
        logged = session.exec(
            select(SecurityEvent).where(SecurityEvent.action == SecurityAction.SESSIONS_ENDED.value)
        ).one()
    assert len(live) == 1 and logged.details["ended"] == 1
