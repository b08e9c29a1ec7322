"""/api/institutions/{id}/health, and the list's health filter and sort, against the whole app."""

from __future__ import annotations

import uuid

import httpx

from crm_app.activities import calls
from crm_app.analytics import health
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_institution


async def _headers(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


async def test_an_institution_health_explains_its_score(api: httpx.AsyncClient) -> None:
    with unit_of_work() as session:
        rep = make_user(session, role=Role.USER, email="rep@example.org", name="Rita Rep")
        lively = make_institution(session, name="Lively")
        quiet = make_institution(session, name="Quiet")
        calls.log_call(session, actor_of(rep), {"direction": "out", "institution_id": lively.id})
        lively_id, quiet_id = lively.id, quiet.id
    with unit_of_work() as session:
        health.recompute(session)
    headers = await _headers(api, "rep@example.org")
    response = await api.get(f"/api/institutions/{lively_id}/health", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["score"], body["stored_score"], body["health"]) == (59, 59, "fair")
    components = {c["component"]: (c["value"], c["points"], c["max_points"]) for c in body["components"]}
    assert components == {
        "recency": ("0", 30, 30),
        "activities": ("1", 4, 20),
        "revenue": ("0.00", 0, 25),
        "overdue_invoices": ("0", 15, 15),
        "overdue_tasks": ("0", 10, 10),
    }
    missing = await api.get(f"/api/institutions/{uuid.uuid4()}/health", headers=headers)
    assert missing.status_code == 404
    listed = await api.get("/api/institutions", params={"health_max": "39", "sort": "health_score"}, headers=headers)
    assert [row["name"] for row in listed.json()["items"]] == ["Quiet"]
    assert listed.json()["items"][0]["health_score"] == 25
    ordered = await api.get("/api/institutions", params={"sort": "-health_score"}, headers=headers)
    assert [row["id"] for row in ordered.json()["items"]] == [str(lively_id), str(quiet_id)]


async def test_the_health_needs_a_signed_in_user(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/institutions/{uuid.uuid4()}/health")
    assert response.status_code == 401


async def test_bulk_tasks_over_the_api(api: httpx.AsyncClient) -> None:
    with unit_of_work() as session:
        manager = make_user(session, role=Role.ADMIN, email="boss@example.org", name="Boss")
        rep = make_user(session, role=Role.USER, email="rep2@example.org", name="Rep")
        owned = make_institution(session, name="Clinique A", assigned_user_id=rep.id)
        make_institution(session, name="Clinique B")
        make_institution(session, name="Hôpital C")
        owned_id, rep_id, manager_id = owned.id, rep.id, manager.id
    headers = await _headers(api, "boss@example.org")
    response = await api.post(
        "/api/institutions/bulk/tasks",
        json={"filter": {"q": "clinique"}, "title": "Relance", "user_id": str(manager_id)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "kind": "task",
        "created": 2,
        "to_owners": 1,
        "to_chosen": 1,
        "left_out": 0,
        "left_out_names": [],
    }
    mine = await api.get("/api/tasks", params={"institution_id": str(owned_id)}, headers=headers)
    assert [(t["title"], t["assignee_id"]) for t in mine.json()["items"]] == [("Relance", str(rep_id))]
    both = await api.post(
        "/api/institutions/bulk/meetings",
        json={
            "institution_ids": [str(owned_id)],
            "filter": {"q": "x"},
            "title": "Salon",
            "starts_at": "2030-01-01T10:00:00+01:00",
            "ends_at": "2030-01-01T11:00:00+01:00",
        },
        headers=headers,
    )
    assert both.status_code == 422
    assert set(both.json()["error"]["fields"]) == {"institution_ids"}
