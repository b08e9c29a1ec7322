"""Malformed requests get the API's one error shape, in the caller's language (pydantic's own
messages are English only)."""

from __future__ import annotations

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user


async def _token(api: httpx.AsyncClient) -> str:
    with unit_of_work() as session:
        make_user(session, role=Role.USER, email="rita@example.org")
    response = await api.post("/api/auth/login", json={"email": "rita@example.org", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def test_a_malformed_request_is_answered_in_the_callers_language(api: httpx.AsyncClient) -> None:
    token = await _token(api)
    body = {"institution_id": "the clinic", "surprise": 1}
    french = await api.post(
        "/api/quotes", json=body, headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr-FR"}
    )
    assert french.status_code == 422
    error = french.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "Certains champs ne sont pas valides."
    assert error["fields"] == {
        "institution_id": "Cette valeur n'est pas valide.",
        "surprise": "Ce champ n'est pas accepté ici.",
    }
    english = await api.patch(
        "/api/quotes/00000000-0000-0000-0000-000000000001",
        json={},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert english.status_code == 422
    assert english.json()["error"] == {
        "code": "validation_failed",
        "message": "Some fields are not valid.",
        "fields": {"version": "This field is required."},
    }
