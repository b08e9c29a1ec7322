"""Institutions: field validation, create, update (audit trail, versions), archive and the rights of each role."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select
from stdnum import luhn

from crm_app.institutions import contacts, timeline
from crm_app.institutions import service as institutions
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, DataSource, Institution, InstitutionType
from crm_app.platform import cleaners as fields
from crm_app.platform import events, identifiers
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.people import Role, User
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import (
    LA_POSTE_ESTABLISHMENT_SIRET,
    LA_POSTE_HEAD_OFFICE_SIRET,
    make_contact,
    make_institution,
    siret_with_key,
)

VALID_SIRET = siret_with_key("7328293200007")  # 73282932000074


def _field_errors(raw: dict[str, Any], *, partial: bool = True) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        institutions.clean(raw, partial=partial)
    return refused.value.field_errors


def _count(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Institution)).one())


def _updates(db: Session, institution_id: uuid.UUID) -> dict[str, tuple[str | None, str | None]]:
    rows = db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == institution_id, AuditEntry.action == "update")
    ).all()
    return {row.field or "": (row.old_value, row.new_value) for row in rows}


def _audit_count(db: Session, institution_id: uuid.UUID) -> int:
    return int(
        db.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.institution_id == institution_id)).one()
    )


# --------------------------------------------------------------------------------------------
# Validation, field by field


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("330781196", "330781196"),
        ("33 078 119 6", "330781196"),
        ("2A0000012", "2A0000012"),
        ("2b0000012", "2B0000012"),
    ],
)
def test_finess_accepts_nine_digits_or_corsican_2a_2b(typed: str, stored: str) -> None:
    assert institutions.clean({"finess": typed}, partial=True)["finess"] == stored


@pytest.mark.parametrize("typed", ["33078119", "3307811960", "2C0000012", "33O781196", "A20000012"])
def test_finess_of_the_wrong_shape_is_refused(typed: str) -> None:
    assert _field_errors({"finess": typed}) == {
        "finess": "A FINESS number has 9 characters: digits, or 2A/2B then 7 digits."
    }


def test_siret_with_a_valid_luhn_key_is_accepted_without_spaces() -> None:
    assert institutions.clean({"siret": "732 829 320 00074"}, partial=True)["siret"] == VALID_SIRET


def test_siret_with_a_wrong_check_digit_is_refused() -> None:
    wrong = VALID_SIRET[:-1] + str((int(VALID_SIRET[-1]) + 1) % 10)
    assert _field_errors({"siret": wrong}) == {"siret": "This SIRET number is not valid (check digit)."}


@pytest.mark.parametrize("typed", ["7328293200007", "732829320000745", "7328293200007A"])
def test_siret_that_is_not_fourteen_digits_is_refused(typed: str) -> None:
    assert _field_errors({"siret": typed}) == {"siret": "A SIRET number has 14 digits."}


def test_siret_whose_siren_fails_its_own_check_is_accepted_for_an_institution() -> None:
    # DOMAIN.md asks the SIRET's key only (the sample file's SIRETs are like this one); the company's
    # own SIRET in the settings is held to the SIREN's key too (tests/unit/test_document_settings.py).
    assert luhn.is_valid("40000000000002") and not luhn.is_valid("400000000")
    assert institutions.clean({"siret": "40000000000002"}, partial=True)["siret"] == "40000000000002"
    with pytest.raises(ValueError, match="check digit"):
        identifiers.clean_siret("40000000000002", check_siren=True)


def test_la_poste_establishment_siret_uses_the_sum_of_digits_instead_of_luhn() -> None:
    assert not luhn.is_valid(LA_POSTE_ESTABLISHMENT_SIRET)
    assert (
        institutions.clean({"siret": LA_POSTE_ESTABLISHMENT_SIRET}, partial=True)["siret"]
        == LA_POSTE_ESTABLISHMENT_SIRET
    )
    assert identifiers.clean_siret("356 000 000 00015") == "35600000000015"  # digits sum to 20
    assert _field_errors({"siret": "35600000000002"}) == {"siret": "This SIRET number is not valid (check digit)."}


def test_la_poste_head_office_siret_is_accepted() -> None:
    assert luhn.is_valid(LA_POSTE_HEAD_OFFICE_SIRET)
    assert identifiers.clean_siret(LA_POSTE_HEAD_OFFICE_SIRET) == LA_POSTE_HEAD_OFFICE_SIRET


@pytest.mark.parametrize(("typed", "stored"), [("33000", "33000"), ("33 000", "33000"), ("20000", "20000")])
def test_french_postal_code_is_five_digits(typed: str, stored: str) -> None:
    assert institutions.clean({"postal_code": typed}, partial=True)["postal_code"] == stored


@pytest.mark.parametrize("typed", ["3300", "330000", "ABCDE", "33-000"])
def test_french_postal_code_of_another_shape_is_refused(typed: str) -> None:
    assert _field_errors({"postal_code": typed}) == {"postal_code": "A French postal code has 5 digits."}


def test_postal_code_of_another_country_follows_that_country() -> None:
    values = institutions.clean({"country": "be", "postal_code": "1000", "phone": "02 555 12 12"}, partial=True)
    assert values == {"country": "BE", "postal_code": "1000", "phone": "+32 2 555 12 12"}
    assert _field_errors({"country": "BE", "postal_code": "#1000"}) == {"postal_code": "This postal code is not valid."}


@pytest.mark.parametrize(
    "typed", ["05 56 79 56 79", "0556795679", "+33556795679", "0033 5 56 79 56 79", "05.56.79.56.79"]
)
def test_phone_is_stored_in_international_format(typed: str) -> None:
    assert institutions.clean({"phone": typed}, partial=True)["phone"] == "+33 5 56 79 56 79"


@pytest.mark.parametrize("typed", ["12345", "05 56 79", "not a phone", "+33 0 00 00 00 00"])
def test_invalid_phone_is_refused(typed: str) -> None:
    assert _field_errors({"phone": typed}) == {"phone": "This phone number is not valid."}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1 234 567,89", Decimal("1234567.89")),
        ("1234,5", Decimal("1234.50")),
        ("1,234.56", Decimal("1234.56")),
        ("12 €", Decimal("12.00")),
        ("1\u202f000,10", Decimal("1000.10")),
        (1234.5, Decimal("1234.50")),
        (Decimal("7"), Decimal("7.00")),
    ],
)
def test_amounts_accept_a_decimal_comma_and_become_decimals(typed: object, stored: Decimal) -> None:
    cleaned = institutions.clean({"annual_revenue": typed}, partial=True)["annual_revenue"]
    assert isinstance(cleaned, Decimal) and cleaned == stored


@pytest.mark.parametrize(
    ("typed", "message"), [("douze", "Enter an amount."), ("-5", "Out of range."), ("1,2,3", "Enter an amount.")]
)
def test_invalid_amounts_are_refused(typed: str, message: str) -> None:
    assert _field_errors({"annual_revenue": typed}) == {"annual_revenue": message}


@pytest.mark.parametrize(("typed", "stored"), [("450", 450), ("1 200", 1200), ("12,0", 12), (80, 80)])
def test_whole_numbers_are_accepted(typed: object, stored: int) -> None:
    assert institutions.clean({"bed_capacity": typed}, partial=True)["bed_capacity"] == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12,5", "Enter a whole number."),
        ("beaucoup", "Enter a whole number."),
        (True, "Enter a whole number."),
        ("-1", "Out of range."),
        ("100001", "Out of range."),
    ],
)
def test_invalid_whole_numbers_are_refused(typed: object, message: str) -> None:
    assert _field_errors({"bed_capacity": typed}) == {"bed_capacity": message}


def test_signalling_nan_is_a_field_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match=r"Enter a whole number\."):
        fields.whole_number()("sNaN")


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("hospital", InstitutionType.HOSPITAL),
        ("university_hospital", InstitutionType.UNIVERSITY_HOSPITAL),
        ("CHU", InstitutionType.UNIVERSITY_HOSPITAL),
        ("chu", InstitutionType.UNIVERSITY_HOSPITAL),
        ("CH", InstitutionType.HOSPITAL),
        ("Centre hospitalier", InstitutionType.HOSPITAL),
        ("Hôpital", InstitutionType.HOSPITAL),
        ("Clinique privée", InstitutionType.PRIVATE_CLINIC),
        ("clinique privee", InstitutionType.PRIVATE_CLINIC),
        ("Private clinic", InstitutionType.PRIVATE_CLINIC),
        ("Centre médical", InstitutionType.MEDICAL_CENTER),
        ("Laboratoire", InstitutionType.LABORATORY),
        ("Pharmacy", InstitutionType.PHARMACY),
    ],
)
def test_type_accepts_codes_and_french_or_english_labels(typed: str, kind: InstitutionType) -> None:
    assert institutions.clean({"type": typed}, partial=True)["type"] is kind


def test_unknown_type_is_refused() -> None:
    assert _field_errors({"type": "Boulangerie"}) == {"type": "Unknown value."}


def test_unknown_field_is_refused() -> None:
    assert _field_errors({"favourite_colour": "blue"}) == {"favourite_colour": "Unknown field."}


def test_every_field_error_is_reported_at_once(db: Session) -> None:
    before = _count(db)
    with pytest.raises(ValidationFailed) as refused:
        institutions.create_institution(
            db,
            SYSTEM_ACTOR,
            {
                "name": "  ",
                "type": "Boulangerie",
                "finess": "123",
                "siret": "123",
                "postal_code": "3300",
                "phone": "12",
                "bed_capacity": "beaucoup",
                "annual_revenue": "douze",
            },
        )
    assert refused.value.field_errors == {
        "name": "This field is required.",
        "type": "Unknown value.",
        "finess": "A FINESS number has 9 characters: digits, or 2A/2B then 7 digits.",
        "siret": "A SIRET number has 14 digits.",
        "postal_code": "A French postal code has 5 digits.",
        "phone": "This phone number is not valid.",
        "bed_capacity": "Enter a whole number.",
        "annual_revenue": "Enter an amount.",
    }
    assert _count(db) == before


def test_name_is_required_on_create_and_cannot_be_blanked(db: Session) -> None:
    with pytest.raises(ValidationFailed) as refused:
        institutions.create_institution(db, SYSTEM_ACTOR, {"city": "Lyon"})
    assert refused.value.field_errors == {"name": "This field is required."}
    institution = make_institution(db)
    with pytest.raises(ValidationFailed) as blanked:
        institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"name": ""}, expected_version=1)
    assert blanked.value.field_errors == {"name": "This field is required."}


# --------------------------------------------------------------------------------------------
# Create


def test_create_stores_defaults_profile_labels_and_a_create_entry(db: Session) -> None:
    rep = make_user(db, name="Rita Rep")
    institution = institutions.create_institution(
        db,
        actor_of(rep),
        {
            "name": "  Clinique   des Cèdres ",
            "website": "cedres.example.fr",
            "accounting_number": "c 0042",
            "bed_capacity": "120",
            "compliance_status": "pending_review",
            "audit_date": "15/03/2026",
            "tags": "cardio; vip, cardio",
            "specialties": ["Oncologie"],
        },
    )
    assert institution.name == "Clinique des Cèdres"
    assert institution.type == InstitutionType.OTHER
    assert institution.commercial_status == CommercialStatus.PROSPECT
    assert institution.country == "FR" and institution.data_source == DataSource.MANUAL
    assert institution.website == "https://cedres.example.fr"
    assert institution.accounting_number == "C0042"
    assert institution.created_by == rep.id and institution.version == 1
    assert institution.assigned_user_id is None
    detail = institutions.get_detail(db, actor_of(rep), institution.id)
    assert detail.profile.bed_capacity == 120
    assert detail.profile.compliance_status == ComplianceStatus.PENDING_REVIEW
    assert detail.profile.audit_date == date(2026, 3, 15)
    assert detail.tags == ["cardio", "vip"] and detail.specialties == ["Oncologie"]
    assert detail.created_by_name == "Rita Rep" and detail.can_edit
    [entry] = db.exec(select(AuditEntry).where(AuditEntry.entity_id == institution.id)).all()
    assert (entry.action, entry.actor_id, entry.actor_name) == ("create", rep.id, "Rita Rep")


def test_unknown_institution_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        institutions.get_detail(db, SYSTEM_ACTOR, uuid.uuid4())
    with pytest.raises(NotFound):
        institutions.update_institution(db, SYSTEM_ACTOR, uuid.uuid4(), {"city": "Lyon"}, expected_version=1)


# --------------------------------------------------------------------------------------------
# Update: audit trail, versions, conflicts


def test_update_records_old_and_new_value_of_each_changed_field(db: Session) -> None:
    admin = make_user(db, role=Role.ADMIN, name="Alice Admin")
    institution = make_institution(
        db,
        name="Clinique Pasteur",
        city="Lyon",
        bed_capacity=100,
        tags=["cardio"],
        compliance_status="pending_review",
        annual_revenue="1000",
    )
    institutions.update_institution(
        db,
        actor_of(admin),
        institution.id,
        {
            "name": "Clinique Pasteur Lyon",
            "city": "Lyon",
            "bed_capacity": "150",
            "tags": ["cardio", "vip"],
            "compliance_status": "compliant",
            "annual_revenue": "1 500,5",
            "specialties": "Oncologie",
            "compliance_expiry": "2027-01-31",
        },
        expected_version=1,
    )
    assert _updates(db, institution.id) == {
        "name": ("Clinique Pasteur", "Clinique Pasteur Lyon"),
        "bed_capacity": ("100", "150"),
        "tags": ("cardio", "cardio, vip"),
        "specialties": (None, "Oncologie"),
        "compliance_status": ("pending_review", "compliant"),
        "annual_revenue": ("1000.00", "1500.50"),
        "compliance_expiry": (None, "2027-01-31"),
    }
    entries = db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == institution.id, AuditEntry.action == "update")
    ).all()
    assert {(e.actor_id, e.actor_name) for e in entries} == {(admin.id, "Alice Admin")}
    detail = institutions.get_detail(db, SYSTEM_ACTOR, institution.id)
    assert detail.profile.bed_capacity == 150 and detail.tags == ["cardio", "vip"]
    assert detail.updated_by_name == "Alice Admin"


def test_each_save_increments_the_version(db: Session) -> None:
    institution = make_institution(db)
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"city": "Lyon"}, expected_version=1)
    assert institution.version == 2
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"bed_capacity": 5}, expected_version=2)
    assert institution.version == 3


def test_second_save_with_stale_version_is_refused_naming_who_saved_first(db: Session) -> None:
    first = make_user(db, role=Role.ADMIN, name="Alice Admin")
    second = make_user(db, role=Role.ADMIN, name="Bruno Admin")
    institution = make_institution(db, city="Lyon")
    institutions.update_institution(db, actor_of(first), institution.id, {"city": "Nantes"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        institutions.update_institution(db, actor_of(second), institution.id, {"city": "Brest"}, expected_version=1)
    assert refused.value.changed_by == "Alice Admin"
    assert institution.city == "Nantes" and institution.version == 2
    assert set(_updates(db, institution.id)) == {"city"}


def test_unchanged_save_writes_nothing(db: Session) -> None:
    institution = make_institution(
        db,
        name="Clinique du Lac",
        phone="+33 5 56 79 56 79",
        website="https://lac.example.fr",
        bed_capacity=40,
        tags=["cardio", "vip"],
        annual_revenue="10,5",
    )
    entries_before = _audit_count(db, institution.id)
    institutions.update_institution(
        db,
        SYSTEM_ACTOR,
        institution.id,
        {
            "name": " Clinique  du Lac ",
            "phone": "05 56 79 56 79",
            "website": "lac.example.fr",
            "bed_capacity": "40",
            "tags": "cardio, vip",
            "annual_revenue": "10.50",
        },
        expected_version=1,
    )
    assert institution.version == 1
    assert _audit_count(db, institution.id) == entries_before


def test_saving_the_same_tags_in_another_order_writes_nothing(db: Session) -> None:
    institution = make_institution(db, tags=["cardio", "vip"])
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"tags": ["vip", "cardio"]}, expected_version=1)
    assert institution.version == 1
    assert _updates(db, institution.id) == {}


def test_contact_changes_appear_in_the_institution_history(db: Session) -> None:
    institution = make_institution(db)
    contact = make_contact(db, institution, first_name="Jeanne", last_name="Dupont")
    contacts.update_contact(db, SYSTEM_ACTOR, contact.id, {"title": "Cadre de santé"}, expected_version=1)
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"city": "Lyon"}, expected_version=1)
    history = timeline.history(db, SYSTEM_ACTOR, institution.id, PageRequest(1, 50))
    rows = {(r.entity_type, r.action, r.field, r.old_value, r.new_value) for r in history.items}
    assert rows == {
        ("institution", "create", None, None, None),
        ("contact", "create", "contact", None, "Jeanne Dupont"),
        ("contact", "update", "title", None, "Cadre de santé"),
        ("institution", "update", "city", None, "Lyon"),
    }
    assert history.total == 4


def test_history_is_paged_newest_first(db: Session, clock) -> None:
    institution = make_institution(db)
    for version, city in enumerate(("Lyon", "Nantes", "Brest"), start=1):
        clock(minutes=1)
        institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"city": city}, expected_version=version)
    first_page = timeline.history(db, SYSTEM_ACTOR, institution.id, PageRequest(1, 2))
    assert first_page.total == 4
    assert [r.new_value for r in first_page.items] == ["Brest", "Nantes"]
    second_page = timeline.history(db, SYSTEM_ACTOR, institution.id, PageRequest(2, 2))
    assert [(r.action, r.new_value) for r in second_page.items] == [("update", "Lyon"), ("create", None)]


def test_identifiers_of_another_institution_are_refused_on_update(db: Session) -> None:
    make_institution(db, finess="330781196", siret=VALID_SIRET, accounting_number="C0001")
    other = make_institution(db)
    with pytest.raises(ValidationFailed) as refused:
        institutions.update_institution(
            db,
            SYSTEM_ACTOR,
            other.id,
            {"finess": "330781196", "siret": VALID_SIRET, "accounting_number": "c0001"},
            expected_version=1,
        )
    assert refused.value.field_errors == {
        name: "Already used by another institution." for name in ("finess", "siret", "accounting_number")
    }
    # Re-saving an institution's own identifiers is not a clash.
    own = make_institution(db, finess="2A0000012")
    institutions.update_institution(
        db, SYSTEM_ACTOR, own.id, {"finess": "2a0000012", "city": "Ajaccio"}, expected_version=1
    )
    assert own.version == 2


def test_archive_and_restore_are_audited(db: Session, clock) -> None:
    institution = make_institution(db)
    clock(minutes=1)
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, True)
    assert institution.is_archived and institution.version == 2
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, True)  # already archived: nothing more
    clock(minutes=1)
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, False)
    assert not institution.is_archived and institution.version == 3
    actions = db.exec(
        select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
        .where(AuditEntry.entity_id == institution.id, AuditEntry.action != "create")
        .order_by(col(AuditEntry.at))
    ).all()
    assert [tuple(a) for a in actions] == [("archive", "False", "True"), ("restore", "True", "False")]


def test_concurrent_saves_of_the_same_version_do_not_both_succeed(clean_db: None) -> None:
    with unit_of_work() as session:
        institution_id = make_institution(session, city="Lyon").id
    with unit_of_work() as second:
        # The second request has read version 1 when the first one saves and commits ...
        read_first = institutions.get_institution(second, institution_id)
        with unit_of_work() as first:
            institutions.update_institution(first, SYSTEM_ACTOR, institution_id, {"city": "Nantes"}, expected_version=1)
        assert read_first.version == 1  # ... then the second request saves what it read.
        with pytest.raises((Conflict, StaleDataError)):
            institutions.update_institution(second, SYSTEM_ACTOR, institution_id, {"city": "Brest"}, expected_version=1)
            second.flush()


# --------------------------------------------------------------------------------------------
# Rights of each role


class Org:
    """Two teams with every role; `rep_a1`, `rep_a2` are sales reps of team A, `rep_b` of team B."""

    def __init__(self, db: Session) -> None:
        self.team_a, self.team_b = make_team(db), make_team(db)
        self.rep_a1 = make_user(db, team=self.team_a, name="Rep A1")
        self.rep_a2 = make_user(db, team=self.team_a, name="Rep A2")
        self.rep_b = make_user(db, team=self.team_b, name="Rep B")
        self.loner = make_user(db, name="Rep without team")
        self.manager_a = make_user(db, role=Role.MANAGER, team=self.team_a, name="Manager A")
        self.team_admin_a = make_user(db, role=Role.TEAM_ADMIN, team=self.team_a, name="Team admin A")
        self.admin = make_user(db, role=Role.ADMIN, name="Admin")


@pytest.fixture
def org(db: Session) -> Org:
    return Org(db)


def _as(user: User) -> Actor:
    return actor_of(user)


def _update(db: Session, user: User, institution: Institution, **changes: Any) -> Institution:
    return institutions.update_institution(db, _as(user), institution.id, changes, expected_version=institution.version)


def test_user_cannot_edit_an_institution_assigned_to_someone_else(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a2, city="Lyon")
    with pytest.raises(Forbidden) as refused:
        _update(db, org.rep_a1, institution, city="Nantes")
    assert refused.value.action == "institution.edit"
    assert institution.city == "Lyon" and institution.version == 1
    assert not institutions.get_detail(db, _as(org.rep_a1), institution.id).can_edit


def test_user_edits_institutions_assigned_to_or_created_by_them(db: Session, org: Org) -> None:
    mine = make_institution(db, assigned_to=org.rep_a1)
    _update(db, org.rep_a1, mine, city="Lyon")
    created = make_institution(db, _as(org.rep_a1))
    institutions.update_institution(
        db, _as(org.admin), created.id, {"assigned_user_id": org.rep_b.id}, expected_version=1
    )
    _update(db, org.rep_a1, created, city="Nantes")
    assert (mine.city, created.city) == ("Lyon", "Nantes")


def test_user_edits_an_unassigned_institution(db: Session, org: Org) -> None:
    institution = make_institution(db)
    _update(db, org.rep_b, institution, bed_capacity=12)
    assert institutions.get_detail(db, _as(org.rep_b), institution.id).profile.bed_capacity == 12


def test_user_takes_an_unassigned_institution_for_themselves(db: Session, org: Org) -> None:
    institution = make_institution(db)
    _update(db, org.rep_a1, institution, assigned_user_id=org.rep_a1.id)
    assert institution.assigned_user_id == org.rep_a1.id
    assert institution.team_id == org.team_a.id
    assert _updates(db, institution.id) == {
        "assigned_user_id": (None, str(org.rep_a1.id)),
        "team_id": (None, str(org.team_a.id)),
    }


def test_user_cannot_assign_an_institution_to_another_user(db: Session, org: Org) -> None:
    unassigned = make_institution(db)
    with pytest.raises(Forbidden) as refused:
        _update(db, org.rep_a1, unassigned, assigned_user_id=org.rep_a2.id)
    assert refused.value.action == "institution.reassign"
    mine = make_institution(db, assigned_to=org.rep_a1)
    with pytest.raises(Forbidden):
        _update(db, org.rep_a1, mine, assigned_user_id=org.rep_a2.id)
    with pytest.raises(Forbidden):
        _update(db, org.rep_a1, mine, assigned_user_id=None)
    assert unassigned.assigned_user_id is None and mine.assigned_user_id == org.rep_a1.id


def test_user_cannot_create_an_institution_assigned_to_someone_else(db: Session, org: Org) -> None:
    with pytest.raises(Forbidden):
        institutions.create_institution(db, _as(org.rep_a1), {"name": "Clinique X", "assigned_user_id": org.rep_a2.id})
    mine = institutions.create_institution(
        db, _as(org.rep_a1), {"name": "Clinique Y", "assigned_user_id": org.rep_a1.id}
    )
    assert mine.assigned_user_id == org.rep_a1.id


def test_team_admin_reassigns_inside_their_team(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a1)
    _update(db, org.team_admin_a, institution, assigned_user_id=org.rep_a2.id)
    assert (institution.assigned_user_id, institution.team_id) == (org.rep_a2.id, org.team_a.id)
    _update(db, org.team_admin_a, institution, assigned_user_id=None)
    assert (institution.assigned_user_id, institution.team_id) == (None, org.team_a.id)


def test_team_admin_cannot_reassign_to_a_user_of_another_team(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a1)
    with pytest.raises(Forbidden) as refused:
        _update(db, org.team_admin_a, institution, assigned_user_id=org.rep_b.id)
    assert refused.value.action == "institution.reassign"
    with pytest.raises(Forbidden):
        _update(db, org.team_admin_a, institution, assigned_user_id=org.loner.id)
    assert (institution.assigned_user_id, institution.team_id) == (org.rep_a1.id, org.team_a.id)


def test_team_admin_cannot_touch_another_teams_institution(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_b)
    with pytest.raises(Forbidden) as refused:
        _update(db, org.team_admin_a, institution, assigned_user_id=org.rep_a1.id)
    assert refused.value.action == "institution.edit"
    assert institution.assigned_user_id == org.rep_b.id


def test_manager_edits_team_institutions_but_cannot_reassign(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a1)
    _update(db, org.manager_a, institution, city="Rennes", tags=["vip"])
    assert institution.city == "Rennes"
    with pytest.raises(Forbidden) as refused:
        _update(db, org.manager_a, institution, assigned_user_id=org.rep_a2.id)
    assert refused.value.action == "institution.reassign"
    other_team = make_institution(db, assigned_to=org.rep_b)
    with pytest.raises(Forbidden):
        _update(db, org.manager_a, other_team, city="Rennes")
    with pytest.raises(Forbidden):
        institutions.set_archived(db, _as(org.manager_a), other_team.id, True)


def test_admin_edits_reassigns_across_teams_and_archives(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a1)
    _update(db, org.admin, institution, city="Lille")
    _update(db, org.admin, institution, assigned_user_id=org.rep_b.id)
    assert (institution.assigned_user_id, institution.team_id) == (org.rep_b.id, org.team_b.id)
    _update(db, org.admin, institution, assigned_user_id=None, team_id=None)
    assert (institution.assigned_user_id, institution.team_id) == (None, None)
    institutions.set_archived(db, _as(org.admin), institution.id, True)
    assert institution.is_archived


def test_user_cannot_archive_someone_elses_institution(db: Session, org: Org) -> None:
    institution = make_institution(db, assigned_to=org.rep_a2)
    with pytest.raises(Forbidden):
        institutions.set_archived(db, _as(org.rep_a1), institution.id, True)
    assert not institution.is_archived


def test_assigning_to_a_deactivated_or_unknown_user_is_a_field_error(db: Session, org: Org) -> None:
    institution = make_institution(db)
    org.rep_b.is_active = False
    db.flush()
    for user_id in (org.rep_b.id, uuid.uuid4()):
        with pytest.raises(ValidationFailed) as refused:
            _update(db, org.admin, institution, assigned_user_id=user_id)
        assert refused.value.field_errors == {"assigned_user_id": "This user does not exist or is deactivated."}


def test_placing_in_an_unknown_team_is_a_field_error(db: Session, org: Org) -> None:
    institution = make_institution(db)
    with pytest.raises(ValidationFailed) as refused:
        _update(db, org.admin, institution, team_id=uuid.uuid4())
    assert refused.value.field_errors == {"team_id": "This team does not exist."}


def test_assigning_on_create_places_the_institution_in_the_assignees_team(db: Session, org: Org) -> None:
    by_admin = institutions.create_institution(
        db, _as(org.admin), {"name": "Clinique A", "assigned_user_id": org.rep_a1.id}
    )
    assert by_admin.team_id == org.team_a.id
    by_team_admin = institutions.create_institution(
        db, _as(org.team_admin_a), {"name": "Clinique B", "assigned_user_id": org.rep_a2.id}
    )
    assert by_team_admin.team_id == org.team_a.id


def test_contacts_follow_the_institutions_edit_right(db: Session, org: Org) -> None:
    someone_elses = make_institution(db, assigned_to=org.rep_a2)
    contact = make_contact(db, someone_elses)
    rep = _as(org.rep_a1)
    with pytest.raises(Forbidden) as refused:
        contacts.create_contact(db, rep, someone_elses.id, {"last_name": "Martin"})
    assert refused.value.action == "contact.edit"
    with pytest.raises(Forbidden):
        contacts.update_contact(db, rep, contact.id, {"title": "DAF"}, expected_version=1)
    with pytest.raises(Forbidden):
        contacts.set_archived(db, rep, contact.id, True)
    assert not contacts.get_contact_row(db, rep, contact.id).can_edit
    # Their own and unassigned institutions' contacts, and the team's for a manager.
    for institution, user in (
        (make_institution(db, assigned_to=org.rep_a1), org.rep_a1),
        (make_institution(db), org.rep_b),
        (someone_elses, org.manager_a),
    ):
        created = contacts.create_contact(db, _as(user), institution.id, {"last_name": "Martin"})
        contacts.update_contact(db, _as(user), created.id, {"title": "DAF"}, expected_version=1)
        assert contacts.get_contact_row(db, _as(user), created.id).can_edit
    with pytest.raises(Forbidden):
        contacts.create_contact(
            db, _as(org.manager_a), make_institution(db, assigned_to=org.rep_b).id, {"last_name": "Martin"}
        )


def test_overseas_numbers_dialled_the_french_way_are_accepted() -> None:
    from crm_app.platform.identifiers import clean_phone

    assert clean_phone("05 90 69 16 21") == "+590 590 69 16 21"  # Guadeloupe
    assert clean_phone("02 62 40 00 00") == "+262 262 40 00 00"  # La Réunion
    assert clean_phone("05 96 71 23 45") == "+596 596 71 23 45"  # Martinique, not Bordeaux's 05
    assert clean_phone("06 96 12 34 56") == "+596 696 12 34 56"  # a Martinique mobile
    assert clean_phone("05 56 79 56 79") == "+33 5 56 79 56 79"  # Bordeaux stays mainland
    assert clean_phone("06 12 34 56 78") == "+33 6 12 34 56 78"
    assert clean_phone("01 42 34 56 78") == "+33 1 42 34 56 78"
    with pytest.raises(ValueError, match="phone"):
        clean_phone("+44 05 90 69 16 21")


def test_changes_to_an_institution_and_its_contacts_publish_institution_changed(db: Session) -> None:
    """Its open page, its edit form and an open contact follow `institution.changed`; a save that
    changes nothing publishes nothing."""
    institution = institutions.create_institution(db, SYSTEM_ACTOR, {"name": "Clinique du Lac", "city": "Annecy"})
    already = len(events.pending(db))
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"city": "Annecy"}, expected_version=1)
    institutions.update_institution(db, SYSTEM_ACTOR, institution.id, {"city": "Sévrier"}, expected_version=1)
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, True)
    contact = contacts.create_contact(db, SYSTEM_ACTOR, institution.id, {"last_name": "Roux"})
    contacts.update_contact(db, SYSTEM_ACTOR, contact.id, {"first_name": "Léa"}, expected_version=contact.version)
    contacts.set_archived(db, SYSTEM_ACTOR, contact.id, True)
    changed = [e for e in events.pending(db)[already:] if isinstance(e, events.InstitutionChanged)]
    assert [(e.institution_id, e.contact_id) for e in changed] == [
        (institution.id, None),
        (institution.id, None),
        (institution.id, contact.id),
        (institution.id, contact.id),
        (institution.id, contact.id),
    ]
