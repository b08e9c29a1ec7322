"""What the OpenAPI document says a request must carry is what the API refuses without it: a create
body marks required the fields the service needs on creation (a POST without one answers 422 naming
it), and the update body derived from it requires nothing but the version (omitted fields keep their
value; null is refused where the field is never empty)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.factories import PASSWORD, make_user

#: Every POST that creates a resource (answers 201 with a body): path → the fields it requires, as the
#: service's cleaners and checks need them on creation.
CREATE_REQUIRES: dict[str, set[str]] = {
    "/api/institutions": {"name"},
    "/api/institutions/{institution_id}/contacts": {"last_name"},
    "/api/tasks": {"title"},
    "/api/notes": {"body"},
    "/api/meetings": {"title", "starts_at", "ends_at"},
    "/api/calls": {"direction"},
    "/api/comments": {"target_kind", "target_id", "body"},
    "/api/users": {"email", "full_name"},
    "/api/teams": {"name"},
    "/api/teams/{team_id}/members": {"user_id"},
    "/api/catalog": {"reference", "name", "unit_price"},
    "/api/quotes": {"institution_id"},
    "/api/quotes/{quote_id}/revise": set(),
    "/api/quotes/{quote_id}/invoice": set(),
    "/api/invoices": {"institution_id"},
    "/api/invoices/{invoice_id}/payments": {"amount", "method"},
    "/api/invoices/{credit_note_id}/refunds": {"amount", "method"},
    "/api/invoices/{invoice_id}/credit-note": set(),
    "/api/opportunities": {"name", "institution_id"},
    "/api/opportunity-lost-reasons": {"label"},
    "/api/institutions/bulk/tasks": {"title"},
    "/api/institutions/bulk/meetings": {"title", "starts_at", "ends_at"},
    "/api/webhooks": {"url"},
    "/api/tokens": {"name", "scopes"},
}

#: Every PATCH: path → what it requires. The version where the API demands it (a stale one is a 409);
#: nothing else, but where the body names what it changes as a whole (a comment's text, a settings
#: section and its values).
PATCH_REQUIRES: dict[str, set[str]] = {
    "/api/institutions/{institution_id}": {"version"},
    "/api/contacts/{contact_id}": {"version"},
    "/api/tasks/{task_id}": {"version"},
    "/api/notes/{note_id}": {"version"},
    "/api/meetings/{meeting_id}": {"version"},
    "/api/calls/{call_id}": {"version"},
    "/api/catalog/{item_id}": {"version"},
    "/api/quotes/{quote_id}": {"version"},
    "/api/invoices/{invoice_id}": {"version"},
    "/api/users/{user_id}": set(),
    "/api/teams/{team_id}": set(),
    "/api/comments/{comment_id}": {"body", "version"},
    "/api/settings": {"section", "values"},
    "/api/plugins/{name}/settings": {"values"},
    "/api/webhooks/{webhook_id}": {"version"},
    "/api/opportunities/{opportunity_id}": {"version"},
    "/api/opportunity-lost-reasons/{reason_id}": set(),
}

#: The request bodies of a document's lines (quotes, invoices, credit notes): a line needs its quantity
#: (the rest can come from a catalog item or the default VAT rate), on POST as on PATCH.
LINE_REQUIRES = {"quantity"}


def _schema(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The component `node` refers to (directly, or as the one reference of an optional body)."""
    for candidate in [node, *node.get("anyOf", [])]:
        ref = candidate.get("$ref")
        if ref:
            schema: dict[str, Any] = document["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
            return schema
    raise AssertionError(f"no schema reference in {node}")


def _body(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    return _schema(document, operation["requestBody"]["content"]["application/json"]["schema"])


async def test_the_openapi_document_requires_what_creating_a_resource_needs(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    creations = {
        path: _body(document, item["post"])
        for path, item in document["paths"].items()
        if "post" in item and "201" in item["post"]["responses"] and "requestBody" in item["post"]
    }
    assert set(creations) == set(CREATE_REQUIRES)  # a new creation route: add what it requires above
    for path, schema in creations.items():
        assert set(schema.get("required", [])) == CREATE_REQUIRES[path], path
        assert set(schema.get("required", [])) <= set(schema["properties"]), path


async def test_patch_bodies_require_nothing_but_the_version(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    patches = {path: _body(document, item["patch"]) for path, item in document["paths"].items() if "patch" in item}
    assert set(patches) == set(PATCH_REQUIRES)
    for path, schema in patches.items():
        assert set(schema.get("required", [])) == PATCH_REQUIRES[path], path
    # What creating requires stays in the update body, optional, with its type and description.
    meeting = patches["/api/meetings/{meeting_id}"]["properties"]["starts_at"]
    assert meeting["type"] == "string" and meeting["description"] == "ISO 8601 date-time"
    assert "default" not in meeting  # null is not one of its values


async def test_a_line_requires_its_quantity_on_every_document(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    for path, method in (
        ("/api/quotes", "post"),
        ("/api/quotes/{quote_id}", "patch"),
        ("/api/invoices", "post"),
        ("/api/invoices/{invoice_id}", "patch"),
        ("/api/invoices/{invoice_id}/credit-note", "post"),
    ):
        lines = _body(document, document["paths"][path][method])["properties"]["lines"]
        line = _schema(document, next(kind for kind in lines["anyOf"] if kind.get("type") == "array")["items"])
        assert set(line["required"]) == LINE_REQUIRES, path


def test_every_field_a_services_cleaners_refuse_to_leave_empty_is_required_on_creation() -> None:
    """The table above follows the services: a field whose cleaner refuses an absent value (creating
    cleans every field left out as None) is required by its POST."""
    from crm_app.activities import calls, meetings, notes, tasks
    from crm_app.institutions import contacts
    from crm_app.institutions import service as institutions
    from crm_app.sales import catalog, invoices, payments

    def refused_empty(cleaners: dict[str, Any]) -> set[str]:
        refused = set()
        for name, cleaner in cleaners.items():
            try:
                cleaner(None)
            except ValueError:
                refused.add(name)
        return refused

    for path, cleaners in (
        ("/api/institutions", institutions.CLEANERS),
        ("/api/institutions/{institution_id}/contacts", contacts.CLEANERS),
        ("/api/tasks", tasks.CLEANERS),
        ("/api/notes", notes.CLEANERS),
        ("/api/meetings", meetings.CLEANERS),
        ("/api/calls", calls.CLEANERS),
        ("/api/catalog", catalog.CLEANERS),
        ("/api/invoices/{invoice_id}/payments", payments.CLEANERS),
        ("/api/invoices/{credit_note_id}/refunds", invoices.REFUND_CLEANERS),
    ):
        assert refused_empty(cleaners), path  # the probe finds something
        assert refused_empty(cleaners) <= CREATE_REQUIRES[path], path


async def _admin(api: httpx.AsyncClient) -> dict[str, str]:
    with unit_of_work() as session:
        make_user(session, role=Role.ADMIN, email="ada@example.org")
    response = await api.post("/api/auth/login", json={"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _refused(response: httpx.Response) -> dict[str, str]:
    """The refused fields and their messages, from a 422 in the API's error shape."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["message"] == "Some fields are not valid."
    return dict(error["fields"])


async def _created(api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_post_without_a_required_field_is_refused_naming_it(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    required = "This field is required."
    institution = await _created(api, "/api/institutions", {"name": "Clinique du Parc"}, headers)
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("/api/institutions", {"city": "Lyon"}, {"name"}),
        (f"/api/institutions/{institution['id']}/contacts", {"first_name": "Léa"}, {"last_name"}),
        ("/api/tasks", {"description": "Call back"}, {"title"}),
        ("/api/notes", {"visibility": "private"}, {"body"}),
        ("/api/meetings", {"title": "Demo"}, {"starts_at", "ends_at"}),
        ("/api/calls", {"summary": "Voicemail"}, {"direction"}),
        ("/api/catalog", {"name": "Scalpel"}, {"reference", "unit_price"}),
        ("/api/quotes", {"title": "Q1"}, {"institution_id"}),
        ("/api/invoices", {"title": "I1"}, {"institution_id"}),
        ("/api/opportunities", {"amount": "10"}, {"name", "institution_id"}),
        ("/api/opportunity-lost-reasons", {}, {"label"}),
        (f"/api/invoices/{uuid.uuid4()}/payments", {"reference": "VIR-1"}, {"amount", "method"}),
        (f"/api/invoices/{uuid.uuid4()}/refunds", {"reference": "RBT-1"}, {"amount", "method"}),
        (
            "/api/quotes",
            {"institution_id": institution["id"], "lines": [{"description": "Scalpel", "unit_price": "10"}]},
            {"lines.0.quantity"},
        ),
    ]
    for path, body, missing in cases:
        fields = _refused(await api.post(path, json=body, headers=headers))
        assert fields == dict.fromkeys(missing, required), path
    # null is no value for a required field either
    assert _refused(await api.post("/api/tasks", json={"title": None}, headers=headers)) == {"title": required}


async def test_a_patch_leaves_out_what_creating_requires_but_refuses_null_for_it(api: httpx.AsyncClient) -> None:
    headers = await _admin(api)
    required = "This field is required."
    institution = await _created(api, "/api/institutions", {"name": "Clinique du Parc"}, headers)
    records = [
        ("/api/tasks", {"title": "Call back"}, {"description": "Ask for the buyer"}, "title"),
        (
            "/api/meetings",
            {"title": "Demo", "starts_at": "2026-12-10T10:00:00+01:00", "ends_at": "2026-12-10T11:00:00+01:00"},
            {"location": "Lyon"},
            "starts_at",
        ),
        ("/api/calls", {"direction": "out"}, {"summary": "Voicemail"}, "direction"),
        ("/api/notes", {"body": "Likes the demo"}, {"visibility": "shared"}, "body"),
        ("/api/catalog", {"reference": "SC-1", "name": "Scalpel", "unit_price": "10"}, {"category": "Tools"}, "name"),
        ("/api/quotes", {"institution_id": institution["id"]}, {"title": "Q1"}, "institution_id"),
        ("/api/invoices", {"institution_id": institution["id"]}, {"title": "I1"}, "institution_id"),
        (f"/api/institutions/{institution['id']}/contacts", {"last_name": "Martin"}, {"title": "Dr"}, "last_name"),
    ]
    for path, body, change, field in records:
        created = await _created(api, path, body, headers)
        target = f"/api/contacts/{created['id']}" if path.endswith("/contacts") else f"{path}/{created['id']}"
        refused = await api.patch(target, json={field: None, "version": created["version"]}, headers=headers)
        assert _refused(refused) == {field: required}, path
        changed = await api.patch(target, json={**change, "version": created["version"]}, headers=headers)
        assert changed.status_code == 200, (path, changed.text)
        assert all(changed.json()[name] == value for name, value in change.items()), path
        assert changed.json()[field] == created[field], path  # left out: kept
