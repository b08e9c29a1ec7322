"""Notes: private or shared, sharing with named users for reading or writing, lists, conflicts."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from crm_app.activities import notes
from crm_app.activities.models import NoteVisibility
from crm_app.activities.notes import NoteQuery
from crm_app.platform import events
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.activity_factories import Org, make_note, make_org
from tests.institution_factories import make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _ids(page: notes.Page[notes.NoteRow]) -> set[uuid.UUID]:
    return {row.id for row in page.items}


def test_a_note_keeps_its_lines_and_is_private_by_default(db: Session, org: Org) -> None:
    note = notes.create_note(db, org.rep_a.actor, {"body": "  Rendez-vous :\n- bloc opératoire\n- achats  \n"})
    assert note.body == "Rendez-vous :\n- bloc opératoire\n- achats"
    assert note.visibility == NoteVisibility.PRIVATE and note.created_by == org.rep_a.id


def test_note_validation(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        notes.create_note(db, org.rep_a.actor, {"body": "", "visibility": "public", "institution_id": uuid.uuid4()})
    assert refused.value.field_errors == {"body": "This field is required.", "visibility": "Unknown value."}
    with pytest.raises(ValidationFailed) as refused:
        notes.create_note(db, org.rep_a.actor, {"body": "x", "shares": [{"user_id": uuid.uuid4()}]})
    assert refused.value.field_errors == {"shares": "This user does not exist or is deactivated."}


def test_a_private_note_is_read_only_by_its_author_even_for_managers_and_admins(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor)
    assert notes.get_note_row(db, org.rep_a.actor, note.id).can_manage
    for person in (org.rep_a2, org.manager_a, org.admin):
        with pytest.raises(Forbidden):
            notes.get_note_row(db, person.actor, note.id)
        assert note.id not in _ids(notes.list_notes(db, person.actor))


def test_a_shared_note_is_read_by_everyone_and_edited_within_the_team(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor, visibility="shared")
    for person in (org.rep_a2, org.rep_b, org.manager_a, org.admin):
        assert note.id in _ids(notes.list_notes(db, person.actor))
    with pytest.raises(Forbidden):
        notes.update_note(db, org.rep_b.actor, note.id, {"body": "Mine"}, expected_version=1)
    notes.update_note(db, org.manager_a.actor, note.id, {"body": "Checked by the manager"}, expected_version=1)
    assert note.body == "Checked by the manager" and note.version == 2


def test_sharing_for_reading_or_writing(db: Session, org: Org) -> None:
    note = make_note(
        db, org.rep_a.actor, shares=[{"user_id": org.rep_b.id}, {"user_id": org.rep_a2.id, "can_write": True}]
    )
    reader = notes.get_note_row(db, org.rep_b.actor, note.id)
    assert not reader.can_edit and not reader.can_manage
    assert {(s.full_name, s.can_write) for s in reader.shares} == {("Bruno Blanc", False), ("Alain Amiel", True)}
    with pytest.raises(Forbidden):
        notes.update_note(db, org.rep_b.actor, note.id, {"body": "Edited"}, expected_version=1)
    notes.update_note(db, org.rep_a2.actor, note.id, {"body": "Edited by a writer"}, expected_version=1)
    assert note.body == "Edited by a writer"
    # A writer edits the text, but neither the sharing nor the visibility.
    with pytest.raises(Forbidden) as refused:
        notes.update_note(db, org.rep_a2.actor, note.id, {"visibility": "shared"}, expected_version=2)
    assert refused.value.action == "note.share"
    with pytest.raises(Forbidden):
        notes.share_note(db, org.rep_a2.actor, note.id, org.manager_a.id)
    with pytest.raises(Forbidden):
        notes.delete_note(db, org.rep_a2.actor, note.id)


def test_the_author_changes_and_removes_shares(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor)
    notes.share_note(db, org.rep_a.actor, note.id, org.rep_b.id)
    notes.share_note(db, org.rep_a.actor, note.id, org.rep_a.id)  # the author needs no share: ignored
    assert note.id in _ids(notes.list_notes(db, org.rep_b.actor, NoteQuery(scope="shared_with_me")))
    notes.share_note(db, org.rep_a.actor, note.id, org.rep_b.id, can_write=True)
    assert notes.get_note_row(db, org.rep_b.actor, note.id).can_edit
    notes.unshare_note(db, org.rep_a.actor, note.id, org.rep_b.id)
    with pytest.raises(Forbidden):
        notes.get_note_row(db, org.rep_b.actor, note.id)
    notes.update_note(db, org.rep_a.actor, note.id, {"shares": [{"user_id": org.manager_a.id}]}, expected_version=1)
    assert [s.user_id for s in notes.get_note_row(db, org.rep_a.actor, note.id).shares] == [org.manager_a.id]


def test_mine_and_shared_with_me_lists(db: Session, org: Org) -> None:
    institution = make_institution(db)
    mine = make_note(db, org.rep_a.actor, institution_id=institution.id, body="Budget 2026 voté")
    shared_with_me = make_note(db, org.rep_b.actor, shares=[{"user_id": org.rep_a.id}])
    everyone = make_note(db, org.rep_b.actor, visibility="shared")
    make_note(db, org.rep_b.actor)  # private, not shared: never listed
    actor = org.rep_a.actor
    assert _ids(notes.list_notes(db, actor)) == {mine.id, shared_with_me.id, everyone.id}
    assert _ids(notes.list_notes(db, actor, NoteQuery(scope="mine"))) == {mine.id}
    assert _ids(notes.list_notes(db, actor, NoteQuery(scope="shared_with_me"))) == {shared_with_me.id}
    assert _ids(notes.list_notes(db, actor, NoteQuery(institution_id=institution.id))) == {mine.id}
    assert _ids(notes.list_notes(db, actor, NoteQuery(q="budget"))) == {mine.id}
    row = notes.list_notes(db, actor, NoteQuery(scope="mine")).items[0]
    assert row.institution_name == institution.name and row.author_name == "Anne Aubert"


def test_second_save_with_stale_version_is_refused(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor, shares=[{"user_id": org.rep_a2.id, "can_write": True}])
    notes.update_note(db, org.rep_a2.actor, note.id, {"body": "First"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        notes.update_note(db, org.rep_a.actor, note.id, {"body": "Second"}, expected_version=1)
    assert refused.value.changed_by == "Alain Amiel"


def test_deleting_a_note(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor, shares=[{"user_id": org.rep_b.id}])
    notes.delete_note(db, org.rep_a.actor, note.id)
    with pytest.raises(NotFound):
        notes.get_note_row(db, org.rep_b.actor, note.id)


def test_a_shared_note_of_someone_without_a_team_is_not_managed_by_any_manager(db: Session, org: Org) -> None:
    note = make_note(db, org.admin.actor, visibility="shared")
    row = notes.get_note_row(db, org.manager_a.actor, note.id)
    assert not row.can_edit and not row.can_manage
    with pytest.raises(Forbidden):
        notes.update_note(db, org.manager_a.actor, note.id, {"body": "Changed"}, expected_version=1)


def test_each_change_to_a_note_publishes_who_may_read_it(db: Session, org: Org) -> None:
    """Writing, editing, sharing, unsharing and deleting a note each publish `NoteChanged` (the notes list,
    an open note and its form follow it); an edit that changes nothing publishes nothing."""
    rep, colleague = org.rep_a, org.rep_a2
    note = notes.create_note(db, rep.actor, {"body": "Bloc", "shares": [{"user_id": colleague.id}]})
    notes.update_note(db, rep.actor, note.id, {"body": "Bloc opératoire"}, expected_version=1)
    notes.update_note(db, rep.actor, note.id, {"body": "Bloc opératoire"}, expected_version=2)  # no change
    notes.update_note(db, rep.actor, note.id, {"visibility": "shared"}, expected_version=2)
    notes.unshare_note(db, rep.actor, note.id, colleague.id)
    notes.share_note(db, rep.actor, note.id, colleague.id, can_write=True)
    notes.delete_note(db, rep.actor, note.id)
    changed = [e for e in events.pending(db) if isinstance(e, events.NoteChanged)]
    assert [(e.note_id, e.author_id, e.team_id, e.actor_id) for e in changed] == [
        (note.id, rep.id, rep.actor.team_id, rep.id)
    ] * 6
    assert [(e.visibility, e.reader_ids, e.deleted) for e in changed] == [
        ("private", (colleague.id,), False),  # written, shared with the colleague
        ("private", (colleague.id,), False),  # edited
        ("shared", (colleague.id,), False),  # made shared
        ("shared", (), False),  # unshared
        ("shared", (colleague.id,), False),  # shared again, for writing
        ("shared", (colleague.id,), True),  # deleted, with the readers it had
    ]
    assert events.from_payload(events.to_payload(changed[-1])) == changed[-1]  # crosses processes
