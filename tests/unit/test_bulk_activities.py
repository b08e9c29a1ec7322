"""Bulk tasks and meeting invitations on institutions: owners or a chosen user, the task.assign reach,
the limit, all or nothing, and the progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from crm_app.activities import bulk
from crm_app.activities.bulk import BulkKind, BulkProgress
from crm_app.activities.models import Meeting, MeetingParticipant, Task
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.models.base import utcnow
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_contact, make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _tasks(db: Session, title: str) -> list[Task]:
    db.flush()
    return list(db.exec(select(Task).where(Task.title == title)).all())


def test_a_task_for_every_institution_of_a_filter_goes_to_each_owner(db: Session, org: Org) -> None:
    tag = f"bulk-{org.admin.id.hex[:6]}"
    mine = make_institution(db, name="A mine", assigned_to=org.rep_a.user, tags=[tag])
    theirs = make_institution(db, name="B theirs", assigned_to=org.rep_b.user, tags=[tag])
    nobody = make_institution(db, name="C nobody", tags=[tag])
    make_institution(db, name="D other tag", assigned_to=org.rep_a.user)
    progress = BulkProgress()
    due = utcnow() + timedelta(days=7)
    result = bulk.create_for_institutions(
        db,
        org.admin.actor,
        InstitutionQuery(tags=(tag,)),
        {"title": "Relance hiver", "due_at": due, "assign_to": "owner", "user_id": org.manager_a.id},
        progress=progress,
    )
    assert (result.created, result.to_owners, result.to_chosen, result.left_out) == (3, 2, 1, 0)
    assert progress.read() == (3, 3)
    assignees = {t.institution_id: t.assignee_id for t in _tasks(db, "Relance hiver")}
    assert assignees == {mine.id: org.rep_a.id, theirs.id: org.rep_b.id, nobody.id: org.manager_a.id}


def test_a_rep_reaches_only_their_own_tasks_and_the_rest_is_reported(db: Session, org: Org) -> None:
    mine = make_institution(db, name="A mine", assigned_to=org.rep_a.user)
    theirs = make_institution(db, name="B theirs", assigned_to=org.rep_b.user)
    selection = InstitutionQuery(ids=(mine.id, theirs.id))
    result = bulk.create_for_institutions(db, org.rep_a.actor, selection, {"title": "Appel", "assign_to": "owner"})
    assert (result.created, result.left_out, result.left_out_names) == (1, 1, ("B theirs",))
    with pytest.raises(Forbidden):
        bulk.create_for_institutions(
            db, org.rep_a.actor, selection, {"title": "Appel", "assign_to": "user", "user_id": org.rep_b.id}
        )


def test_meeting_invitations_invite_each_primary_contact(db: Session, org: Org) -> None:
    first = make_institution(db, name="A", assigned_to=org.rep_a.user)
    second = make_institution(db, name="B", assigned_to=org.rep_a.user)
    contact = make_contact(db, first, first_name="Lina", last_name="Morel", is_primary=True)
    starts = utcnow().replace(microsecond=0) + timedelta(days=3)
    result = bulk.create_for_institutions(
        db,
        org.manager_a.actor,
        InstitutionQuery(ids=(first.id, second.id)),
        {"title": "Salon", "starts_at": starts, "ends_at": starts + timedelta(hours=1), "assign_to": "owner"},
        kind=BulkKind.MEETING,
    )
    assert result.created == 2
    db.flush()
    meetings = db.exec(select(Meeting).where(Meeting.title == "Salon")).all()
    assert {(m.institution_id, m.organizer_id) for m in meetings} == {
        (first.id, org.rep_a.id),
        (second.id, org.rep_a.id),
    }
    invited = db.exec(
        select(MeetingParticipant.contact_id).where(col(MeetingParticipant.meeting_id).in_([m.id for m in meetings]))
    ).all()
    assert list(invited) == [contact.id]


def test_bad_input_is_refused_next_to_its_field(db: Session, org: Org) -> None:
    selection = InstitutionQuery(ids=(make_institution(db).id,))
    with pytest.raises(ValidationFailed) as refused:
        bulk.create_for_institutions(
            db, org.admin.actor, selection, {"title": "", "due_at": utcnow() - timedelta(days=2), "assign_to": "user"}
        )
    assert set(refused.value.field_errors) == {"title"}
    with pytest.raises(ValidationFailed) as refused:
        bulk.create_for_institutions(
            db, org.admin.actor, selection, {"title": "x", "due_at": utcnow() - timedelta(days=2), "assign_to": "user"}
        )
    assert set(refused.value.field_errors) == {"due_at", "user_id"}
    with pytest.raises(ValidationFailed) as refused:
        bulk.create_for_institutions(db, org.admin.actor, selection, {"title": "x"}, kind=BulkKind.MEETING)
    assert set(refused.value.field_errors) == {"starts_at", "ends_at"}


def test_above_the_limit_nothing_is_created(db: Session, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "BULK_LIMIT", 2)
    ids = tuple(make_institution(db, assigned_to=org.rep_a.user).id for _ in range(3))
    with pytest.raises(ValidationFailed) as refused:
        bulk.create_for_institutions(db, org.admin.actor, InstitutionQuery(ids=ids), {"title": "Trop"})
    assert refused.value.field_errors == {"institutions": bulk.TOO_MANY}
    assert _tasks(db, "Trop") == []


def test_a_failure_midway_rolls_every_chunk_back(db: Session, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 2)
    ids = tuple(make_institution(db, assigned_to=org.rep_a.user).id for _ in range(5))
    db.commit()
    calls = {"n": 0}
    original = bulk._write_tasks

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "_write_tasks", failing)
    savepoint = db.begin_nested()
    with pytest.raises(RuntimeError):
        bulk.create_for_institutions(db, org.admin.actor, InstitutionQuery(ids=ids), {"title": "Moitié"})
    savepoint.rollback()
    assert db.exec(select(func.count()).select_from(Task).where(Task.title == "Moitié")).one() == 0
