"""An institution's timeline: activities and changes merged newest first, paged in SQL, within rights;
new sources plug in."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from crm_app.activities import calls
from crm_app.institutions import service as institutions
from crm_app.institutions import timeline
from crm_app.institutions.models import Institution
from crm_app.platform.errors import NotFound
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices
from tests.activity_factories import Org, make_meeting, make_note, make_org, make_task
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_accepted_quote


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _kinds(page: timeline.Page[timeline.TimelineEntry]) -> list[str]:
    return [entry.kind for entry in page.items]


def test_everything_on_the_institution_newest_first(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    institution = make_buyer(db, org.rep_a.actor, name="CHU de Nantes")
    clock(minutes=1)
    contact = make_contact(db, institution, org.rep_a.actor, first_name="Paul", last_name="Roux")
    clock(minutes=1)
    task = make_task(db, org.rep_a.actor, title="Envoyer la plaquette", institution_id=institution.id)
    clock(minutes=1)
    note = make_note(db, org.rep_a.actor, body="Budget voté", institution_id=institution.id, visibility="shared")
    clock(minutes=1)
    call = calls.log_call(
        db,
        org.rep_a.actor,
        {"direction": "out", "contact_id": contact.id, "duration_seconds": 95, "summary": "Intéressé par la démo"},
    )
    clock(minutes=1)
    meeting = make_meeting(
        db,
        org.rep_a.actor,
        title="Démo",
        institution_id=institution.id,
        starts_at=utcnow().replace(microsecond=0) + timedelta(days=2),
    )
    clock(minutes=1)
    institutions.update_institution(db, org.rep_a.actor, institution.id, {"city": "Nantes"}, expected_version=1)
    other = make_buyer(db, org.rep_a.actor)
    make_task(db, org.rep_a.actor, institution_id=other.id)  # another institution's: not shown

    page = timeline.timeline(db, org.rep_a.actor, institution.id)
    assert _kinds(page) == ["meeting", "change", "call", "note", "task", "change", "change"]
    assert page.total == 7
    by_kind = {entry.kind: entry for entry in page.items}
    assert by_kind["meeting"].record_id == meeting.id and by_kind["meeting"].link == f"/meetings/{meeting.id}"
    assert (by_kind["call"].record_id, by_kind["call"].status, by_kind["call"].detail, by_kind["call"].new_value) == (
        call.id,
        "out",
        "Paul Roux",
        "95",
    )
    assert (by_kind["note"].record_id, by_kind["note"].title) == (note.id, "Budget voté")
    assert (by_kind["task"].record_id, by_kind["task"].title, by_kind["task"].status) == (
        task.id,
        "Envoyer la plaquette",
        "todo",
    )
    city_change = page.items[1]
    assert (city_change.title, city_change.detail, city_change.status, city_change.new_value) == (
        "city",
        "update",
        "institution",
        "Nantes",
    )
    assert city_change.link is None and city_change.user_name == "Anne Aubert"
    assert page.items[-2].status == "contact" and page.items[-1].detail == "create"


def test_the_timeline_is_paged_in_a_stable_order(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    institution = make_buyer(db, org.rep_a.actor)
    for number in range(7):
        clock(seconds=1)
        make_task(db, org.rep_a.actor, title=f"T{number}", institution_id=institution.id)
    pages = [timeline.timeline(db, org.rep_a.actor, institution.id, PageRequest(n, 3)) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [8, 8, 8]  # seven tasks and the creation
    titles = [entry.title for p in pages for entry in p.items]
    assert titles == ["T6", "T5", "T4", "T3", "T2", "T1", "T0", None]


def test_each_reader_sees_only_what_they_may(db: Session, org: Org) -> None:
    institution = make_buyer(db, org.admin.actor)
    private = make_note(db, org.rep_a.actor, institution_id=institution.id)
    make_task(db, org.rep_a.actor, institution_id=institution.id)
    calls.log_call(db, org.rep_a.actor, {"direction": "in", "institution_id": institution.id})
    make_meeting(db, org.rep_a.actor, institution_id=institution.id)
    assert sorted(_kinds(timeline.timeline(db, org.rep_a.actor, institution.id))) == [
        "call",
        "change",
        "meeting",
        "note",
        "task",
    ]
    # The team's manager sees the team's activities, not the private note.
    assert sorted(_kinds(timeline.timeline(db, org.manager_a.actor, institution.id))) == [
        "call",
        "change",
        "meeting",
        "task",
    ]
    # Another team's rep sees only the changes of the institution.
    assert _kinds(timeline.timeline(db, org.rep_b.actor, institution.id)) == ["change"]
    assert private.id not in {e.record_id for e in timeline.timeline(db, org.admin.actor, institution.id).items}


def test_kinds_can_be_chosen(db: Session, org: Org) -> None:
    institution = make_buyer(db, org.rep_a.actor)
    make_task(db, org.rep_a.actor, institution_id=institution.id)
    assert _kinds(timeline.timeline(db, org.rep_a.actor, institution.id, kinds=["task"])) == ["task"]
    assert timeline.timeline(db, org.rep_a.actor, institution.id, kinds=[]).total == 0


def test_an_unknown_institution_is_not_found(db: Session, org: Org) -> None:
    with pytest.raises(NotFound):
        timeline.timeline(db, org.rep_a.actor, uuid.uuid4())


@pytest.fixture
def quotes_source() -> Iterator[None]:
    """A stand-in for a later area: one entry per institution, dated at its creation."""
    table = table_of(Institution).c

    def source(actor: Actor, institution_id: uuid.UUID) -> Any:
        return sa.select(
            *timeline.entry_columns(
                "quote",
                table.id,
                table.created_at + sa.text("interval '1 hour'"),
                title=sa.literal("DEV-2026-00001"),
                status=sa.literal("sent"),
            )
        ).where(table.id == institution_id)

    real = timeline._SOURCES.get("quote")  # the quotes area's own, once it is imported
    timeline.register_sources(timeline.TimelineSource("quote", source, link="/quotes/{id}"))
    try:
        yield
    finally:
        if real is None:
            timeline._SOURCES.pop("quote")
        else:  # put it back: popping it hid the quotes from the tests that run after this one
            timeline._SOURCES["quote"] = real


def test_a_new_source_plugs_in(db: Session, org: Org, quotes_source: None) -> None:
    institution = make_buyer(db, org.rep_a.actor)
    page = timeline.timeline(db, org.rep_a.actor, institution.id)
    assert _kinds(page) == ["quote", "change"]
    assert page.items[0].title == "DEV-2026-00001" and page.items[0].link == f"/quotes/{institution.id}"


def test_a_change_of_assignee_names_both_people(db: Session, org: Org) -> None:
    institution = make_buyer(db, org.rep_a.actor, assigned_to=org.rep_a.user)
    institutions.update_institution(
        db,
        org.admin.actor,
        institution.id,
        {"assigned_user_id": org.rep_a2.user.id},
        expected_version=institution.version,
    )
    entries = timeline.timeline(db, org.manager_a.actor, institution.id, kinds=["change"]).items
    change = next(entry for entry in entries if entry.title == "assigned_user_id")
    assert (change.old_value, change.new_value) == (str(org.rep_a.user.id), str(org.rep_a2.user.id))
    assert (change.old_name, change.new_name) == ("Anne Aubert", "Alain Amiel")
    assert all(entry.old_name is None and entry.new_name is None for entry in entries if entry is not change)


def test_quotes_and_invoices_show_only_to_who_may_see_them(db: Session, org: Org) -> None:
    """A rep refused another rep's invoice reads neither its entries nor its audit trail (number,
    amounts, status changes) on the institution's timeline and history."""
    institution = make_buyer(db, org.admin.actor)
    quote = make_accepted_quote(db, org.rep_a.actor, institution)
    invoice = invoices.issue_invoice(
        db, org.rep_a.actor, invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id).id
    )
    own_records = {quote.id, invoice.id}

    def seen(actor: Actor) -> set[uuid.UUID]:
        """The records the actor reads about: timeline entries, and what its and the history's changes are of."""
        entries = timeline.timeline(db, actor, institution.id, PageRequest(1, 100)).items
        history = timeline.history(db, actor, institution.id, PageRequest(1, 100)).items
        audit_ids = {e.record_id for e in entries if e.kind == "change"} | {row.id for row in history}
        return {e.record_id for e in entries if e.kind != "change"} | _audited_entities(db, audit_ids)

    assert own_records <= seen(org.rep_a.actor)
    assert own_records <= seen(org.manager_a.actor)
    assert not own_records & seen(org.rep_b.actor)
    # The institution's own changes stay visible to everyone who may see the institution.
    assert "change" in _kinds(timeline.timeline(db, org.rep_b.actor, institution.id))
    numbers = {invoice.number, quote.number}
    rep_b_history = timeline.history(db, org.rep_b.actor, institution.id, PageRequest(1, 100)).items
    assert not {row.entity_type for row in rep_b_history} & {"quote", "invoice", "credit_note"}
    assert not numbers & {row.new_value for row in rep_b_history}


def _audited_entities(db: Session, audit_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The records the given audit entries are about."""
    if not audit_ids:
        return set()
    a = table_of(AuditEntry).c
    return set(db.connection().execute(sa.select(a.entity_id).where(a.id.in_(audit_ids))).scalars())


def test_a_change_is_named_by_its_record_whatever_the_database_casts_its_id_to() -> None:
    """PostgreSQL casts a UUID to text with dashes, SQLite to its 32 hex digits: both name the record."""
    record_id = uuid.uuid4()
    assert timeline._id_text(record_id.hex) == timeline._id_text(str(record_id)) == str(record_id)
    assert timeline._id_text(None) == timeline._id_text("not an id") == ""
