"""/api/tasks, /api/notes, /api/meetings, /api/calls, /api/comments and the timeline against the whole
app (requests commit; tables emptied after each test)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_contact, make_institution

UNKNOWN = uuid.UUID(int=1)


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    name: str


@dataclass(frozen=True)
class Org:
    rep_a: Person
    rep_a2: Person
    manager_a: Person
    rep_b: Person


@pytest.fixture
def org() -> Org:
    """Committed accounts: two reps and a manager of team A, a rep of team B."""
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Aquitaine"), make_team(session, "Bretagne")
        people = [
            make_user(session, role=role, team=team, email=email, name=name)
            for role, team, email, name in (
                (Role.USER, team_a, "anne@example.org", "Anne Aquitaine"),
                (Role.USER, team_a, "alain@example.org", "Alain Aquitaine"),
                (Role.MANAGER, team_a, "marc@example.org", "Marc Manager"),
                (Role.USER, team_b, "bruno@example.org", "Bruno Bretagne"),
            )
        ]
        return Org(*(Person(p.id, p.email, p.full_name) for p in people))


async def _auth(api: httpx.AsyncClient, person: Person) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


async def _created(api: httpx.AsyncClient, path: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _institution_with_contact() -> tuple[uuid.UUID, uuid.UUID]:
    with unit_of_work() as session:
        institution = make_institution(session, name="CHU de Rennes")
        contact = make_contact(session, institution, first_name="Jeanne", last_name="Dupont", email="jd@chu.fr")
        return institution.id, contact.id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/tasks/{UNKNOWN}"),
        ("PATCH", f"/api/tasks/{UNKNOWN}"),
        ("DELETE", f"/api/tasks/{UNKNOWN}"),
        ("GET", "/api/notes"),
        ("POST", "/api/notes"),
        ("PATCH", f"/api/notes/{UNKNOWN}"),
        ("GET", "/api/meetings"),
        ("POST", "/api/meetings"),
        ("GET", f"/api/meetings/{UNKNOWN}/ics"),
        ("POST", f"/api/meetings/{UNKNOWN}/response"),
        ("GET", "/api/calls"),
        ("POST", "/api/calls"),
        ("GET", f"/api/comments?target_kind=task&target_id={UNKNOWN}"),
        ("POST", "/api/comments"),
        ("GET", f"/api/institutions/{UNKNOWN}/timeline"),
    ],
)
async def test_every_endpoint_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --------------------------------------------------------------------------------------------
# Tasks


async def test_task_lifecycle(api: httpx.AsyncClient, org: Org) -> None:
    institution_id, contact_id = _institution_with_contact()
    manager, rep = await _auth(api, org.manager_a), await _auth(api, org.rep_a)
    task = await _created(
        api,
        "/api/tasks",
        manager,
        title="Relancer le devis",
        assignee_id=str(org.rep_a.id),
        due_at="2026-03-05T17:00:00+01:00",
        priority="high",
        contact_id=str(contact_id),
    )
    assert (task["assignee_name"], task["institution_id"], task["contact_name"]) == (
        "Anne Aquitaine",
        str(institution_id),
        "Jeanne Dupont",
    )
    assert task["due_at"] == "2026-03-05T16:00:00Z" and task["status"] == "todo" and task["version"] == 1
    listed = await api.get("/api/tasks", params={"mine": "1", "status": "todo,in_progress"}, headers=rep)
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == {"items", "total", "page", "page_size"} and body["total"] == 1
    assert body["items"][0]["id"] == task["id"] and body["items"][0]["is_overdue"] is True
    assert "can_edit" not in body["items"][0] and "team_id" not in body["items"][0]
    moved = await api.patch(f"/api/tasks/{task['id']}", headers=rep, json={"status": "done", "version": 1})
    assert moved.status_code == 200 and moved.json()["completed_at"] is not None
    assert (await api.delete(f"/api/tasks/{task['id']}", headers=manager)).status_code == 204
    assert (await api.get(f"/api/tasks/{task['id']}", headers=manager)).status_code == 404


async def test_task_errors_have_one_shape(api: httpx.AsyncClient, org: Org) -> None:
    rep, other = await _auth(api, org.rep_a), await _auth(api, org.rep_b)
    invalid = await api.post("/api/tasks", headers=rep, json={"title": "", "due_at": "tomorrow"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"] == {"title": "This field is required.", "due_at": "Enter a date and time."}
    assert (await api.post("/api/tasks", headers=rep, json={"title": "x", "colour": "red"})).status_code == 422
    forbidden = await api.post("/api/tasks", headers=rep, json={"title": "x", "assignee_id": str(org.rep_a2.id)})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    task = await _created(api, "/api/tasks", rep, title="Mine", status="cancelled")
    assert (await api.get(f"/api/tasks/{task['id']}", headers=other)).status_code == 403
    assert (await api.get(f"/api/tasks/{UNKNOWN}", headers=rep)).status_code == 404
    transition = await api.patch(f"/api/tasks/{task['id']}", headers=rep, json={"status": "done", "version": 1})
    assert transition.status_code == 409
    assert transition.json()["error"]["code"] == "invalid_transition"
    assert transition.json()["error"]["current_status"] == "cancelled"
    await api.patch(f"/api/tasks/{task['id']}", headers=rep, json={"title": "Renamed", "version": 1})
    stale = await api.patch(f"/api/tasks/{task['id']}", headers=rep, json={"title": "Again", "version": 1})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "conflict" and stale.json()["error"]["changed_by"] == "Anne Aquitaine"
    assert (await api.get("/api/tasks", params={"page_size": 101}, headers=rep)).status_code == 422


# --------------------------------------------------------------------------------------------
# Notes


async def test_notes_private_shared_and_shared_with_someone(api: httpx.AsyncClient, org: Org) -> None:
    rep, other, colleague = await _auth(api, org.rep_a), await _auth(api, org.rep_b), await _auth(api, org.rep_a2)
    note = await _created(
        api,
        "/api/notes",
        rep,
        body="Budget 2026\nà confirmer",
        shares=[{"user_id": str(org.rep_b.id), "can_write": True}],
    )
    assert note["visibility"] == "private" and note["shares"][0]["full_name"] == "Bruno Bretagne"
    assert (await api.get(f"/api/notes/{note['id']}", headers=colleague)).status_code == 403
    edited = await api.patch(f"/api/notes/{note['id']}", headers=other, json={"body": "Confirmé", "version": 1})
    assert edited.status_code == 200 and edited.json()["body"] == "Confirmé"
    refused = await api.patch(f"/api/notes/{note['id']}", headers=other, json={"visibility": "shared", "version": 2})
    assert refused.status_code == 403
    shared = (await api.get("/api/notes", params={"scope": "shared_with_me"}, headers=other)).json()
    assert [n["id"] for n in shared["items"]] == [note["id"]]
    assert (await api.get("/api/notes", params={"scope": "everything"}, headers=rep)).status_code == 422
    assert (await api.delete(f"/api/notes/{note['id']}", headers=rep)).status_code == 204


# --------------------------------------------------------------------------------------------
# Meetings


async def test_meeting_invitation_answer_and_ics(api: httpx.AsyncClient, org: Org) -> None:
    institution_id, contact_id = _institution_with_contact()
    rep, colleague, other = await _auth(api, org.rep_a), await _auth(api, org.rep_a2), await _auth(api, org.rep_b)
    start = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    meeting = await _created(
        api,
        "/api/meetings",
        rep,
        title="Démo",
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
        institution_id=str(institution_id),
        participant_user_ids=[str(org.rep_a2.id)],
        participant_contact_ids=[str(contact_id)],
    )
    assert [p["name"] for p in meeting["participants"]] == ["Alain Aquitaine", "Jeanne Dupont"]
    answered = await api.post(
        f"/api/meetings/{meeting['id']}/response", headers=colleague, json={"response": "accepted"}
    )
    assert answered.status_code == 200 and answered.json()["my_response"] == "accepted"
    assert (
        await api.post(f"/api/meetings/{meeting['id']}/response", headers=other, json={"response": "accepted"})
    ).status_code == 403
    assert (
        await api.post(f"/api/meetings/{meeting['id']}/response", headers=colleague, json={"response": "maybe"})
    ).status_code == 422
    ics = await api.get(f"/api/meetings/{meeting['id']}/ics", headers=colleague)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert f"UID:{meeting['id']}@opex-crm\r\n" in ics.text and "DTSTART:20260401T090000Z\r\n" in ics.text
    assert "PARTSTAT=ACCEPTED" in ics.text.replace("\r\n ", "")
    window = await api.get(
        "/api/meetings", params={"from": "2026-03-30", "to": "2026-04-06", "mine": "1"}, headers=colleague
    )
    assert [m["id"] for m in window.json()["items"]] == [meeting["id"]]
    assert (await api.get("/api/meetings", params={"from": "someday"}, headers=rep)).status_code == 422
    cancelled = await api.patch(
        f"/api/meetings/{meeting['id']}", headers=rep, json={"status": "cancelled", "version": 1}
    )
    assert cancelled.status_code == 200
    late = await api.post(f"/api/meetings/{meeting['id']}/response", headers=colleague, json={"response": "declined"})
    assert late.status_code == 409 and late.json()["error"]["current_status"] == "cancelled"


# --------------------------------------------------------------------------------------------
# Calls, comments, timeline


async def test_calls_are_logged_and_filtered(api: httpx.AsyncClient, org: Org) -> None:
    _institution_id, contact_id = _institution_with_contact()
    rep = await _auth(api, org.rep_a)
    missed = await _created(api, "/api/calls", rep, direction="missed", contact_id=str(contact_id))
    await _created(
        api,
        "/api/calls",
        rep,
        direction="out",
        duration_seconds=300,
        summary="Devis envoyé",
        called_at=(utcnow() - timedelta(days=2)).isoformat(),
    )
    assert missed["contact_name"] == "Jeanne Dupont" and missed["user_name"] == "Anne Aquitaine"
    listed = (await api.get("/api/calls", params={"direction": "missed"}, headers=rep)).json()
    assert [c["id"] for c in listed["items"]] == [missed["id"]]
    assert (await api.get("/api/calls", params={"from": "yesterday"}, headers=rep)).status_code == 422
    invalid = await api.post("/api/calls", headers=rep, json={"direction": "sideways"})
    assert invalid.status_code == 422 and invalid.json()["error"]["fields"] == {"direction": "Unknown value."}


async def test_comments_with_mentions(api: httpx.AsyncClient, org: Org) -> None:
    manager, rep = await _auth(api, org.manager_a), await _auth(api, org.rep_a)
    task = await _created(api, "/api/tasks", manager, title="Offre", assignee_id=str(org.rep_a.id))
    candidates = (await api.get("/api/comments/mention-candidates", params={"prefix": "mar"}, headers=rep)).json()
    assert [c["handle"] for c in candidates] == ["marc"]
    comment = await _created(
        api, "/api/comments", rep, target_kind="task", target_id=task["id"], body="@marc c'est envoyé"
    )
    assert comment["mentions"] == [{"id": str(org.manager_a.id), "full_name": "Marc Manager", "handle": "marc"}]
    bell = (await api.get("/api/notifications", params={"unread": "1"}, headers=manager)).json()
    assert [n["kind"] for n in bell["items"]] == ["comment.mentioned"]
    listed = (
        await api.get("/api/comments", params={"target_kind": "task", "target_id": task["id"]}, headers=manager)
    ).json()
    assert listed["total"] == 1 and listed["items"][0]["body"] == "@marc c'est envoyé"
    assert (
        await api.patch(f"/api/comments/{comment['id']}", headers=manager, json={"body": "x", "version": 1})
    ).status_code == 403
    assert (
        await api.patch(f"/api/comments/{comment['id']}", headers=rep, json={"body": "Envoyé hier", "version": 1})
    ).json()["version"] == 2
    assert (
        await api.post(
            "/api/comments",
            headers=await _auth(api, org.rep_b),
            json={"target_kind": "task", "target_id": task["id"], "body": "?"},
        )
    ).status_code == 403
    assert (await api.delete(f"/api/comments/{comment['id']}", headers=rep)).status_code == 204


async def test_institution_timeline(api: httpx.AsyncClient, org: Org) -> None:
    institution_id, _contact_id = _institution_with_contact()
    rep = await _auth(api, org.rep_a)
    await _created(api, "/api/tasks", rep, title="Visite", institution_id=str(institution_id))
    await _created(api, "/api/calls", rep, direction="in", institution_id=str(institution_id))
    body = (await api.get(f"/api/institutions/{institution_id}/timeline", headers=rep)).json()
    assert body["total"] == 4 and [e["kind"] for e in body["items"]][:2] == ["call", "task"]
    only = (
        await api.get(
            f"/api/institutions/{institution_id}/timeline", params={"kind": "task,call", "page_size": 1}, headers=rep
        )
    ).json()
    assert only["total"] == 2 and len(only["items"]) == 1
    assert (await api.get(f"/api/institutions/{UNKNOWN}/timeline", headers=rep)).status_code == 404
