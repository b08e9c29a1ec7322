"""Every role against every endpoint of /api/users and the /admin/users page: allowed or refused,
with the status code each role gets, team admins limited to their own team.

The expectations are written out here, not read from POLICY, so that a change of rights has to
change this table too. Every call has its own target account, so that the calls do not depend on
each other's order."""

from __future__ import annotations

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User as SimulatedUser

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role, Team, User
from tests.factories import PASSWORD, make_team, make_user
from tests.ui.conftest import log_in

U, M, T, A, S = Role.USER, Role.MANAGER, Role.TEAM_ADMIN, Role.ADMIN, Role.SUPER_ADMIN


def codes(user: int, manager: int, team_admin: int, admin: int, super_admin: int) -> dict[Role, int]:
    return {U: user, M: manager, T: team_admin, A: admin, S: super_admin}


# Accounts made for every run; "mine" are in the team of the account under test, "theirs" in another team.
TARGETS: dict[str, tuple[str, str]] = {  # key: (team, status)
    "mine_view": ("mine", "active"),
    "mine_patch": ("mine", "active"),
    "mine_promote": ("mine", "active"),
    "mine_move": ("mine", "active"),
    "mine_deactivate": ("mine", "active"),
    "mine_reset": ("mine", "active"),
    "mine_reactivate": ("mine", "deactivated"),
    "mine_resend": ("mine", "invited"),
    "mine_revoke": ("mine", "invited"),
    "mine_admin": ("mine", "admin"),
    "theirs_view": ("theirs", "active"),
    "theirs_patch": ("theirs", "active"),
    "theirs_deactivate": ("theirs", "active"),
    "theirs_reset": ("theirs", "active"),
    "theirs_reactivate": ("theirs", "deactivated"),
    "theirs_resend": ("theirs", "invited"),
    "theirs_revoke": ("theirs", "invited"),
    "none_patch": ("none", "active"),
}

# (method, path, json body, status code for each role)
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, dict[Role, int]]] = [
    ("GET", "/api/users", None, codes(403, 200, 200, 200, 200)),
    # Seeing one account: managers and team admins see their team; another team's account does not exist for them.
    ("GET", "/api/users/{mine_view}", None, codes(403, 200, 200, 200, 200)),
    ("GET", "/api/users/{theirs_view}", None, codes(403, 404, 404, 200, 200)),
    # Inviting: team admins into their own team only, never above their rights.
    (
        "POST",
        "/api/users",
        {"email": "new.mine@example.org", "full_name": "Nouvelle Recrue", "role": "user", "team_id": "{mine}"},
        codes(403, 403, 201, 201, 201),
    ),
    (
        "POST",
        "/api/users",
        {"email": "new.manager@example.org", "full_name": "Nouveau Manager", "role": "manager", "team_id": "{mine}"},
        codes(403, 403, 201, 201, 201),
    ),
    (
        "POST",
        "/api/users",
        {"email": "new.admin@example.org", "full_name": "Nouvel Admin", "role": "admin", "team_id": "{mine}"},
        codes(403, 403, 403, 201, 201),
    ),
    (
        "POST",
        "/api/users",
        {"email": "new.theirs@example.org", "full_name": "Autre Recrue", "role": "user", "team_id": "{theirs}"},
        codes(403, 403, 403, 201, 201),
    ),
    (
        "POST",
        "/api/users",
        {"email": "new.none@example.org", "full_name": "Sans Équipe", "role": "user", "team_id": None},
        codes(403, 403, 403, 201, 201),
    ),
    # Role and team.
    ("PATCH", "/api/users/{mine_patch}", {"role": "manager"}, codes(403, 403, 200, 200, 200)),
    ("PATCH", "/api/users/{mine_promote}", {"role": "admin"}, codes(403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{mine_move}", {"team_id": "{theirs}"}, codes(403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{mine_admin}", {"role": "user"}, codes(403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{theirs_patch}", {"role": "manager"}, codes(403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{none_patch}", {"role": "manager"}, codes(403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{me}", {"role": "user"}, codes(403, 403, 403, 403, 403)),
    # Deactivate and reactivate.
    ("POST", "/api/users/{mine_deactivate}/deactivate", None, codes(403, 403, 200, 200, 200)),
    ("POST", "/api/users/{theirs_deactivate}/deactivate", None, codes(403, 403, 403, 200, 200)),
    ("POST", "/api/users/{me}/deactivate", None, codes(403, 403, 403, 403, 403)),
    ("POST", "/api/users/{mine_reactivate}/reactivate", None, codes(403, 403, 200, 200, 200)),
    ("POST", "/api/users/{theirs_reactivate}/reactivate", None, codes(403, 403, 403, 200, 200)),
    # Links.
    ("POST", "/api/users/{mine_resend}/resend-invitation", None, codes(403, 403, 200, 200, 200)),
    ("POST", "/api/users/{theirs_resend}/resend-invitation", None, codes(403, 403, 403, 200, 200)),
    ("DELETE", "/api/users/{mine_revoke}/invitation", None, codes(403, 403, 204, 204, 204)),
    ("DELETE", "/api/users/{theirs_revoke}/invitation", None, codes(403, 403, 403, 204, 204)),
    ("POST", "/api/users/{mine_reset}/send-reset-link", None, codes(403, 403, 204, 204, 204)),
    ("POST", "/api/users/{theirs_reset}/send-reset-link", None, codes(403, 403, 403, 204, 204)),
]

# The page: who may open it, and whose accounts it lists.
PAGE_ALLOWED = {T, A, S}
PAGE_SEES_OTHER_TEAMS = {A, S}


def _setup(role: Role) -> dict[str, str]:
    """The account under test (in team "mine"), another team and the target accounts."""
    with unit_of_work() as session:
        mine, theirs = make_team(session, "Mon équipe"), make_team(session, "Autre équipe")
        teams: dict[str, Team | None] = {"mine": mine, "theirs": theirs, "none": None}
        me = make_user(session, role=role, email=f"{role.value}@example.org", team=mine, name="Moi")
        ids = {"me": str(me.id), "email": me.email, "mine": str(mine.id), "theirs": str(theirs.id)}
        for key, (team, status) in TARGETS.items():
            target: User = make_user(
                session,
                role=Role.ADMIN if status == "admin" else Role.USER,
                team=teams[team],
                email=f"{key.replace('_', '.')}@example.org",
                name=key.replace("_", " ").title(),
            )
            if status == "deactivated":
                target.is_active = False
            elif status == "invited":
                target.is_active = False
                target.password_hash = None
            session.add(target)
            ids[key] = str(target.id)
        session.flush()
        return ids


def _fill(value: object, ids: dict[str, str]) -> object:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def test_the_table_covers_every_role() -> None:
    assert all(set(expected) == set(Role) for *_, expected in ENDPOINTS)


@pytest.mark.parametrize("role", list(Role))
async def test_api_rights(api: httpx.AsyncClient, role: Role) -> None:
    ids = _setup(role)
    login = await api.post("/api/auth/login", json={"email": ids["email"], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    wrong = []
    for method, path, body, expected in ENDPOINTS:
        response = await api.request(method, str(_fill(path, ids)), json=_fill(body, ids), headers=headers)
        if response.status_code != expected[role]:
            wrong.append(
                (method, path, body, f"expected {expected[role]}, got {response.status_code}", response.text[:200])
            )
        elif response.status_code == 403:
            assert response.json()["error"]["code"] == "forbidden", (method, path)
    assert not wrong, "\n".join(map(str, wrong))


@pytest.mark.parametrize("role", list(Role))
async def test_page_rights(user: SimulatedUser, role: Role) -> None:
    from tests.conftest import truncate_all

    try:
        _setup(role)
        user.http_client.headers["Accept-Language"] = "en"
        await log_in(user, f"{role.value}@example.org")
        await user.should_see(marker="user-menu")
        await user.open("/admin/users")
        if role in PAGE_ALLOWED:
            await user.should_see(marker="users-table")
            await user.should_not_see("You are not allowed to open this page.")
            table = user.find(kind=ui.table, marker="users-table").elements.pop()
            listed = {row["email"] for row in table.rows}
            assert "mine.view@example.org" in listed
            assert ("theirs.view@example.org" in listed) is (role in PAGE_SEES_OTHER_TEAMS), listed
        else:
            await user.should_see("You are not allowed to open this page.")
            await user.should_not_see(marker="users-table")
    finally:
        truncate_all()
