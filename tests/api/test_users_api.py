"""/api/users and the self-service routes /api/auth/forgot-password, /reset-password, /accept-invitation."""

from __future__ import annotations

import httpx
from sqlmodel import select

from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.people import Role
from tests.account_links import text_of, token_of
from tests.factories import PASSWORD, make_team, make_user
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

NEW_PASSWORD = "violet-tractor-sunrise"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token(api: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return _bearer(response.json()["access_token"])


def _admin(role: Role = Role.ADMIN, email: str = "admin@example.org", team_name: str | None = None) -> str:
    with unit_of_work() as session:
        team = make_team(session, team_name) if team_name else None
        return make_user(session, role=role, email=email, team=team, name="Alice Admin").email


async def test_invitation_through_the_api_end_to_end(api: httpx.AsyncClient, smtp_server: SMTPServer) -> None:
    headers = await _token(api, _admin())
    invited = await api.post(
        "/api/users", headers=headers, json={"email": "nina@example.org", "full_name": "Nina Neu", "role": "manager"}
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "invited" and invited.json()["role"] == "manager"
    assert smtp.send_pending()["sent"] == 1
    token = token_of(text_of(smtp_server.messages[0]))
    weak = await api.post("/api/auth/accept-invitation", json={"token": token, "password": "azertyuiop"})
    assert weak.status_code == 422
    assert weak.json()["error"]["fields"] == {"password": "Must not be a commonly used password."}
    accepted = await api.post("/api/auth/accept-invitation", json={"token": token, "password": NEW_PASSWORD})
    assert accepted.status_code == 204
    again = await api.post("/api/auth/accept-invitation", json={"token": token, "password": NEW_PASSWORD})
    assert again.status_code == 422 and "token" in again.json()["error"]["fields"]
    await _token(api, "nina@example.org", NEW_PASSWORD)
    listed = await api.get("/api/users", headers=headers, params={"status": "active", "q": "nina"})
    assert [(u["email"], u["status"]) for u in listed.json()["items"]] == [("nina@example.org", "active")]
    assert "can_administer" not in listed.json()["items"][0]


async def test_forgot_password_answers_the_same_for_unknown_addresses(
    api: httpx.AsyncClient, account: dict[str, str], smtp_server: SMTPServer
) -> None:
    known = await api.post("/api/auth/forgot-password", json={"email": account["email"]})
    unknown = await api.post("/api/auth/forgot-password", json={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert smtp.send_pending()["sent"] == 1
    [message] = smtp_server.messages
    assert message["To"].addresses[0].addr_spec == account["email"]
    headers = await _token(api, account["email"])
    token = token_of(text_of(message))
    reset = await api.post("/api/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})
    assert reset.status_code == 204
    assert (await api.get("/api/auth/me", headers=headers)).status_code == 401  # tokens ended with the reset
    reused = await api.post("/api/auth/reset-password", json={"token": token, "password": "another-long-phrase"})
    assert reused.status_code == 422
    await _token(api, account["email"], NEW_PASSWORD)


async def test_deactivation_ends_the_users_api_tokens(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    admin_headers = await _token(api, _admin())
    rep_headers = await _token(api, account["email"])
    assert (await api.get("/api/auth/me", headers=rep_headers)).status_code == 200
    rep_id = (await api.get("/api/users", headers=admin_headers, params={"q": "rep@"})).json()["items"][0]["id"]
    deactivated = await api.post(f"/api/users/{rep_id}/deactivate", headers=admin_headers)
    assert deactivated.status_code == 200 and deactivated.json()["status"] == "deactivated"
    assert (await api.get("/api/auth/me", headers=rep_headers)).status_code == 401
    login = await api.post("/api/auth/login", json=account)
    assert login.status_code == 401
    again = await api.post(f"/api/users/{rep_id}/reactivate", headers=admin_headers)
    assert again.json()["status"] == "active"
    await _token(api, account["email"])


async def test_team_admin_is_limited_to_their_team_and_to_manager(api: httpx.AsyncClient) -> None:
    headers = await _token(api, _admin(Role.TEAM_ADMIN, "ta@example.org", team_name="North"))
    with unit_of_work() as session:
        outsider = make_user(session, email="out@example.org", team=make_team(session, "South"))
    me = (await api.get("/api/auth/me", headers=headers)).json()
    too_high = await api.post(
        "/api/users",
        headers=headers,
        json={"email": "b@example.org", "full_name": "B", "role": "admin", "team_id": me["team_id"]},
    )
    assert too_high.status_code == 403
    no_team = await api.post("/api/users", headers=headers, json={"email": "c@example.org", "full_name": "C"})
    assert no_team.status_code == 403
    ok = await api.post(
        "/api/users",
        headers=headers,
        json={"email": "d@example.org", "full_name": "Dora", "role": "manager", "team_id": me["team_id"]},
    )
    assert ok.status_code == 201, ok.text
    assert (await api.post(f"/api/users/{outsider.id}/deactivate", headers=headers)).status_code == 403
    promote = await api.patch(f"/api/users/{ok.json()['id']}", headers=headers, json={"role": "team_admin"})
    assert promote.status_code == 403
    listed = await api.get("/api/users", headers=headers)
    assert {u["email"] for u in listed.json()["items"]} == {"ta@example.org", "d@example.org"}
    with unit_of_work() as session:
        refused = session.exec(select(SecurityEvent).where(SecurityEvent.action == "action.refused")).all()
        assert len(refused) == 4


async def test_patch_changes_role_and_clears_the_team(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    headers = await _token(api, _admin())
    with unit_of_work() as session:
        team_id = str(make_team(session, "East").id)
    rep_id = (await api.get("/api/users", headers=headers, params={"q": "rep@"})).json()["items"][0]["id"]
    moved = await api.patch(f"/api/users/{rep_id}", headers=headers, json={"role": "manager", "team_id": team_id})
    assert (moved.json()["role"], moved.json()["team_name"]) == ("manager", "East")
    cleared = await api.patch(f"/api/users/{rep_id}", headers=headers, json={"team_id": None})
    assert (cleared.json()["role"], cleared.json()["team_id"]) == ("manager", None)


async def test_a_sales_rep_cannot_list_or_invite(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    headers = await _token(api, account["email"])
    assert (await api.get("/api/users", headers=headers)).status_code == 403
    invite = await api.post("/api/users", headers=headers, json={"email": "x@example.org", "full_name": "X"})
    assert invite.status_code == 403
