"""/api/notifications: list (all, unread), unread count, mark read, mark all read; each user sees theirs."""

from __future__ import annotations

import uuid

import httpx
import pytest

from crm_app.activities import tasks
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.activity_factories import Org, make_org
from tests.factories import PASSWORD


@pytest.fixture
def org() -> Org:
    with unit_of_work() as session:
        return make_org(session)


async def _auth(api: httpx.AsyncClient, email: str, language: str = "en") -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": language}


def _assign(org: Org, *titles: str) -> list[uuid.UUID]:
    with unit_of_work() as session:
        return [
            tasks.create_task(session, org.manager_a.actor, {"title": title, "assignee_id": org.rep_a.id}).id
            for title in titles
        ]


async def test_notifications_need_a_token(api: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/notifications"),
        ("GET", "/api/notifications/unread-count"),
        ("POST", "/api/notifications/read-all"),
        ("POST", f"/api/notifications/{uuid.uuid4()}/read"),
    ):
        assert (await api.request(method, path)).status_code == 401


async def test_the_bell_counts_lists_and_marks_read(api: httpx.AsyncClient, org: Org) -> None:
    first, second, third = _assign(org, "Appeler le DAF", "Envoyer le devis", "Préparer la démo")
    headers = await _auth(api, org.rep_a.user.email)
    assert (await api.get("/api/notifications/unread-count", headers=headers)).json() == {"count": 3}
    page = (await api.get("/api/notifications", params={"page_size": 2}, headers=headers)).json()
    assert set(page) == {"items", "total", "page", "page_size"} and page["total"] == 3
    newest = page["items"][0]
    assert newest["kind"] == "task.assigned" and newest["read_at"] is None
    assert newest["link"] in {f"/tasks/{t}" for t in (first, second, third)}
    assert newest["title"].startswith("Marc Manager assigned you the task “")
    read = await api.post(f"/api/notifications/{newest['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = (await api.get("/api/notifications", params={"unread": "1"}, headers=headers)).json()
    assert unread["total"] == 2 and newest["id"] not in {n["id"] for n in unread["items"]}
    assert (await api.post("/api/notifications/read-all", headers=headers)).json() == {"count": 2}
    assert (await api.get("/api/notifications/unread-count", headers=headers)).json() == {"count": 0}
    assert (await api.get("/api/notifications", headers=headers)).json()["total"] == 3


async def test_titles_are_rendered_from_the_kind_and_params(api: httpx.AsyncClient, org: Org) -> None:
    _assign(org, "Relance")
    english = (await api.get("/api/notifications", headers=await _auth(api, org.rep_a.user.email))).json()
    assert english["items"][0]["title"] == "Marc Manager assigned you the task “Relance”"
    assert english["items"][0]["params"] == {"actor": "Marc Manager", "title": "Relance"}


async def test_nobody_marks_someone_elses_notification(api: httpx.AsyncClient, org: Org) -> None:
    _assign(org, "Relance")
    owner = await _auth(api, org.rep_a.user.email)
    [mine] = (await api.get("/api/notifications", headers=owner)).json()["items"]
    intruder = await _auth(api, org.rep_b.user.email)
    refused = await api.post(f"/api/notifications/{mine['id']}/read", headers=intruder)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert (await api.get("/api/notifications", headers=intruder)).json()["total"] == 0
    assert (await api.post("/api/notifications/read-all", headers=intruder)).json() == {"count": 0}
    assert (await api.get("/api/notifications/unread-count", headers=owner)).json() == {"count": 1}
    assert (await api.get("/api/notifications", params={"page_size": 101}, headers=owner)).status_code == 422


async def test_a_user_who_was_offline_finds_them_at_next_login(api: httpx.AsyncClient, org: Org) -> None:
    with unit_of_work() as session:
        admin = make_org(session).admin  # another organisation's admin assigns across teams
        assert admin.actor.role is Role.ADMIN
        tasks.create_task(session, admin.actor, {"title": "Pendant votre absence", "assignee_id": org.rep_b.id})
    headers = await _auth(api, org.rep_b.user.email)
    body = (await api.get("/api/notifications", params={"unread": "1"}, headers=headers)).json()
    assert [n["params"]["title"] for n in body["items"]] == ["Pendant votre absence"]
