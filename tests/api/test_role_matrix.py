"""Every role against every admin endpoint and page of teams and the security log, and the opportunities'
endpoints (their lost reasons are the admins'; another user's opportunity is seen within one's scope):
allowed or refused.

The expectations are written out here, not read from POLICY, so that a change of rights has to
change this table too."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing import User

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, actor_from
from crm_app.sales import opportunities
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_institution
from tests.ui.conftest import log_in

ADMINS = {Role.ADMIN, Role.SUPER_ADMIN}

# (method, path, json body): {roles allowed}
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, set[Role]]] = [
    ("GET", "/api/teams", None, ADMINS),
    ("POST", "/api/teams", {"name": "Nouvelle équipe"}, ADMINS),
    ("GET", "/api/teams/{team}", None, ADMINS),
    ("PATCH", "/api/teams/{team}", {"name": "Renommée"}, ADMINS),
    ("GET", "/api/teams/{team}/members", None, ADMINS),
    ("POST", "/api/teams/{team}/members", {"user_id": "{other}"}, ADMINS),
    ("PUT", "/api/teams/{team}/members/{other}/manager", {"is_manager": True}, ADMINS),
    ("DELETE", "/api/teams/{team}/members/{other}", None, ADMINS),
    ("GET", "/api/security-log", None, ADMINS),
    ("GET", "/api/security-log/export", None, ADMINS),
    ("GET", "/api/opportunities", None, set(Role)),
    ("GET", "/api/opportunities/board", None, set(Role)),
    ("POST", "/api/opportunities", {"name": "Scanner", "institution_id": "{institution}"}, set(Role)),
    # `other`'s opportunity, in a team the account under test is not in: only who sees all sees it.
    ("GET", "/api/opportunities/{opportunity}", None, ADMINS),
    ("POST", "/api/opportunities/{opportunity}/stage", {"stage": "proposal"}, ADMINS),
    ("GET", "/api/opportunity-lost-reasons", None, set(Role)),
    ("POST", "/api/opportunity-lost-reasons", {"label": "Délai"}, ADMINS),
    ("PATCH", "/api/opportunity-lost-reasons/{reason}", {"label": "Délais"}, ADMINS),
    ("POST", "/api/opportunity-lost-reasons/order", {"reason_ids": ["{reason}"]}, ADMINS),
    ("DELETE", "/api/opportunity-lost-reasons/{reason}", None, ADMINS),
    ("DELETE", "/api/opportunities/{opportunity}", None, ADMINS),
    ("GET", "/api/auth/sessions", None, set(Role)),
    ("DELETE", "/api/auth/sessions", None, set(Role)),
]

PAGES: list[tuple[str, str, set[Role]]] = [
    ("/admin/teams", "teams-table", ADMINS),
    ("/admin/teams/{team}", "team-title", ADMINS),
    ("/admin/security-log", "security-log-table", ADMINS),
    ("/profile", "sessions", set(Role)),
]


def _setup(role: Role) -> dict[str, str]:
    """The account under test, a team and another user (in the team, so that every call can succeed)."""
    with unit_of_work() as session:
        team = make_team(session, "Équipe test")
        me = make_user(session, role=role, email=f"{role.value}@example.org")
        other = make_user(session, role=Role.USER, email="other@example.org", team=team)
        institution = make_institution(session, name="CHU de test")
        opportunity = opportunities.create_opportunity(
            session, actor_from(other), {"name": "Échographes", "institution_id": institution.id}
        )
        reason = opportunities.create_lost_reason(session, SYSTEM_ACTOR, "Hors budget")
        return {
            "email": me.email,
            "team": str(team.id),
            "other": str(other.id),
            "institution": str(institution.id),
            "opportunity": str(opportunity.id),
            "reason": str(reason.id),
        }


def _fill(value: object, ids: dict[str, str]) -> object:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


@pytest.mark.parametrize("role", list(Role))
async def test_api_rights(api: httpx.AsyncClient, role: Role) -> None:
    ids = _setup(role)
    login = await api.post("/api/auth/login", json={"email": ids["email"], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    outcome = {}
    for method, path, body, allowed in ENDPOINTS:
        response = await api.request(method, str(_fill(path, ids)), json=_fill(body, ids), headers=headers)
        assert response.status_code != 401, (method, path)
        outcome[(method, path)] = response.status_code
        if role in allowed:
            assert response.status_code < 300, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"
    assert len(outcome) == len(ENDPOINTS)


@pytest.mark.parametrize("role", list(Role))
async def test_page_rights(user: User, role: Role) -> None:
    from tests.conftest import truncate_all

    try:
        ids = _setup(role)
        user.http_client.headers["Accept-Language"] = "en"
        await log_in(user, ids["email"])
        await user.should_see(marker="user-menu")
        for path, marker, allowed in PAGES:
            await user.open(str(_fill(path, ids)))
            if role in allowed:
                await user.should_see(marker=marker)
                await user.should_not_see("You are not allowed to open this page.")
            else:
                await user.should_see("You are not allowed to open this page.")
                await user.should_not_see(marker=marker)
        # Admin pages appear in the menu only for those who may open them.
        if role in ADMINS:
            await user.should_see("Security log")
        else:
            await user.should_not_see("Security log")
    finally:
        truncate_all()
