"""Calls: logging, validation, visibility and the log's filters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from crm_app.activities import calls
from crm_app.activities.calls import CallQuery
from crm_app.activities.models import CallDirection
from crm_app.platform import events
from crm_app.platform.errors import Conflict, Forbidden, ValidationFailed
from crm_app.platform.models.base import utcnow
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_contact, make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _ids(page: calls.Page[calls.CallRow]) -> set[uuid.UUID]:
    return {row.id for row in page.items}


def test_a_call_is_logged_now_by_default_with_its_contacts_institution(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    now = clock(seconds=0)
    institution = make_institution(db)
    contact = make_contact(db, institution, first_name="Lina", last_name="Morel")
    call = calls.log_call(db, org.rep_a.actor, {"direction": "missed", "contact_id": contact.id})
    assert (call.called_at, call.institution_id, call.user_id) == (now, institution.id, org.rep_a.id)
    row = calls.get_call_row(db, org.rep_a.actor, call.id)
    assert (row.contact_name, row.user_name, row.direction) == ("Lina Morel", "Anne Aubert", CallDirection.MISSED)


def test_call_validation(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        calls.log_call(db, org.rep_a.actor, {"direction": "sideways", "duration_seconds": -5})
    assert refused.value.field_errors == {"direction": "Unknown value.", "duration_seconds": "Out of range."}
    with pytest.raises(ValidationFailed) as refused:
        calls.log_call(db, org.rep_a.actor, {"direction": "in", "called_at": utcnow() + timedelta(hours=1)})
    assert refused.value.field_errors == {"called_at": "A call cannot be in the future."}


def test_calls_are_seen_and_edited_within_the_record_scopes(db: Session, org: Org) -> None:
    call = calls.log_call(db, org.rep_a.actor, {"direction": "out", "summary": "Devis demandé"})
    assert call.id in _ids(calls.list_calls(db, org.manager_a.actor))
    assert call.id not in _ids(calls.list_calls(db, org.rep_a2.actor))
    with pytest.raises(Forbidden):
        calls.update_call(db, org.rep_b.actor, call.id, {"summary": "x"}, expected_version=1)
    calls.update_call(db, org.manager_a.actor, call.id, {"duration_seconds": 120}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        calls.update_call(db, org.rep_a.actor, call.id, {"summary": "late"}, expected_version=1)
    assert refused.value.changed_by == "Marc Manager"
    calls.delete_call(db, org.rep_a.actor, call.id)
    assert calls.list_calls(db, org.rep_a.actor).total == 0


def test_the_log_filters(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    institution = make_institution(db)
    contact = make_contact(db, institution)
    start = utcnow()
    early = calls.log_call(
        db, org.rep_a.actor, {"direction": "in", "called_at": start - timedelta(days=3), "summary": "Question facture"}
    )
    missed = calls.log_call(db, org.rep_a.actor, {"direction": "missed", "contact_id": contact.id})
    clock(minutes=1)  # the clock is frozen: a later call, not a tie
    other = calls.log_call(db, org.manager_a.actor, {"direction": "out", "institution_id": institution.id})
    actor = org.manager_a.actor
    assert [r.id for r in calls.list_calls(db, actor).items] == [other.id, missed.id, early.id]  # newest first
    assert _ids(calls.list_calls(db, actor, CallQuery(mine=True))) == {other.id}
    assert _ids(calls.list_calls(db, actor, CallQuery(user_id=org.rep_a.id))) == {early.id, missed.id}
    assert _ids(calls.list_calls(db, actor, CallQuery(directions=(CallDirection.MISSED, CallDirection.OUT)))) == {
        missed.id,
        other.id,
    }
    assert _ids(calls.list_calls(db, actor, CallQuery(institution_id=institution.id))) == {missed.id, other.id}
    assert _ids(calls.list_calls(db, actor, CallQuery(contact_id=contact.id))) == {missed.id}
    assert _ids(calls.list_calls(db, actor, CallQuery(called_to=start - timedelta(days=1)))) == {early.id}
    assert _ids(calls.list_calls(db, actor, CallQuery(q="facture"))) == {early.id}
    parsed = CallQuery.from_params({"direction": "in,bogus", "from": "2026-01-01", "mine": "true"})
    assert parsed.directions == (CallDirection.IN,) and parsed.mine and parsed.called_from is not None


def test_logging_correcting_and_deleting_a_call_each_publish_its_change(db: Session, org: Org) -> None:
    """The call log and an open call follow `call.changed` (with the owner and team for the cheap
    visibility test), the deletion included."""
    call = calls.log_call(db, org.rep_a.actor, {"direction": "out", "summary": "Relance"})
    calls.update_call(db, org.rep_a.actor, call.id, {"summary": "Relance faite"}, expected_version=call.version)
    calls.update_call(db, org.rep_a.actor, call.id, {"summary": "Relance faite"}, expected_version=call.version)
    calls.delete_call(db, org.rep_a.actor, call.id)
    changed = [e for e in events.pending(db) if isinstance(e, events.CallChanged)]
    assert [(e.call_id, e.user_id, e.team_id, e.actor_id, e.deleted) for e in changed] == [
        (call.id, org.rep_a.id, org.rep_a.actor.team_id, org.rep_a.id, False),
        (call.id, org.rep_a.id, org.rep_a.actor.team_id, org.rep_a.id, False),
        (call.id, org.rep_a.id, org.rep_a.actor.team_id, org.rep_a.id, True),
    ]  # the second correction changed nothing: no event
