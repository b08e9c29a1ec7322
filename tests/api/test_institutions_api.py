"""/api/institutions and /api/contacts against the whole app (requests commit; tables emptied after each test)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.platform import paging
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_contact, make_institution

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    name: str


@dataclass(frozen=True)
class Org:
    team_a: uuid.UUID
    rep_a: Person
    rep_a2: Person
    rep_b: Person
    admin: Person


@pytest.fixture
def org() -> Org:
    """Committed accounts: two reps of team A, one of team B, an admin."""
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Aquitaine"), make_team(session, "Bretagne")
        people = [
            make_user(session, role=role, team=team, email=email, name=name)
            for role, team, email, name in (
                (Role.USER, team_a, "anne@example.org", "Anne Aquitaine"),
                (Role.USER, team_a, "alain@example.org", "Alain Aquitaine"),
                (Role.USER, team_b, "bruno@example.org", "Bruno Bretagne"),
                (Role.ADMIN, None, "admin@example.org", "Ada Admin"),
            )
        ]
        rep_a, rep_a2, rep_b, admin = (Person(p.id, p.email, p.full_name) for p in people)
        return Org(team_a.id, rep_a, rep_a2, rep_b, admin)


async def _auth(api: httpx.AsyncClient, person: Person) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _committed_institution(**values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return make_institution(session, **values).id


def _committed_contact(institution_id: uuid.UUID, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return make_contact(session, institutions.get_institution(session, institution_id), **values).id


def _security_events(action: SecurityAction) -> list[SecurityEvent]:
    with unit_of_work() as session:
        return list(session.exec(select(SecurityEvent).where(SecurityEvent.action == action.value)).all())


# --------------------------------------------------------------------------------------------
# Authentication


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/institutions"),
        ("GET", "/api/institutions/export"),
        ("POST", "/api/institutions"),
        ("GET", f"/api/institutions/{uuid.UUID(int=1)}"),
        ("PATCH", f"/api/institutions/{uuid.UUID(int=1)}"),
        ("DELETE", f"/api/institutions/{uuid.UUID(int=1)}"),
        ("GET", f"/api/institutions/{uuid.UUID(int=1)}/contacts"),
        ("POST", f"/api/institutions/{uuid.UUID(int=1)}/contacts"),
        ("GET", "/api/contacts"),
        ("GET", f"/api/contacts/{uuid.UUID(int=1)}"),
        ("PATCH", f"/api/contacts/{uuid.UUID(int=1)}"),
    ],
)
async def test_every_endpoint_needs_a_token(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={"name": "X", "last_name": "Y", "version": 1})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"


# --------------------------------------------------------------------------------------------
# The list


async def test_list_is_paged_with_one_shape(api: httpx.AsyncClient, org: Org) -> None:
    for name in ("Clinique A", "Clinique B", "Clinique C"):
        _committed_institution(name=name, tags=["vip"])
    headers = await _auth(api, org.rep_a)
    response = await api.get("/api/institutions", params={"page": 2, "page_size": 2}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "total_exact", "page", "page_size"}
    assert (body["total"], body["total_exact"], body["page"], body["page_size"]) == (3, True, 2, 2)
    [item] = body["items"]
    assert item["name"] == "Clinique C" and item["tags"] == ["vip"] and item["version"] == 1
    assert item["type"] == "other" and item["commercial_status"] == "prospect" and item["is_archived"] is False


async def test_a_list_longer_than_the_exact_limit_says_its_total_is_an_estimate(
    api: httpx.AsyncClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(institutions, "EXACT_COUNT_LIMIT", 2)
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", 2)
    for name in ("Clinique A", "Clinique B", "Clinique C", "Clinique D"):
        _committed_institution(name=name)
    headers = await _auth(api, org.admin)

    body = (await api.get("/api/institutions", headers=headers)).json()

    assert body["total_exact"] is False and body["total"] >= 3 and len(body["items"]) == 4


@pytest.mark.parametrize("params", [{"page_size": 101}, {"page_size": 0}, {"page": 0}, {"page": "two"}])
async def test_bad_paging_is_a_422(api: httpx.AsyncClient, org: Org, params: dict[str, Any]) -> None:
    response = await api.get("/api/institutions", params=params, headers=await _auth(api, org.rep_a))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert next(iter(params)) in error["fields"]  # named as sent, without "query."


async def test_an_unknown_archived_choice_for_contacts_is_a_422(api: httpx.AsyncClient, org: Org) -> None:
    headers = await _auth(api, org.rep_a)
    assert (await api.get("/api/contacts", params={"archived": "all"}, headers=headers)).status_code == 200
    response = await api.get("/api/contacts", params={"archived": "yes"}, headers=headers)
    assert response.status_code == 422 and "archived" in response.json()["error"]["fields"]


async def test_filters_and_sort_come_from_the_query_string(api: httpx.AsyncClient, org: Org) -> None:
    _committed_institution(name="Hôpital Saint-André", type="hospital", city="Bordeaux", bed_capacity=600)
    _committed_institution(name="CHU de Bordeaux", type="CHU", city="Bordeaux", bed_capacity=2500)
    _committed_institution(name="Pharmacie du Lac", type="pharmacy", city="Paris")
    _committed_institution(name="Clinique des Cèdres", type="private_clinic", city="Toulouse", bed_capacity=120)
    headers = await _auth(api, org.rep_a)

    async def names(query: str) -> list[str]:
        response = await api.get(f"/api/institutions?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names("type=hospital&type=pharmacy") == ["Hôpital Saint-André", "Pharmacie du Lac"]
    assert await names("type=hospital,pharmacy&sort=-name") == ["Pharmacie du Lac", "Hôpital Saint-André"]
    assert await names("city=BORDEAUX&beds_max=1000") == ["Hôpital Saint-André"]
    assert await names("q=hopital") == ["Hôpital Saint-André"]
    assert await names("q=50%25") == []
    by_city = await names("sort=-city&type=bogus")
    assert by_city[:2] == ["Clinique des Cèdres", "Pharmacie du Lac"]
    assert set(by_city[2:]) == {"CHU de Bordeaux", "Hôpital Saint-André"}


# --------------------------------------------------------------------------------------------
# Create


async def test_create_returns_201_with_the_stored_institution(api: httpx.AsyncClient, org: Org) -> None:
    headers = await _auth(api, org.rep_a)
    response = await api.post(
        "/api/institutions",
        headers=headers,
        json={
            "name": "Clinique des Cèdres",
            "type": "Clinique privée",
            "postal_code": "31 000",
            "city": "Toulouse",
            "phone": "05 61 00 00 00",
            "annual_revenue": "1250000.5",
            "bed_capacity": 120,
            "tags": ["vip", "cardio"],
            "assigned_user_id": str(org.rep_a.id),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["type"], body["postal_code"], body["phone"]) == (
        "Clinique des Cèdres",
        "private_clinic",
        "31000",
        "+33 5 61 00 00 00",
    )
    assert body["data_source"] == "api" and body["version"] == 1 and body["country"] == "FR"
    assert body["tags"] == ["cardio", "vip"] and body["bed_capacity"] == 120
    assert body["annual_revenue"] == "1250000.50"
    assert body["assigned_user_id"] == str(org.rep_a.id) and body["assigned_user_name"] == "Anne Aquitaine"
    fetched = await api.get(f"/api/institutions/{body['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json() == body


async def test_duplicate_is_a_409_listing_the_matches_until_confirmed(api: httpx.AsyncClient, org: Org) -> None:
    existing = _committed_institution(name="CHU de Bordeaux", postal_code="33000", city="Bordeaux")
    headers = await _auth(api, org.rep_a)
    payload = {"name": "Centre Hospitalier Universitaire de Bordeaux", "postal_code": "33000"}
    refused = await api.post("/api/institutions", headers=headers, json=payload)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "duplicate_suspected"
    assert error["message"] == "This institution looks like one that already exists."
    assert error["matches"] == [{"id": str(existing), "name": "CHU de Bordeaux", "rule": "name_postal_code"}]
    listed = await api.get("/api/institutions", headers=headers)
    assert listed.json()["total"] == 1
    confirmed = await api.post("/api/institutions?allow_duplicate=true", headers=headers, json=payload)
    assert confirmed.status_code == 201
    assert (await api.get("/api/institutions", headers=headers)).json()["total"] == 2


async def test_invalid_fields_are_a_422_naming_each_field(api: httpx.AsyncClient, org: Org) -> None:
    headers = await _auth(api, org.rep_a)
    response = await api.post(
        "/api/institutions",
        headers=headers,
        json={
            "name": "Clinique",
            "finess": "123",
            "siret": "73282932000075",
            "postal_code": "3300",
            "type": "boulangerie",
        },
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "validation_failed",
        "message": "Some fields are not valid.",
        "fields": {
            "finess": "A FINESS number has 9 characters: digits, or 2A/2B then 7 digits.",
            "siret": "This SIRET number is not valid (check digit).",
            "postal_code": "A French postal code has 5 digits.",
            "type": "Unknown value.",
        },
    }
    french = await api.post(
        "/api/institutions",
        headers={**headers, "Accept-Language": "fr-FR,fr;q=0.9"},
        json={"name": "Clinique", "finess": "123"},
    )
    assert french.json()["error"]["fields"] == {
        "finess": "Un numéro FINESS a 9 caractères : des chiffres, ou 2A/2B puis 7 chiffres."
    }


async def test_unknown_body_fields_and_used_identifiers_are_422(api: httpx.AsyncClient, org: Org) -> None:
    _committed_institution(finess="330781196")
    headers = await _auth(api, org.rep_a)
    unknown = await api.post("/api/institutions", headers=headers, json={"name": "X", "colour": "blue"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["fields"]
    used = await api.post(
        "/api/institutions?allow_duplicate=true", headers=headers, json={"name": "Y", "finess": "330781196"}
    )
    assert used.status_code == 422
    assert used.json()["error"]["fields"] == {"finess": "Already used by another institution."}


# --------------------------------------------------------------------------------------------
# Read, update, archive


async def test_unknown_institution_is_a_404(api: httpx.AsyncClient, org: Org) -> None:
    headers = await _auth(api, org.admin)
    unknown = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/api/institutions/{unknown}", None),
        ("PATCH", f"/api/institutions/{unknown}", {"version": 1, "city": "Lyon"}),
        ("DELETE", f"/api/institutions/{unknown}", None),
        ("GET", f"/api/institutions/{unknown}/contacts", None),
        ("POST", f"/api/institutions/{unknown}/contacts", {"last_name": "Dupont"}),
    ):
        response = await api.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"
    assert (await api.get("/api/institutions/not-a-uuid", headers=headers)).status_code == 422


async def test_patch_changes_the_given_fields_and_bumps_the_version(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(name="Clinique du Parc", city="Caen")
    headers = await _auth(api, org.rep_a)
    response = await api.patch(
        f"/api/institutions/{institution_id}", headers=headers, json={"version": 1, "bed_capacity": 80, "tags": ["vip"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["bed_capacity"], body["tags"], body["city"]) == (2, 80, ["vip"], "Caen")


async def test_payment_terms_are_set_per_institution_and_checked(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(name="Clinique du Parc", city="Caen")
    headers = await _auth(api, org.rep_a)
    assert (await api.get(f"/api/institutions/{institution_id}", headers=headers)).json()["payment_terms_days"] is None
    refused = await api.patch(
        f"/api/institutions/{institution_id}", headers=headers, json={"version": 1, "payment_terms_days": 400}
    )
    assert refused.status_code == 422 and "payment_terms_days" in refused.json()["error"]["fields"]
    response = await api.patch(
        f"/api/institutions/{institution_id}", headers=headers, json={"version": 1, "payment_terms_days": 45}
    )
    assert response.status_code == 200 and response.json()["payment_terms_days"] == 45
    draft = await api.post(
        "/api/invoices",
        headers=headers,
        json={
            "institution_id": str(institution_id),
            "title": "Maintenance",
            "lines": [{"description": "Contrat", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
        },
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["payment_terms_days"] == 45  # its invoices' default


async def test_user_patching_someone_elses_institution_is_403_and_logged(api: httpx.AsyncClient, org: Org) -> None:
    with unit_of_work() as session:
        owner = session.get(User, org.rep_a2.id)
        assert owner is not None
        institution_id = make_institution(session, city="Caen", assigned_to=owner).id
    response = await api.patch(
        f"/api/institutions/{institution_id}", headers=await _auth(api, org.rep_a), json={"version": 1, "city": "Rouen"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    [event] = _security_events(SecurityAction.ACTION_REFUSED)
    assert (event.user_id, event.email, event.details["refused"]) == (org.rep_a.id, org.rep_a.email, "institution.edit")
    with unit_of_work() as session:
        assert institutions.get_institution(session, institution_id).city == "Caen"


async def test_stale_patch_is_a_409_naming_who_saved_first(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(city="Caen")
    admin_headers = await _auth(api, org.admin)
    first = await api.patch(
        f"/api/institutions/{institution_id}", headers=admin_headers, json={"version": 1, "city": "Rouen"}
    )
    assert first.status_code == 200
    stale = await api.patch(
        f"/api/institutions/{institution_id}", headers=await _auth(api, org.rep_a), json={"version": 1, "city": "Brest"}
    )
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "conflict" and error["changed_by"] == "Ada Admin"
    assert (await api.get(f"/api/institutions/{institution_id}", headers=admin_headers)).json()["city"] == "Rouen"


async def test_patch_without_a_version_is_a_422(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution()
    response = await api.patch(
        f"/api/institutions/{institution_id}", headers=await _auth(api, org.admin), json={"city": "Rouen"}
    )
    assert response.status_code == 422 and "version" in response.json()["error"]["fields"]


async def test_delete_archives_and_hides_from_the_default_list(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(name="Clinique Fermée")
    _committed_institution(name="Clinique Ouverte")
    headers = await _auth(api, org.rep_a)
    deleted = await api.delete(f"/api/institutions/{institution_id}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["is_archived"] is True
    default = (await api.get("/api/institutions", headers=headers)).json()
    assert [i["name"] for i in default["items"]] == ["Clinique Ouverte"]
    everything = (await api.get("/api/institutions?archived=all", headers=headers)).json()
    assert [i["name"] for i in everything["items"]] == ["Clinique Fermée", "Clinique Ouverte"]
    assert (await api.get(f"/api/institutions/{institution_id}", headers=headers)).json()["is_archived"] is True


# --------------------------------------------------------------------------------------------
# Contacts


async def test_contacts_create_list_get_and_patch(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(name="Clinique du Parc")
    for index in range(3):
        _committed_contact(institution_id, last_name=f"Ancien{index}")
    headers = await _auth(api, org.rep_a)
    created = await api.post(
        f"/api/institutions/{institution_id}/contacts",
        headers=headers,
        json={
            "first_name": "Jeanne",
            "last_name": "Dupont",
            "email": "J.Dupont@Parc.FR",
            "phone": "05 56 79 56 79",
            "is_primary": True,
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["email"], contact["phone"], contact["is_primary"]) == (
        "J.Dupont@parc.fr",
        "+33 5 56 79 56 79",
        True,
    )
    assert contact["institution_name"] == "Clinique du Parc" and contact["version"] == 1

    page = (await api.get(f"/api/institutions/{institution_id}/contacts?page_size=2", headers=headers)).json()
    assert set(page) == {"items", "total", "page", "page_size"}
    assert page["total"] == 4 and [c["last_name"] for c in page["items"]] == ["Dupont", "Ancien0"]

    fetched = await api.get(f"/api/contacts/{contact['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json() == contact
    patched = await api.patch(
        f"/api/contacts/{contact['id']}", headers=headers, json={"version": 1, "title": "Directrice des achats"}
    )
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["version"]) == ("Directrice des achats", 2)
    stale = await api.patch(f"/api/contacts/{contact['id']}", headers=headers, json={"version": 1, "title": "DAF"})
    assert stale.status_code == 409 and stale.json()["error"]["changed_by"] == "Anne Aquitaine"
    invalid = await api.post(
        f"/api/institutions/{institution_id}/contacts", headers=headers, json={"last_name": "Martin", "email": "martin"}
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"] == {"email": "Enter a valid email address."}
    assert (await api.get(f"/api/contacts/{uuid.uuid4()}", headers=headers)).status_code == 404


async def test_contacts_of_someone_elses_institution_are_read_only(api: httpx.AsyncClient, org: Org) -> None:
    with unit_of_work() as session:
        owner = session.get(User, org.rep_b.id)
        assert owner is not None
        institution = make_institution(session, assigned_to=owner)
        contact_id = make_contact(session, institution, last_name="Dupont").id
        institution_id = institution.id
    headers = await _auth(api, org.rep_a)
    assert (await api.get(f"/api/contacts/{contact_id}", headers=headers)).status_code == 200
    refused = await api.patch(f"/api/contacts/{contact_id}", headers=headers, json={"version": 1, "title": "DAF"})
    assert refused.status_code == 403
    created = await api.post(
        f"/api/institutions/{institution_id}/contacts", headers=headers, json={"last_name": "Martin"}
    )
    assert created.status_code == 403


async def test_contact_search_and_archived_filter(api: httpx.AsyncClient, org: Org) -> None:
    institution_id = _committed_institution(name="Clinique du Parc")
    kept = _committed_contact(institution_id, first_name="Hélène", last_name="Lefèvre", email="h.lefevre@parc.fr")
    gone = _committed_contact(institution_id, first_name="Henri", last_name="Lefèvre-Petit")
    _committed_contact(institution_id, first_name="Paul", last_name="Martin")
    with unit_of_work() as session:
        contacts.set_archived(session, SYSTEM_ACTOR, gone, True)
    headers = await _auth(api, org.rep_a)
    found = (await api.get("/api/contacts", params={"q": "LEFEVRE"}, headers=headers)).json()
    assert set(found) == {"items", "total", "page", "page_size"}
    assert [c["id"] for c in found["items"]] == [str(kept)] and found["total"] == 1
    archived = (await api.get("/api/contacts", params={"q": "lefevre", "archived": "archived"}, headers=headers)).json()
    assert [c["id"] for c in archived["items"]] == [str(gone)]
    everyone = (await api.get("/api/contacts", params={"archived": "all", "page_size": 2}, headers=headers)).json()
    assert everyone["total"] == 3 and len(everyone["items"]) == 2


# --------------------------------------------------------------------------------------------
# Export


async def test_csv_export_of_the_filtered_list(api: httpx.AsyncClient, org: Org) -> None:
    _committed_institution(name='=HYPERLINK("http://evil.example")', city="Lyon")
    _committed_institution(name="<script>alert(1)</script>", city="Lyon", tags=["@SUM(A1)"])
    _committed_institution(name="Clinique de Paris", city="Paris")
    headers = {**await _auth(api, org.rep_a), "Accept-Language": "fr-FR,fr;q=0.9"}
    response = await api.get("/api/institutions/export", params={"format": "csv", "city": "lyon"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="institutions.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert (header[0], header[14]) == ("Nom", "Étiquettes") and len(rows) == 2
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"<script>alert(1)</script>", '\'=HYPERLINK("http://evil.example")'}
    assert by_name["<script>alert(1)</script>"][14] == "'@SUM(A1)"
    [event] = _security_events(SecurityAction.EXPORT)
    assert event.user_id == org.rep_a.id and event.details["rows"] == 2 and event.details["format"] == "csv"


async def test_xlsx_export_of_the_filtered_list(api: httpx.AsyncClient, org: Org) -> None:
    _committed_institution(name="+33 Clinique", type="private_clinic")
    _committed_institution(name="-Clinique Moins", type="private_clinic")
    _committed_institution(name="Pharmacie", type="pharmacy")
    headers = {**await _auth(api, org.rep_a), "Accept-Language": "fr"}
    response = await api.get("/api/institutions/export?format=xlsx&type=private_clinic", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="institutions.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None and sheet.title == "Établissements"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Nom"
    assert sorted(row[0] for row in values[1:]) == ["'+33 Clinique", "'-Clinique Moins"]
    assert all(row[1] == "Clinique privée" for row in values[1:])


async def test_export_speaks_the_language_of_the_request(api: httpx.AsyncClient, org: Org) -> None:
    _committed_institution(name="Clinique", type="private_clinic")
    response = await api.get(
        "/api/institutions/export?format=csv",
        headers={**await _auth(api, org.rep_a), "Accept-Language": "en-GB,en;q=0.9"},
    )
    header, row = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert (header[0], row[1]) == ("Name", "Private clinic")


async def test_unknown_export_format_is_a_422(api: httpx.AsyncClient, org: Org) -> None:
    response = await api.get("/api/institutions/export?format=pdf", headers=await _auth(api, org.rep_a))
    assert response.status_code == 422


# --------------------------------------------------------------------------------------------
# POST /api/institutions/import


SAMPLE_CSV = (
    "\ufeffNom;Type;FINESS;Code postal;Ville;Lits;Prénom contact;Nom contact;Email contact\r\n"
    "Clinique des Alpes;Clinique privée;380000016;38000;Grenoble;120;Jeanne;Roux;j.roux@alpes.fr\r\n"
    "CHU de Grenoble;CHU;380780080;38043;Grenoble;2100;;;\r\n"
    ";CHU;;38000;Grenoble;;;;\r\n"
).encode()


async def test_import_endpoint_returns_the_report_and_a_second_run_creates_nothing(
    api: httpx.AsyncClient, org: Org
) -> None:
    headers = await _auth(api, org.admin)
    files = {"file": ("etablissements.csv", SAMPLE_CSV, "text/csv")}
    first = await api.post("/api/institutions/import", files=files, headers=headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["created"], report["merged"], report["skipped"], report["rejected"]) == (2, 0, 0, 1)
    again = await api.post("/api/institutions/import", files=files, headers=headers)
    assert (again.json()["created"], again.json()["skipped"]) == (0, 2)
    listed = await api.get("/api/institutions", params={"city": "Grenoble"}, headers=headers)
    assert listed.json()["total"] == 2


async def test_import_endpoint_names_the_column_and_the_value_of_each_error(api: httpx.AsyncClient, org: Org) -> None:
    headers = await _auth(api, org.admin)
    content = (
        "\ufeffNom;Code postal;Lits\r\nClinique des Alpes;38000;120\r\nClinique du Lac;7500A;beaucoup\r\n;38000;\r\n"
    ).encode()
    files = {"file": ("etablissements.csv", content, "text/csv")}
    response = await api.post("/api/institutions/import", files=files, headers={**headers, "Accept-Language": "fr"})
    assert response.status_code == 200, response.text
    rejected = {row["line"]: row for row in response.json()["rejected_rows"]}
    assert sorted(rejected[3]["reasons"]) == [
        "Ligne 3, « Code postal » : la valeur « 7500A » est refusée. Un code postal français a 5 chiffres.",
        "Ligne 3, « Lits » : la valeur « beaucoup » est refusée. Saisissez un nombre entier.",
    ]
    assert sorted(rejected[3]["errors"], key=lambda e: e["field"]) == [
        {"field": "bed_capacity", "column": "Lits", "value": "beaucoup", "reason": "Saisissez un nombre entier."},
        {
            "field": "postal_code",
            "column": "Code postal",
            "value": "7500A",
            "reason": "Un code postal français a 5 chiffres.",
        },
    ]
    assert rejected[4]["reasons"] == ["Ligne 4, « Nom » : la cellule est vide. Ce champ est obligatoire."]
    english = await api.post("/api/institutions/import", files=files, headers={**headers, "Accept-Language": "en"})
    assert {row["line"]: row["reasons"] for row in english.json()["rejected_rows"]}[4] == [
        'Line 4, "Nom": the cell is empty. This field is required.'
    ]


@pytest.fixture
def shared_sample() -> bytes:
    """The shared sample file (README of /work/shared/data): four invalid rows among 209."""
    from pathlib import Path

    return Path("/work/shared/data/institutions_fr_sample.csv").read_bytes()


async def test_import_endpoint_explains_the_invalid_rows_of_the_sample_file(
    api: httpx.AsyncClient, org: Org, shared_sample: bytes
) -> None:
    headers = {**await _auth(api, org.admin), "Accept-Language": "en"}
    sample = shared_sample
    response = await api.post(
        "/api/institutions/import", files={"file": ("sample.csv", sample, "text/csv")}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert {row["line"]: row["reasons"] for row in response.json()["rejected_rows"]} == {
        6: ['Line 6, "Lits": the value "beaucoup" is refused. Enter a whole number.'],
        34: [
            'Line 34, "Type": the value "spaceport" is refused. Unknown value. Accepted values: University hospital '
            "(CHU), Hospital (CH), Private clinic, Medical centre, Specialty clinic, Laboratory, Pharmacy, Other."
        ],
        60: ['Line 60, "Nom": the cell is empty. This field is required.'],
        206: [
            'Line 206, "SIRET": the value "12345678901234" is refused. This SIRET number is not valid (check digit).'
        ],
    }


async def test_import_endpoint_refuses_a_sales_rep_and_a_bad_file(api: httpx.AsyncClient, org: Org) -> None:
    rep = await _auth(api, org.rep_a)
    refused = await api.post("/api/institutions/import", files={"file": ("a.csv", SAMPLE_CSV, "text/csv")}, headers=rep)
    assert refused.status_code == 403
    admin = await _auth(api, org.admin)
    empty = await api.post("/api/institutions/import", files={"file": ("a.csv", b"", "text/csv")}, headers=admin)
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "validation_failed"
