"""The institutions list: filters, search, sort, paging, bookmarkable parameters, global search, saved views,
exports; and the portable parts on SQLite."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm_app.institutions import contacts, exports
from crm_app.institutions import saved_views as views
from crm_app.institutions import service as institutions
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, Institution, InstitutionType
from crm_app.institutions.service import DuplicateSuspected, InstitutionQuery
from crm_app.operations import migrate
from crm_app.platform import search, tabular
from crm_app.platform.db import is_postgresql, unit_of_work
from crm_app.platform.errors import Forbidden, NotFound, ValidationFailed
from crm_app.platform.i18n import use_locale
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role, Team, User
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.platform.tabular import ExportFormat
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_contact, make_institution, siret_with_key

SIRET = siret_with_key("7328293200007")


@dataclass
class Catalogue:
    """Five institutions covering every filter; `archived` is archived."""

    team_a: Team
    team_b: Team
    rep_a: User
    rep_b: User
    chu: Institution  # team A, client, Bordeaux, cardio+vip, 2500 beds, 40 rooms, compliant
    hopital: Institution  # team B, prospect, Bordeaux, vip, 600 beds, 12 rooms, pending review
    clinique: Institution  # unassigned, former client, Toulouse, Oncologie, 120 beds, 6 rooms, non compliant
    labo: Institution  # unassigned, prospect, Paris, no profile figures
    archived: Institution  # rep A, client, Paris, archived


@pytest.fixture
def cat(db: Session) -> Catalogue:
    team_a, team_b = make_team(db, "Aquitaine"), make_team(db, "Bretagne")
    rep_a = make_user(db, team=team_a, name="Anne Aquitaine")
    rep_b = make_user(db, team=team_b, name="Bruno Bretagne")
    chu = make_institution(
        db,
        name="CHU de Bordeaux",
        type="CHU",
        commercial_status="client",
        region="Nouvelle-Aquitaine",
        city="Bordeaux",
        postal_code="33000",
        assigned_to=rep_a,
        tags=["cardio", "vip"],
        specialties=["Cardiologie"],
        bed_capacity=2500,
        surgical_rooms=40,
        compliance_status="compliant",
        finess="330781196",
        siret=SIRET,
        accounting_number="C0001",
    )
    hopital = make_institution(
        db,
        name="Hôpital Saint-André",
        type="hospital",
        region="Nouvelle-Aquitaine",
        city="BORDEAUX",
        postal_code="33075",
        assigned_to=rep_b,
        tags=["vip"],
        bed_capacity=600,
        surgical_rooms=12,
        compliance_status="pending_review",
    )
    clinique = make_institution(
        db,
        name="Clinique des Cèdres",
        type="Clinique privée",
        commercial_status="former_client",
        region="Occitanie",
        city="Toulouse",
        postal_code="31000",
        specialties=["Oncologie"],
        bed_capacity=120,
        surgical_rooms=6,
        compliance_status="non_compliant",
    )
    labo = make_institution(
        db, name="Laboratoire Pasteur", type="laboratory", region="Île-de-France", city="Paris", postal_code="75013"
    )
    archived = make_institution(
        db,
        name="Pharmacie du Lac",
        type="pharmacy",
        commercial_status="client",
        region="Île-de-France",
        city="Paris",
        postal_code="75014",
        assigned_to=rep_a,
    )
    institutions.set_archived(db, SYSTEM_ACTOR, archived.id, True)
    make_contact(db, labo, first_name="Émilie", last_name="Dupont-Moreau")
    return Catalogue(team_a, team_b, rep_a, rep_b, chu, hopital, clinique, labo, archived)


def _names(db: Session, query: InstitutionQuery, actor: Actor = SYSTEM_ACTOR) -> set[str]:
    page = institutions.list_institutions(db, actor, query, PageRequest(1, 100))
    assert page.total == len(page.items)
    return {row.name for row in page.items}


def _ordered(db: Session, query: InstitutionQuery, request: PageRequest | None = None) -> list[uuid.UUID]:
    return [row.id for row in institutions.list_institutions(db, SYSTEM_ACTOR, query, request).items]


# --------------------------------------------------------------------------------------------
# Filters, one at a time

ACTIVE = {"CHU de Bordeaux", "Hôpital Saint-André", "Clinique des Cèdres", "Laboratoire Pasteur"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (InstitutionQuery(), ACTIVE),
        (
            InstitutionQuery(types=(InstitutionType.HOSPITAL, InstitutionType.UNIVERSITY_HOSPITAL)),
            {"CHU de Bordeaux", "Hôpital Saint-André"},
        ),
        (InstitutionQuery(types=(InstitutionType.PHARMACY,)), set()),
        (InstitutionQuery(statuses=(CommercialStatus.CLIENT,)), {"CHU de Bordeaux"}),
        (
            InstitutionQuery(statuses=(CommercialStatus.PROSPECT, CommercialStatus.FORMER_CLIENT)),
            {"Hôpital Saint-André", "Clinique des Cèdres", "Laboratoire Pasteur"},
        ),
        (InstitutionQuery(region="Occitanie"), {"Clinique des Cèdres"}),
        (InstitutionQuery(city="bordeaux"), {"CHU de Bordeaux", "Hôpital Saint-André"}),
        (InstitutionQuery(city="PARIS"), {"Laboratoire Pasteur"}),
        (InstitutionQuery(unassigned=True), {"Clinique des Cèdres", "Laboratoire Pasteur"}),
        (InstitutionQuery(tags=("vip",)), {"CHU de Bordeaux", "Hôpital Saint-André"}),
        (InstitutionQuery(tags=("cardio",)), {"CHU de Bordeaux"}),
        (InstitutionQuery(specialties=("Oncologie",)), {"Clinique des Cèdres"}),
        (InstitutionQuery(beds_min=100, beds_max=600), {"Hôpital Saint-André", "Clinique des Cèdres"}),
        (InstitutionQuery(beds_min=601), {"CHU de Bordeaux"}),
        (InstitutionQuery(beds_max=119), set()),
        (InstitutionQuery(rooms_min=12), {"CHU de Bordeaux", "Hôpital Saint-André"}),
        (InstitutionQuery(rooms_max=6), {"Clinique des Cèdres"}),
        (
            InstitutionQuery(compliance=(ComplianceStatus.PENDING_REVIEW, ComplianceStatus.NON_COMPLIANT)),
            {"Hôpital Saint-André", "Clinique des Cèdres"},
        ),
        (InstitutionQuery(archived="archived"), {"Pharmacie du Lac"}),
        (InstitutionQuery(archived="all"), {*ACTIVE, "Pharmacie du Lac"}),
    ],
    ids=lambda value: (
        "" if isinstance(value, set) else ",".join(f"{k}={v}" for k, v in value.to_params().items()) or "default"
    ),
)
def test_each_filter_alone(db: Session, cat: Catalogue, query: InstitutionQuery, expected: set[str]) -> None:
    assert _names(db, query) == expected


def test_assignee_and_team_filters(db: Session, cat: Catalogue) -> None:
    assert _names(db, InstitutionQuery(assigned_user_id=cat.rep_a.id)) == {"CHU de Bordeaux"}
    assert _names(db, InstitutionQuery(assigned_user_id=cat.rep_a.id, archived="all")) == {
        "CHU de Bordeaux",
        "Pharmacie du Lac",
    }
    assert _names(db, InstitutionQuery(team_id=cat.team_b.id)) == {"Hôpital Saint-André"}
    assert _names(db, InstitutionQuery(assigned_user_id=uuid.uuid4())) == set()


def test_filters_combine(db: Session, cat: Catalogue) -> None:
    query = InstitutionQuery(city="Bordeaux", tags=("vip",), beds_max=1000, statuses=(CommercialStatus.PROSPECT,))
    assert _names(db, query) == {"Hôpital Saint-André"}


def test_rows_carry_labels_names_and_the_actors_edit_right(db: Session, cat: Catalogue) -> None:
    rows = {row.name: row for row in institutions.list_institutions(db, actor_of(cat.rep_a), InstitutionQuery()).items}
    chu = rows["CHU de Bordeaux"]
    assert chu.tags == ["cardio", "vip"] and chu.type is InstitutionType.UNIVERSITY_HOSPITAL
    assert (chu.assigned_user_name, chu.team_name, chu.bed_capacity) == ("Anne Aquitaine", "Aquitaine", 2500)
    assert rows["Clinique des Cèdres"].type is InstitutionType.PRIVATE_CLINIC
    assert {name for name, row in rows.items() if row.can_edit} == {
        "CHU de Bordeaux",
        "Clinique des Cèdres",
        "Laboratoire Pasteur",
    }


# --------------------------------------------------------------------------------------------
# Search


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("hopital", {"Hôpital Saint-André"}),
        ("HÔPITAL", {"Hôpital Saint-André"}),
        ("saint-andre", {"Hôpital Saint-André"}),
        ("cèdres", {"Clinique des Cèdres"}),
        ("  clinique   DES  cedres ", {"Clinique des Cèdres"}),
        ("toulouse", {"Clinique des Cèdres"}),
        ("bordeaux", {"CHU de Bordeaux", "Hôpital Saint-André"}),
        ("33075", {"Hôpital Saint-André"}),
        ("330781196", {"CHU de Bordeaux"}),
        (SIRET, {"CHU de Bordeaux"}),
        ("c0001", {"CHU de Bordeaux"}),
        ("emilie", {"Laboratoire Pasteur"}),
        ("dupont-moreau", {"Laboratoire Pasteur"}),
        ("lac", set()),  # archived
    ],
)
def test_search_ignores_accents_and_case_over_every_searched_field(
    db: Session, cat: Catalogue, q: str, expected: set[str]
) -> None:
    assert _names(db, InstitutionQuery(q=q)) == expected


def test_search_also_finds_archived_institutions_when_asked(db: Session, cat: Catalogue) -> None:
    assert _names(db, InstitutionQuery(q="lac", archived="all")) == {"Pharmacie du Lac"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("50%", {"Remise 50% Santé"}),
        ("%", {"Remise 50% Santé"}),
        ("_", {"Centre_Test"}),
        ("5_%", set()),
        ("\\", {"Cabinet A\\B"}),
    ],
)
def test_like_wildcards_in_the_search_are_literal(db: Session, q: str, expected: set[str]) -> None:
    for name in ("Remise 50% Santé", "Remise 5 Santé", "Centre_Test", "Centre Test", "Cabinet A\\B"):
        make_institution(db, name=name)
    assert _names(db, InstitutionQuery(q=q)) == expected


# --------------------------------------------------------------------------------------------
# Sort and paging


def test_sorting_by_name_ascending_and_descending(db: Session, cat: Catalogue) -> None:
    ascending = [row.name for row in institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery()).items]
    assert ascending == ["CHU de Bordeaux", "Clinique des Cèdres", "Hôpital Saint-André", "Laboratoire Pasteur"]
    descending = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(descending=True)).items
    assert [row.name for row in descending] == ascending[::-1]


@pytest.mark.parametrize(
    ("sort", "groups"),
    [
        ("city", [["chu", "hopital"], ["labo"], ["clinique"]]),
        ("postal_code", [["clinique"], ["chu"], ["hopital"], ["labo"]]),
        ("type", [["hopital"], ["labo"], ["clinique"], ["chu"]]),
        ("status", [["chu"], ["clinique"], ["hopital", "labo"]]),
    ],
)
def test_sorting_by_each_column_with_ties_broken_by_id(
    db: Session, cat: Catalogue, sort: str, groups: list[list[str]]
) -> None:
    expected = [
        institution.id
        for group in groups
        for institution in sorted((getattr(cat, name) for name in group), key=lambda i: i.id)
    ]
    assert _ordered(db, InstitutionQuery(sort=sort)) == expected
    assert _ordered(db, InstitutionQuery(sort=sort, descending=True)) == expected[::-1]


def test_sorting_by_creation_and_update_time(db: Session, clock) -> None:
    first = make_institution(db, name="Zeta")
    clock(minutes=1)
    second = make_institution(db, name="Alpha")
    clock(minutes=1)
    institutions.update_institution(db, SYSTEM_ACTOR, first.id, {"city": "Lyon"}, expected_version=1)
    assert _ordered(db, InstitutionQuery(sort="created")) == [first.id, second.id]
    assert _ordered(db, InstitutionQuery(sort="created", descending=True)) == [second.id, first.id]
    assert _ordered(db, InstitutionQuery(sort="updated")) == [second.id, first.id]


def test_ties_are_broken_by_id_in_the_sort_direction(db: Session) -> None:
    same = [make_institution(db, name="Clinique Copie").id for _ in range(6)]
    assert _ordered(db, InstitutionQuery()) == sorted(same)
    assert _ordered(db, InstitutionQuery(descending=True)) == sorted(same, reverse=True)


def test_pages_cover_the_list_exactly_once_with_the_total(db: Session) -> None:
    ids = [make_institution(db, name=f"Clinique {index % 4}").id for index in range(23)]
    seen: list[uuid.UUID] = []
    for page_number in range(1, 5):
        page = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(), PageRequest(page_number, 7))
        assert (page.total, page.page, page.page_size) == (23, page_number, 7)
        seen += [row.id for row in page.items]
    assert len(seen) == 23 and set(seen) == set(ids)
    assert seen == _ordered(db, InstitutionQuery(), PageRequest(1, 100))
    beyond = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(), PageRequest(9, 7))
    assert beyond.items == [] and beyond.total == 23


def test_paging_total_counts_the_filtered_rows_with_a_profile_filter(db: Session, cat: Catalogue) -> None:
    page = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(beds_min=100), PageRequest(1, 2))
    assert page.total == 3 and len(page.items) == 2


def test_page_request_is_clamped() -> None:
    assert PageRequest(0, 1000) == PageRequest(1, 100)
    assert PageRequest(-3, 0).offset == 0 and PageRequest(3, 25).offset == 50


# --------------------------------------------------------------------------------------------
# Bookmarkable parameters


def test_query_round_trips_through_url_parameters() -> None:
    query = InstitutionQuery(
        q="clinique du lac",
        types=(InstitutionType.HOSPITAL, InstitutionType.PHARMACY),
        statuses=(CommercialStatus.CLIENT,),
        region="Île-de-France",
        city="Paris",
        assigned_user_id=uuid.uuid4(),
        team_id=uuid.uuid4(),
        tags=("vip", "cardio"),
        specialties=("Oncologie",),
        beds_min=10,
        beds_max=500,
        rooms_min=0,
        rooms_max=20,
        compliance=(ComplianceStatus.EXPIRED,),
        archived="all",
        sort="city",
        descending=True,
    )
    params = query.to_params()
    assert params["type"] == ["hospital", "pharmacy"] and params["sort"] == "-city"
    assert InstitutionQuery.from_params(params) == query
    unassigned = InstitutionQuery(unassigned=True, archived="archived", sort="updated")
    assert InstitutionQuery.from_params(unassigned.to_params()) == unassigned


def test_default_query_has_no_parameters_and_a_selection_is_never_in_the_url() -> None:
    assert InstitutionQuery().to_params() == {}
    assert InstitutionQuery(ids=(uuid.uuid4(),)).to_params() == {}


def test_parameters_accept_repeated_or_comma_separated_values() -> None:
    repeated = InstitutionQuery.from_params({"type": ["hospital", "pharmacy"], "tag": ["vip"]})
    commas = InstitutionQuery.from_params({"type": "hospital, pharmacy", "tag": "vip"})
    assert repeated == commas
    assert repeated.types == (InstitutionType.HOSPITAL, InstitutionType.PHARMACY) and repeated.tags == ("vip",)


def test_bad_parameter_values_are_ignored() -> None:
    query = InstitutionQuery.from_params(
        {
            "type": ["hospital", "boulangerie"],
            "status": "bogus",
            "compliance": "nope",
            "beds_min": "abc",
            "beds_max": "-3",
            "rooms_min": "1.5",
            "assigned_user_id": "not-a-uuid",
            "team_id": "",
            "archived": "maybe",
            "sort": "password_hash",
            "unassigned": "perhaps",
            "page": "2",
        }
    )
    assert query == InstitutionQuery(types=(InstitutionType.HOSPITAL,))


def test_search_text_with_a_comma_survives_the_url() -> None:
    query = InstitutionQuery(q="Dupont, Jean", city="Saint-Denis, La Réunion")
    assert InstitutionQuery.from_params(query.to_params()) == query


# --------------------------------------------------------------------------------------------
# Global search


def test_global_search_finds_institutions_and_contacts_prefix_matches_first(db: Session) -> None:
    contains = make_institution(db, name="Clinique Pasteur", postal_code="33000", city="Bordeaux")
    starts = make_institution(db, name="Pasteur Santé", city="Lyon")
    contact_contains = make_contact(
        db, contains, first_name="Louis", last_name="Martin", title="Pharmacien", email="l.pasteur@example.fr"
    )
    contact_starts = make_contact(db, starts, first_name="Anne", last_name="Pasteur-Vallery")
    groups = {group.kind: group.hits for group in search.search_everything(db, SYSTEM_ACTOR, "PAST")}
    institution_hits, contact_hits = groups["institution"], groups["contact"]
    assert [h.id for h in institution_hits] == [starts.id, contains.id]
    assert institution_hits[1].title == "Clinique Pasteur" and institution_hits[1].subtitle == "33000 Bordeaux"
    assert [h.id for h in contact_hits] == [contact_starts.id, contact_contains.id]
    assert contact_hits[1].title == "Louis Martin" and contact_hits[1].subtitle == "Pharmacien · Clinique Pasteur"


def test_global_search_ignores_accents_and_leaves_out_archived_records(db: Session) -> None:
    hopital = make_institution(db, name="Hôpital Saint-Éloi")
    archived = make_institution(db, name="Hôpital Fermé")
    institutions.set_archived(db, SYSTEM_ACTOR, archived.id, True)
    gone = make_contact(db, hopital, last_name="Hopitalier")
    contacts.set_archived(db, SYSTEM_ACTOR, gone.id, True)
    assert [h.id for g in search.search_everything(db, SYSTEM_ACTOR, "hopital") for h in g.hits] == [hopital.id]


def test_global_search_needs_two_characters_and_respects_the_limit(db: Session) -> None:
    for index in range(4):
        make_institution(db, name=f"Clinique {index}")
    assert search.search_everything(db, SYSTEM_ACTOR, "c") == []
    assert search.search_everything(db, SYSTEM_ACTOR, "  c  ") == []
    assert len(search.search_everything(db, SYSTEM_ACTOR, "cl")[0].hits) == 4
    assert len(search.search_everything(db, SYSTEM_ACTOR, "cl", limit=3)[0].hits) == 3


# --------------------------------------------------------------------------------------------
# Saved views


@pytest.fixture
def people(db: Session) -> dict[str, Actor]:
    team, other_team = make_team(db), make_team(db)
    return {
        "owner": actor_of(make_user(db, team=team)),
        "teammate": actor_of(make_user(db, team=team)),
        "team_admin": actor_of(make_user(db, role=Role.TEAM_ADMIN, team=team)),
        "stranger": actor_of(make_user(db, team=other_team)),
        "loner": actor_of(make_user(db)),
        "admin": actor_of(make_user(db, role=Role.ADMIN)),
    }


def _view_names(db: Session, actor: Actor, page: str = "institutions") -> list[str]:
    return [v.name for v in views.list_views(db, actor, page)]


def test_private_view_is_seen_by_its_owner_only(db: Session, people: dict[str, Actor]) -> None:
    query = InstitutionQuery(types=(InstitutionType.HOSPITAL,), tags=("vip",), sort="city", descending=True)
    views.save_view(db, people["owner"], page="institutions", name="Mes hôpitaux", query=dict(query.to_params()))
    [view] = views.list_views(db, people["owner"], "institutions")
    assert (view.name, view.is_shared, view.is_mine) == ("Mes hôpitaux", False, True)
    assert InstitutionQuery.from_params(view.query) == query
    for other in ("teammate", "stranger", "admin"):
        assert _view_names(db, people[other]) == []
    assert _view_names(db, people["owner"], "contacts") == []


def test_shared_view_is_seen_by_the_team_only(db: Session, people: dict[str, Actor]) -> None:
    views.save_view(db, people["owner"], page="institutions", name="Clients VIP", query={"tag": ["vip"]}, shared=True)
    [seen] = views.list_views(db, people["teammate"], "institutions")
    assert (seen.name, seen.is_shared, seen.is_mine) == ("Clients VIP", True, False)
    assert _view_names(db, people["stranger"]) == []
    assert _view_names(db, people["loner"]) == []


def test_a_user_without_a_team_cannot_share_a_view(db: Session, people: dict[str, Actor]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        views.save_view(db, people["loner"], page="institutions", name="Vue", query={}, shared=True)
    assert refused.value.field_errors == {"shared": "You are not in a team to share with."}
    with pytest.raises(ValidationFailed) as blank:
        views.save_view(db, people["owner"], page="institutions", name="   ", query={})
    assert blank.value.field_errors == {"name": "This field is required."}


def test_saving_under_the_same_name_replaces_the_view(db: Session, people: dict[str, Actor]) -> None:
    first = views.save_view(db, people["owner"], page="institutions", name="Vue", query={"q": "a"})
    second = views.save_view(db, people["owner"], page="institutions", name=" Vue ", query={"q": "b"}, shared=True)
    assert first.id == second.id
    [view] = views.list_views(db, people["owner"], "institutions")
    assert view.query == {"q": "b"} and view.is_shared


def test_only_the_owner_or_an_admin_deletes_a_view(db: Session, people: dict[str, Actor]) -> None:
    shared = views.save_view(db, people["owner"], page="institutions", name="Partagée", query={}, shared=True)
    for other in ("teammate", "team_admin", "stranger"):
        with pytest.raises(Forbidden):
            views.delete_view(db, people[other], shared.id)
    assert views.delete_view(db, people["admin"], shared.id)
    mine = views.save_view(db, people["owner"], page="institutions", name="Privée", query={})
    assert views.delete_view(db, people["owner"], mine.id)
    db.flush()
    assert _view_names(db, people["owner"]) == []
    with pytest.raises(NotFound):
        views.delete_view(db, people["owner"], mine.id)


# --------------------------------------------------------------------------------------------
# Exports

HOSTILE_NAMES = ('=HYPERLINK("http://evil.example")', "+33 Clinique", "-Clinique Moins", "@SUM(A1)")


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def _export(db: Session, query: InstitutionQuery, export_format: ExportFormat, actor: Actor | None = None) -> bytes:
    actor = actor or actor_of(make_user(db, name="Eric Export"))
    with use_locale("en"):
        content = exports.export_institutions(db, actor, query, export_format)
    db.flush()  # the security log entry is written
    return content


def test_csv_export_is_the_filtered_list_with_bom_and_semicolons(db: Session, cat: Catalogue) -> None:
    content = _export(db, InstitutionQuery(city="Bordeaux"), ExportFormat.CSV)
    header, *rows = _csv_rows(content)
    assert header[:3] == ["Name", "Type", "FINESS"] and header[-1] == "Archived"
    assert [row[0] for row in rows] == ["CHU de Bordeaux", "Hôpital Saint-André"]
    chu = dict(zip(header, rows[0], strict=True))
    assert chu["Type"] == "University hospital (CHU)" and chu["Status"] == "Client"
    assert (chu["SIRET"], chu["Accounting number"], chu["Beds"]) == (SIRET, "C0001", "2500")
    assert (chu["Assigned to"], chu["Team"], chu["Tags"], chu["Archived"]) == (
        "Anne Aquitaine",
        "Aquitaine",
        "cardio, vip",
        "No",
    )


def test_export_follows_the_archived_filter(db: Session, cat: Catalogue) -> None:
    assert [r[0] for r in _csv_rows(_export(db, InstitutionQuery(), ExportFormat.CSV))[1:]] == [
        "CHU de Bordeaux",
        "Clinique des Cèdres",
        "Hôpital Saint-André",
        "Laboratoire Pasteur",
    ]
    archived = _csv_rows(_export(db, InstitutionQuery(archived="archived"), ExportFormat.CSV))[1:]
    assert [(r[0], r[-1]) for r in archived] == [("Pharmacie du Lac", "Yes")]


def test_csv_export_neutralises_formula_cells_and_keeps_markup_as_text(db: Session) -> None:
    for name in (*HOSTILE_NAMES, "<script>alert(1)</script>"):
        make_institution(db, name=name, tags=["=cmd|' /C calc'!A0"])
    rows = _csv_rows(_export(db, InstitutionQuery(), ExportFormat.CSV))[1:]
    names = {row[0] for row in rows}
    assert names == {"'" + name for name in HOSTILE_NAMES} | {"<script>alert(1)</script>"}
    assert {row[14] for row in rows} == {"'=cmd|' /C calc'!A0"}


def test_xlsx_export_neutralises_formula_cells_and_keeps_markup_as_text(db: Session, cat: Catalogue) -> None:
    for name in (*HOSTILE_NAMES, "<script>alert(1)</script>"):
        make_institution(db, name=name)
    content = _export(db, InstitutionQuery(), ExportFormat.XLSX)
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None and sheet.title == "Institutions"
    header, *rows = list(sheet.iter_rows())
    assert [cell.value for cell in header][:2] == ["Name", "Type"]
    by_name = {str(row[0].value): row for row in rows}
    assert set(by_name) == {*("'" + name for name in HOSTILE_NAMES), "<script>alert(1)</script>", *ACTIVE}
    assert all(row[0].data_type == "s" for row in rows)  # text, never a formula
    assert by_name["CHU de Bordeaux"][12].value == 2500


def test_xlsx_export_leaves_out_control_characters_xml_cannot_hold(db: Session) -> None:
    make_institution(db, name="Clinique\x07 du\x1a Parc")
    content = _export(db, InstitutionQuery(), ExportFormat.XLSX)
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    _, row = list(sheet.iter_rows(values_only=True))
    assert row[0] == "Clinique du Parc"


def test_a_control_character_in_front_does_not_smuggle_a_formula_into_an_export(db: Session) -> None:
    """The XLSX left the control character out after the formula check had looked at the cell: the
    cell began with "=" and ran as a formula."""
    make_institution(db, name='\x01=HYPERLINK("http://evil.example","x")')
    sheet = load_workbook(io.BytesIO(_export(db, InstitutionQuery(), ExportFormat.XLSX))).active
    assert sheet is not None
    _, row = list(sheet.iter_rows())
    assert row[0].data_type == "s" and str(row[0].value).startswith("'=HYPERLINK")
    [_, csv_row] = _csv_rows(_export(db, InstitutionQuery(), ExportFormat.CSV))
    assert csv_row[0].startswith("'")


def test_export_covers_every_page_of_the_list(db: Session) -> None:
    for index in range(101):
        make_institution(db, name=f"Cabinet {index:03d}")
    rows = _csv_rows(_export(db, InstitutionQuery(), ExportFormat.CSV))[1:]
    assert [row[0] for row in rows] == [f"Cabinet {index:03d}" for index in range(101)]


def test_export_is_written_to_the_security_log(db: Session, cat: Catalogue) -> None:
    rep = actor_of(cat.rep_a)
    _export(db, InstitutionQuery(city="Bordeaux", tags=("vip",)), ExportFormat.XLSX, actor=rep)
    [event] = db.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.EXPORT.value)).all()
    assert (event.user_id, event.email, event.severity) == (rep.id, rep.email, "medium")
    assert event.details == {
        "list": "institutions",
        "rows": 2,
        "format": "xlsx",
        "filters": {"city": "Bordeaux", "tag": ["vip"]},
    }


def test_export_by_the_system_actor_is_logged_without_a_user(db: Session, cat: Catalogue) -> None:
    _export(db, InstitutionQuery(), ExportFormat.CSV, actor=SYSTEM_ACTOR)
    [event] = db.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.EXPORT.value)).all()
    assert event.user_id is None and event.email == SYSTEM_ACTOR.email


def test_neutralise_leaves_safe_values_alone() -> None:
    assert tabular.neutralise("Clinique") == "Clinique"
    assert tabular.neutralise(42) == 42 and tabular.neutralise(None) is None
    assert tabular.neutralise("\tcmd") == "'\tcmd"


# --------------------------------------------------------------------------------------------
# The portable parts on SQLite


@pytest.fixture
def sqlite_database(tmp_path: Path, settings_override) -> Iterator[None]:
    settings_override(database_url=f"sqlite:///{tmp_path / 't.sqlite3'}")
    migrate.upgrade()
    yield


def test_sqlite_create_search_and_filter(sqlite_database: None) -> None:
    with unit_of_work() as session:
        assert session.get_bind().dialect.name == "sqlite"
        hopital = make_institution(
            session, name="Hôpital Saint-André", city="Bordeaux", postal_code="33000", tags=["vip"], bed_capacity=600
        )
        make_institution(session, name="Clinique des Cèdres", city="Toulouse", bed_capacity=120)
        make_institution(session, name="Remise 50% Santé")
        make_contact(session, hopital, first_name="Émilie", last_name="Dupont")
    with unit_of_work() as session:

        def found(query: InstitutionQuery) -> set[str]:
            return {row.name for row in institutions.list_institutions(session, SYSTEM_ACTOR, query).items}

        assert found(InstitutionQuery(q="HOPITAL")) == {"Hôpital Saint-André"}
        assert found(InstitutionQuery(q="emilie")) == {"Hôpital Saint-André"}
        assert found(InstitutionQuery(q="50%")) == {"Remise 50% Santé"}
        assert found(InstitutionQuery(city="bordeaux")) == {"Hôpital Saint-André"}
        assert found(InstitutionQuery(tags=("vip",))) == {"Hôpital Saint-André"}
        assert found(InstitutionQuery(beds_max=200)) == {"Clinique des Cèdres"}
        page = institutions.list_institutions(
            session, SYSTEM_ACTOR, InstitutionQuery(descending=True), PageRequest(1, 2)
        )
        assert page.total == 3 and [r.name for r in page.items] == ["Remise 50% Santé", "Hôpital Saint-André"]


def test_sqlite_duplicates_and_unique_identifiers(sqlite_database: None) -> None:
    with unit_of_work() as session:
        make_institution(session, name="CHU de Bordeaux", postal_code="33000", city="Bordeaux", finess="330781196")
    with pytest.raises(DuplicateSuspected):
        with unit_of_work() as session:
            institutions.create_institution(
                session, SYSTEM_ACTOR, {"name": "Centre hospitalier universitaire de Bordeaux", "postal_code": "33000"}
            )
    with pytest.raises(ValidationFailed) as refused:
        with unit_of_work() as session:
            institutions.create_institution(session, SYSTEM_ACTOR, {"name": "Autre", "finess": "330781196"})
    assert refused.value.field_errors == {"finess": "Already used by another institution."}
    with pytest.raises(IntegrityError):
        with unit_of_work() as session:
            session.add(Institution(name="Insertion directe", finess="330781196"))
    with unit_of_work() as session:
        institutions.create_institution(
            session, SYSTEM_ACTOR, {"name": "CHU de Bordeaux", "postal_code": "33000"}, allow_duplicate=True
        )
    with unit_of_work() as session:
        assert institutions.count_institutions(session, InstitutionQuery()) == 2


def _all_pages(query: InstitutionQuery, size: int) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    page_number = 1
    while True:
        with unit_of_work() as session:  # a reader that changed nothing: it may use the shared anchors
            page = institutions.list_institutions(session, SYSTEM_ACTOR, query, PageRequest(page_number, size))
        seen += [row.id for row in page.items]
        if not page.items:
            return seen
        page_number += 1


@pytest.mark.parametrize("sort", sorted(institutions.ANCHORED_SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_deep_pages_from_remembered_anchors_match_plain_offsets(
    clean_db: None, monkeypatch: pytest.MonkeyPatch, sort: str, descending: bool
) -> None:
    with unit_of_work() as session:
        for index in range(31):  # ties on every sort key: the id decides
            make_institution(
                session,
                name=f"Clinique {index % 5}",
                city=["Lyon", "Nantes", "Brest"][index % 3],
                type=[InstitutionType.PHARMACY, InstitutionType.HOSPITAL][index % 2],
                commercial_status=[CommercialStatus.CLIENT, CommercialStatus.PROSPECT][index % 2],
            )
    query = InstitutionQuery(sort=sort, descending=descending)
    with unit_of_work() as session:
        expected = _ordered(session, query, PageRequest(1, 100))
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 3)  # anchors from the third page of 4 rows on
    institutions._anchors.invalidate()
    assert _all_pages(query, 4) == expected
    assert institutions._anchors._entries, "the deep pages did not go through the anchors"


@pytest.mark.parametrize(
    "query",
    [
        InstitutionQuery(q="clinique"),
        InstitutionQuery(tags=("vip",), descending=True),
        InstitutionQuery(specialties=("cardiologie",), archived="all"),
    ],
)
def test_deep_pages_of_the_narrow_tables_match_plain_offsets(
    clean_db: None, monkeypatch: pytest.MonkeyPatch, query: InstitutionQuery
) -> None:
    with unit_of_work() as session:
        for index in range(31):
            made = make_institution(session, name=f"Clinique {index % 5}", tags=["vip"], specialties=["cardiologie"])
            if index % 7 == 0:
                institutions.set_archived(session, SYSTEM_ACTOR, made.id, True)
        assert institutions._source(query, postgresql=is_postgresql(session)) != institutions.WIDE_TABLE
    with unit_of_work() as session:
        expected = _ordered(session, query, PageRequest(1, 100))
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 3)
    institutions._anchors.invalidate()
    assert _all_pages(query, 4) == expected
    assert institutions._anchors._entries, "the deep pages did not go through the anchors"


def test_anchors_are_forgotten_when_an_institution_is_added(clean_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work() as session:
        for index in range(20):
            make_institution(session, name=f"Clinique {index:02d}")
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 3)
    assert len(_all_pages(InstitutionQuery(), 4)) == 20
    with unit_of_work() as session:
        first = make_institution(session, name="Aaa clinique").id
    pages = _all_pages(InstitutionQuery(), 4)
    assert len(pages) == 21 and pages[0] == first and len(set(pages)) == 21


def test_a_common_search_term_is_sorted_like_any_list(db: Session) -> None:
    for index in range(12):
        make_institution(db, name=f"{['Centre', 'Hôpital'][index % 2]} {index:02d}")
    rows = institutions.list_institutions(
        db, SYSTEM_ACTOR, InstitutionQuery(q="hopital", descending=True), PageRequest(1, 4)
    )
    assert rows.total == 6
    assert [row.name for row in rows.items] == ["Hôpital 11", "Hôpital 09", "Hôpital 07", "Hôpital 05"]


def test_profile_filters_follow_every_change_of_the_profile(db: Session) -> None:
    created = make_institution(
        db, name="Clinique Suivie", bed_capacity=150, surgical_rooms=4, compliance_status="pending_review"
    )
    assert _ordered(db, InstitutionQuery(beds_min=100, rooms_max=5)) == [created.id]
    institutions.update_institution(
        db,
        SYSTEM_ACTOR,
        created.id,
        {"bed_capacity": 40, "surgical_rooms": None, "compliance_status": "compliant"},
        expected_version=created.version,
    )
    assert _ordered(db, InstitutionQuery(beds_min=100)) == []
    assert _ordered(db, InstitutionQuery(beds_max=50, compliance=(ComplianceStatus.COMPLIANT,))) == [created.id]
    assert _ordered(db, InstitutionQuery(rooms_min=0)) == []
    row = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery()).items[0]
    assert (row.bed_capacity, row.surgical_rooms) == (40, None)


def test_queries_of_one_shape_share_a_statement_but_never_their_values(db: Session) -> None:
    hospital = make_institution(db, name="Hôpital Forme", type="hospital", bed_capacity=300, tags=["vip"])
    pharmacy = make_institution(db, name="Pharmacie Forme", type="pharmacy", bed_capacity=0, tags=["budget"])
    for kind, tag, beds, expected in (
        (InstitutionType.HOSPITAL, "vip", 100, [hospital.id]),
        (InstitutionType.PHARMACY, "budget", 0, [pharmacy.id]),
        (InstitutionType.PHARMACY, "vip", 0, []),
    ):
        query = InstitutionQuery(types=(kind,), tags=(tag,), beds_min=beds)
        assert _ordered(db, query) == expected
        assert institutions.count_institutions(db, query) == len(expected)
    statements = institutions._page_statement.cache_info()
    both = InstitutionQuery(
        types=(InstitutionType.HOSPITAL, InstitutionType.PHARMACY), tags=("vip", "budget"), beds_min=0
    )
    assert _ordered(db, both) == [hospital.id, pharmacy.id]
    assert institutions._page_statement.cache_info().misses == statements.misses


def test_the_page_statement_selects_the_row_fields_in_their_order() -> None:
    # list_institutions builds InstitutionRow positionally from these columns (then tags and can_edit).
    shape, _params = institutions._filters(InstitutionQuery())
    statement = institutions._page_statement(shape, "name", False, institutions.WIDE_TABLE, False)
    names = [column.name for column in statement.selected_columns]
    assert names == [f.name for f in dataclasses.fields(institutions.InstitutionRow)][:-1]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("sainte marie", {"Clinique Sainte-Marie"}),
        ("SAINTE-MARIE", {"Clinique Sainte-Marie"}),
        ("saint etienne", {"Clinique Sainte-Marie", "L'Hôpital du Gier"}),
        ("l’hopital", {"L'Hôpital du Gier"}),
        ("l hopital", {"L'Hôpital du Gier"}),
    ],
)
def test_search_treats_hyphens_apostrophes_and_spaces_alike(db: Session, q: str, expected: set[str]) -> None:
    make_institution(db, name="Clinique Sainte-Marie", postal_code="42000", city="Saint-Étienne")
    make_institution(db, name="L'Hôpital du Gier", postal_code="42100", city="Saint Étienne")
    make_institution(db, name="Clinique Sainte Anne", city="Lyon")
    assert _names(db, InstitutionQuery(q=q)) == expected
    groups = search.search_everything(db, SYSTEM_ACTOR, q)
    found = {hit.title for group in groups if group.kind == "institution" for hit in group.hits}
    assert found == expected
