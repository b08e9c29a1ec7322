"""Malformed requests get the API's one error shape, in the caller's language (pydantic's own
messages are English only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

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


# --------------------------------------------------------------------------------------------
# Hostile input is refused at the edge with a 422 naming its field, never a 500 (issue 17)


async def _admin(api: httpx.AsyncClient) -> dict[str, str]:
    with unit_of_work() as session:
        make_user(session, role=Role.ADMIN, email="ada@example.org")
    response = await api.post("/api/auth/login", json={"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _refused(response: httpx.Response, field: str) -> str:
    """The message of `field` in a 422 of the API's error shape."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["message"] == "Some fields are not valid."
    assert field in error["fields"], error
    return str(error["fields"][field])


async def test_a_nul_byte_in_the_login_email_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/auth/login", json={"email": "ada\u0000@example.org", "password": "x"})
    assert "cannot be stored" in _refused(response, "email")
    forgot = await api.post("/api/auth/forgot-password", json={"email": "\u0000"})
    _refused(forgot, "email")


async def test_a_nul_byte_in_a_query_or_nested_field_is_refused_naming_it(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    _refused(await api.get("/api/institutions", params={"q": "a\u0000b"}, headers=headers), "q")
    response = await api.post(
        "/api/quotes", json={"title": "ok", "lines": [{"description": "bad\u0000"}]}, headers=headers
    )
    _refused(response, "lines.0.description")


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "application/vnd.api+json; charset=utf-8", "APPLICATION/JSON"]
)
async def test_the_check_reads_the_body_whatever_the_case_of_its_type(
    api: httpx.AsyncClient, content_type: str
) -> None:
    """FastAPI reads `Application/JSON` as JSON: the check skipped it, and the NUL reached PostgreSQL."""
    headers = await _admin(api)
    body = b'{"name": "Clinique \\u0000 du Parc", "city": "Lyon"}'
    response = await api.post("/api/institutions", content=body, headers={**headers, "Content-Type": content_type})
    _refused(response, "name")


async def test_a_body_sent_in_chunks_is_checked_too(api: httpx.AsyncClient) -> None:
    """The check skips requests that announce no body (a GET); a body without Content-Length, sent in
    chunks, announces itself with Transfer-Encoding and is read."""
    headers = await _admin(api)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Clinique \\u0000'
        yield b' du Parc", "city": "Lyon"}'

    request = api.build_request("POST", "/api/institutions", content=chunks(), headers=headers)
    assert request.headers["transfer-encoding"] == "chunked" and "content-length" not in request.headers
    _refused(await api.send(request), "name")


async def test_a_lone_surrogate_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    body = b'{"name": "Clinique \\ud800 du Parc"}'
    response = await api.post(
        "/api/institutions", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    _refused(response, "name")
    # A surrogate pair is a valid character (an emoji), not refused.
    pair = b'{"name": "Clinique \\ud83d\\ude00", "city": "Lyon"}'
    created = await api.post("/api/institutions", content=pair, headers={**headers, "Content-Type": "application/json"})
    assert created.status_code == 201, created.text


async def test_a_page_beyond_any_list_is_refused_naming_page(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    for path in ("/api/institutions", "/api/quotes", "/api/tasks", "/api/users", "/api/security-log"):
        assert _refused(await api.get(path, params={"page": 100000000}, headers=headers), "page") == (
            "This value is too large."
        )
    within = await api.get("/api/institutions", params={"page": 1000000}, headers=headers)
    assert within.status_code == 200 and within.json()["items"] == []


async def test_null_for_a_field_that_is_never_empty_is_refused_in_a_patch(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    created = await api.post("/api/institutions", json={"name": "Clinique du Parc", "city": "Lyon"}, headers=headers)
    assert created.status_code == 201, created.text
    institution = created.json()
    for field in ("country", "name"):
        response = await api.patch(
            f"/api/institutions/{institution['id']}",
            json={field: None, "version": institution["version"]},
            headers=headers,
        )
        assert _refused(response, field) == "This field is required."
    contact = await api.post(
        f"/api/institutions/{institution['id']}/contacts", json={"last_name": "Martin"}, headers=headers
    )
    assert contact.status_code == 201, contact.text
    response = await api.patch(
        f"/api/contacts/{contact.json()['id']}", json={"last_name": None, "version": 1}, headers=headers
    )
    _refused(response, "last_name")


async def test_a_numeric_filter_that_is_no_whole_number_is_refused_naming_it(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    superscript = await api.get("/api/institutions", params={"beds_min": "²"}, headers=headers)
    assert _refused(superscript, "beds_min") == "Enter a whole number (digits 0 to 9)."
    huge = await api.get("/api/institutions", params={"rooms_max": "9" * 5000}, headers=headers)
    assert _refused(huge, "rooms_max") == "This number is too large."
    fine = await api.get("/api/institutions", params={"beds_min": "12"}, headers=headers)
    assert fine.status_code == 200


async def test_security_log_days_out_of_range_are_refused_not_a_server_error(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    for name, day in (("date_from", "0001-01-01"), ("date_to", "9999-12-31"), ("date_to", "0001-01-01")):
        for path in ("/api/security-log", "/api/security-log/export"):
            response = await api.get(path, params={name: day}, headers=headers)
            assert _refused(response, name)
    ordinary = await api.get("/api/security-log", params={"date_from": "2026-01-01"}, headers=headers)
    assert ordinary.status_code == 200


async def test_dates_of_year_1_or_9999_are_refused_in_bodies_and_filters(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31"):
        task = await api.post("/api/tasks", json={"title": "Call back", "due_at": moment}, headers=headers)
        assert _refused(task, "due_at") == "Enter a date between 1900 and 9000."
        meetings = await api.get("/api/meetings", params={"from": moment}, headers=headers)
        _refused(meetings, "from")
    quote = await api.post("/api/quotes", json={"issue_date": "9999-12-31"}, headers=headers)
    _refused(quote, "issue_date")


async def test_malformed_json_and_bad_utf8_answer_in_the_error_shape_naming_the_body(api: httpx.AsyncClient) -> None:
    json_type = {"Content-Type": "application/json"}
    broken = await api.post("/api/auth/login", content=b'{"email": "a@b.c", "password": ', headers=json_type)
    assert _refused(broken, "body") == "The body is not valid JSON."
    latin1 = await api.post("/api/auth/login", content='{"email": "é@b.c"}'.encode("latin-1"), headers=json_type)
    assert latin1.status_code in {400, 422}, latin1.text
    error = latin1.json()["error"]
    assert error["code"] in {"bad_request", "validation_failed"} and "body" in error["fields"]


async def test_a_method_the_path_does_not_take_answers_405_with_allow(api: httpx.AsyncClient) -> None:
    response = await api.delete("/api/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"
    put = await api.put("/api/quotes/00000000-0000-0000-0000-000000000001")
    assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD, PATCH"
    unknown = await api.delete("/api/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


async def test_head_answers_wherever_get_does_without_a_body(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    response = await api.head("/api/institutions", headers=headers)
    assert response.status_code == 200 and response.content == b""
    get = await api.get("/api/institutions", headers=headers)
    assert response.headers["content-type"] == get.headers["content-type"]
    health = await api.head("/api/health")
    assert health.status_code == 200 and health.content == b""


async def test_the_openapi_document_lists_required_fields_and_the_error_answers(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert set(schemas["TokenResponse"]["required"]) >= {"access_token", "token_type"}  # an answer: all required
    assert "version" in schemas["QuotePatch"]["required"]
    assert "HTTPValidationError" not in schemas
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert schemas["ErrorBody"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    patch = document["paths"]["/api/institutions/{institution_id}"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(patch)
    assert all(patch[status]["content"]["application/json"]["schema"] == error_ref for status in ("401", "404", "422"))
    login = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert "403" not in login and "401" in login and "422" in login  # no bearer token to refuse
    pages = [
        parameter["schema"]
        for item in document["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "page"
    ]
    assert pages and all(schema.get("maximum") for schema in pages)


async def test_a_malformed_id_filter_is_refused_not_ignored(api: httpx.AsyncClient) -> None:
    """`institution_id=nonsense` answered the whole, unfiltered list."""
    headers = await _admin(api)
    for path in ("/api/quotes", "/api/invoices", "/api/tasks"):
        _refused(await api.get(path, params={"institution_id": "nonsense"}, headers=headers), "institution_id")
