"""Contacts: validation, one primary per institution, archive/restore, search, audit and conflicts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import Session, col, select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.institutions.models import Contact, Institution
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.factories import actor_of, make_user
from tests.institution_factories import make_contact, make_institution


def _field_errors(db: Session, institution: Institution, raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        contacts.create_contact(db, SYSTEM_ACTOR, institution.id, raw)
    return refused.value.field_errors


def _primary_ids(db: Session, institution: Institution) -> list[uuid.UUID]:
    db.flush()
    return list(
        db.exec(select(Contact.id).where(Contact.institution_id == institution.id, col(Contact.is_primary))).all()
    )


def _institution_hits(db: Session, q: str) -> set[uuid.UUID]:
    return {row.id for row in institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(q=q)).items}


# --------------------------------------------------------------------------------------------
# Validation


def test_contact_fields_are_cleaned(db: Session) -> None:
    institution = make_institution(db)
    contact = contacts.create_contact(
        db,
        SYSTEM_ACTOR,
        institution.id,
        {
            "first_name": " Jeanne ",
            "last_name": "Dupont",
            "email": " Jeanne.Dupont@CHU-Bordeaux.FR ",
            "phone": "05 56 79 56 79",
            "mobile": "06.12.34.56.78",
            "email_opt_out": "oui",
        },
    )
    assert (contact.first_name, contact.last_name) == ("Jeanne", "Dupont")
    assert contact.email == "Jeanne.Dupont@chu-bordeaux.fr"
    assert (contact.phone, contact.mobile) == ("+33 5 56 79 56 79", "+33 6 12 34 56 78")
    assert contact.email_opt_out is True and contact.is_primary is False
    assert contact.version == 1 and not contact.is_archived


def test_contact_phone_follows_the_institutions_country(db: Session) -> None:
    institution = make_institution(db, country="BE")
    contact = make_contact(db, institution, phone="02 555 12 12")
    assert contact.phone == "+32 2 555 12 12"


@pytest.mark.parametrize("email", ["jeanne", "jeanne@", "jeanne@chu", "jeanne dupont@chu.fr", "a@b@chu.fr"])
def test_invalid_email_is_refused(db: Session, email: str) -> None:
    assert _field_errors(db, make_institution(db), {"last_name": "Dupont", "email": email}) == {
        "email": "Enter a valid email address."
    }


def test_every_contact_field_error_is_reported_at_once(db: Session) -> None:
    institution = make_institution(db)
    assert _field_errors(
        db,
        institution,
        {"last_name": " ", "email": "nope", "phone": "12", "mobile": "34", "is_primary": "peut-être", "nickname": "JD"},
    ) == {
        "last_name": "This field is required.",
        "email": "Enter a valid email address.",
        "phone": "This phone number is not valid.",
        "mobile": "This phone number is not valid.",
        "is_primary": "Enter yes or no.",
        "nickname": "Unknown field.",
    }
    assert contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id).total == 0


def test_contact_of_an_unknown_institution_or_unknown_contact_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        contacts.create_contact(db, SYSTEM_ACTOR, uuid.uuid4(), {"last_name": "Dupont"})
    with pytest.raises(NotFound):
        contacts.update_contact(db, SYSTEM_ACTOR, uuid.uuid4(), {"title": "DAF"}, expected_version=1)
    with pytest.raises(NotFound):
        contacts.get_contact_row(db, SYSTEM_ACTOR, uuid.uuid4())


# --------------------------------------------------------------------------------------------
# One primary contact at most


def test_first_primary_contact_is_listed_first(db: Session) -> None:
    institution = make_institution(db)
    make_contact(db, institution, last_name="Albert")
    primary = make_contact(db, institution, last_name="Zola", is_primary=True)
    page = contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id)
    assert [row.last_name for row in page.items] == ["Zola", "Albert"]
    assert page.items[0].id == primary.id and page.items[0].is_primary


def test_creating_a_new_primary_contact_clears_the_old_one(db: Session) -> None:
    institution = make_institution(db)
    old = make_contact(db, institution, is_primary=True)
    new = make_contact(db, institution, is_primary=True)
    assert _primary_ids(db, institution) == [new.id]
    assert not old.is_primary


def test_making_another_contact_primary_clears_the_old_one(db: Session) -> None:
    institution = make_institution(db)
    old = make_contact(db, institution, is_primary=True)
    new = make_contact(db, institution)
    contacts.update_contact(db, SYSTEM_ACTOR, new.id, {"is_primary": True}, expected_version=1)
    assert _primary_ids(db, institution) == [new.id]
    assert not old.is_primary


def test_primaries_of_different_institutions_are_independent(db: Session) -> None:
    first, second = make_institution(db), make_institution(db)
    one = make_contact(db, first, is_primary=True)
    two = make_contact(db, second, is_primary=True)
    assert _primary_ids(db, first) == [one.id] and _primary_ids(db, second) == [two.id]


def test_archiving_the_primary_contact_frees_the_primary_place(db: Session) -> None:
    institution = make_institution(db)
    old = make_contact(db, institution, is_primary=True)
    contacts.set_archived(db, SYSTEM_ACTOR, old.id, True)
    assert not old.is_primary
    new = make_contact(db, institution, is_primary=True)
    contacts.set_archived(db, SYSTEM_ACTOR, old.id, False)
    assert _primary_ids(db, institution) == [new.id]


# --------------------------------------------------------------------------------------------
# Archive, restore and search


def test_archived_contacts_leave_the_lists_until_restored(db: Session, clock) -> None:
    institution = make_institution(db)
    kept = make_contact(db, institution, last_name="Martin")
    gone = make_contact(db, institution, last_name="Durand")
    clock(minutes=1)
    contacts.set_archived(db, SYSTEM_ACTOR, gone.id, True)
    assert gone.is_archived and gone.version == 2
    assert [r.id for r in contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id).items] == [kept.id]
    with_archived = contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id, include_archived=True)
    assert {r.id for r in with_archived.items} == {kept.id, gone.id} and with_archived.total == 2
    assert institutions.get_detail(db, SYSTEM_ACTOR, institution.id).contact_count == 1
    assert [r.id for r in contacts.list_contacts(db, SYSTEM_ACTOR, q="durand", archived="archived").items] == [gone.id]
    assert contacts.list_contacts(db, SYSTEM_ACTOR, q="durand").total == 0
    clock(minutes=1)
    contacts.set_archived(db, SYSTEM_ACTOR, gone.id, False)
    assert contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id).total == 2
    actions = db.exec(
        select(AuditEntry.action).where(AuditEntry.entity_id == gone.id).order_by(col(AuditEntry.at))
    ).all()
    assert list(actions) == ["create", "archive", "restore"]


def test_institution_search_finds_contact_names_until_the_contact_is_archived(db: Session) -> None:
    institution = make_institution(db, name="Clinique du Lac")
    make_institution(db, name="Clinique des Pins")
    contact = make_contact(db, institution, first_name="Hélène", last_name="Lefèvre")
    assert _institution_hits(db, "helene lefevre") == {institution.id}
    assert _institution_hits(db, "LEFÈVRE") == {institution.id}
    contacts.set_archived(db, SYSTEM_ACTOR, contact.id, True)
    assert _institution_hits(db, "lefevre") == set()
    contacts.set_archived(db, SYSTEM_ACTOR, contact.id, False)
    assert _institution_hits(db, "lefevre") == {institution.id}


def test_renaming_a_contact_updates_the_institution_search(db: Session) -> None:
    institution = make_institution(db)
    contact = make_contact(db, institution, last_name="Martin")
    contacts.update_contact(db, SYSTEM_ACTOR, contact.id, {"last_name": "Bernard"}, expected_version=1)
    assert _institution_hits(db, "bernard") == {institution.id}
    assert _institution_hits(db, "martin") == set()


def test_contact_list_searches_name_email_and_title_and_pages(db: Session) -> None:
    institution = make_institution(db, name="Clinique Saint-Jean")
    for index in range(7):
        make_contact(db, institution, first_name="Émile", last_name=f"Durand{index}", email=f"emile{index}@stjean.fr")
    other = make_contact(db, institution, last_name="Petit", title="Pharmacien gérant")
    first = contacts.list_contacts(db, SYSTEM_ACTOR, q="emile", request=PageRequest(1, 5))
    assert first.total == 7 and [r.last_name for r in first.items] == [f"Durand{i}" for i in range(5)]
    second = contacts.list_contacts(db, SYSTEM_ACTOR, q="EMILE", request=PageRequest(2, 5))
    assert [r.last_name for r in second.items] == ["Durand5", "Durand6"]
    assert [r.id for r in contacts.list_contacts(db, SYSTEM_ACTOR, q="pharmacien gerant").items] == [other.id]
    assert (
        contacts.list_contacts(db, SYSTEM_ACTOR, q="emile3@stjean").items[0].institution_name == "Clinique Saint-Jean"
    )


# --------------------------------------------------------------------------------------------
# Audit and concurrency


def test_contact_update_is_audited_and_bumps_the_version(db: Session) -> None:
    admin = make_user(db, role=Role.ADMIN, name="Alice Admin")
    institution = make_institution(db)
    contact = make_contact(db, institution, last_name="Dupont", email="j.dupont@chu.fr")
    contacts.update_contact(
        db,
        actor_of(admin),
        contact.id,
        {"title": "DAF", "email": "J.Dupont@CHU.fr", "last_name": "Dupont"},
        expected_version=1,
    )
    assert contact.version == 2 and contact.updated_by == admin.id
    rows = db.exec(select(AuditEntry).where(AuditEntry.entity_id == contact.id, AuditEntry.action == "update")).all()
    assert {(r.field, r.old_value, r.new_value, r.institution_id, r.actor_name) for r in rows} == {
        ("title", None, "DAF", institution.id, "Alice Admin"),
        ("email", "j.dupont@chu.fr", "J.Dupont@chu.fr", institution.id, "Alice Admin"),
    }


def test_unchanged_contact_save_writes_nothing(db: Session) -> None:
    contact = make_contact(db, make_institution(db), last_name="Dupont", phone="+33 5 56 79 56 79")
    contacts.update_contact(
        db, SYSTEM_ACTOR, contact.id, {"last_name": "Dupont", "phone": "0556795679"}, expected_version=1
    )
    assert contact.version == 1
    assert (
        db.exec(select(AuditEntry).where(AuditEntry.entity_id == contact.id, AuditEntry.action == "update")).all() == []
    )


def test_second_contact_save_with_stale_version_is_refused_naming_who_saved_first(db: Session) -> None:
    first = make_user(db, role=Role.ADMIN, name="Alice Admin")
    second = make_user(db, role=Role.ADMIN, name="Bruno Admin")
    contact = make_contact(db, make_institution(db), last_name="Dupont")
    contacts.update_contact(db, actor_of(first), contact.id, {"title": "DAF"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        contacts.update_contact(db, actor_of(second), contact.id, {"title": "DSI"}, expected_version=1)
    assert refused.value.changed_by == "Alice Admin"
    assert contact.title == "DAF" and contact.version == 2


def test_conflict_after_an_archive_names_who_archived(db: Session) -> None:
    editor = make_user(db, role=Role.ADMIN, name="Alice Admin")
    archiver = make_user(db, role=Role.ADMIN, name="Bruno Admin")
    contact = make_contact(db, make_institution(db), last_name="Dupont")
    contacts.update_contact(db, actor_of(editor), contact.id, {"title": "DAF"}, expected_version=1)
    contacts.set_archived(db, actor_of(archiver), contact.id, True)
    with pytest.raises(Conflict) as refused:
        contacts.update_contact(db, SYSTEM_ACTOR, contact.id, {"title": "DSI"}, expected_version=2)
    assert refused.value.changed_by == "Bruno Admin"
