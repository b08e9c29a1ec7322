"""Comments on tasks, meetings and notes; @mentions resolved, notified, autocompleted."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from crm_app.platform import comments
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.models.people import Role
from tests.activity_factories import Org, make_meeting, make_note, make_org, make_person, make_task, notifications_of


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def test_mentions_by_email_local_part_or_full_name(db: Session, org: Org) -> None:
    handle = org.rep_a.user.email.split("@")[0]
    found = comments.resolve_mentions(db, f"Merci @{handle}, et @alain amiel: vu avec @Élodie? écrire à x@y.fr")
    assert [m.id for m in found] == [org.rep_a.id, org.rep_a2.id]
    assert found[0].handle == handle and found[1].full_name == "Alain Amiel"


def test_the_longest_name_wins_and_each_user_is_mentioned_once(db: Session, org: Org) -> None:
    marc = make_person(db, name="Marc", email="marc@example.org")
    found = comments.resolve_mentions(db, "@Marc Manager puis @marc et encore @Marc Manager.")
    assert [m.id for m in found] == [org.manager_a.id, marc.id]


def test_inactive_users_are_not_mentioned(db: Session, org: Org) -> None:
    org.rep_b.user.is_active = False
    db.add(org.rep_b.user)
    assert comments.resolve_mentions(db, "@Bruno Blanc") == []


def test_a_mention_notifies_users_who_see_the_record_but_never_the_author(db: Session, org: Org) -> None:
    task = make_task(db, org.rep_a.actor, title="Relance devis")
    row = comments.add_comment(
        db, org.rep_a.actor, "task", task.id, "@Marc Manager peux-tu valider ? @Bruno Blanc @Anne Aubert"
    )
    assert [m.full_name for m in row.mentions] == ["Marc Manager", "Bruno Blanc", "Anne Aubert"]
    [notification] = notifications_of(db, org.manager_a)
    assert notification.kind == "comment.mentioned"
    assert notification.link == f"/tasks/{task.id}#comment-{row.id}"
    assert notification.params["excerpt"].startswith("@Marc Manager peux-tu")
    assert notifications_of(db, org.rep_b) == []  # another team's rep cannot see the task
    assert notifications_of(db, org.rep_a) == []  # the author


def test_comments_need_the_right_to_see_the_record(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor)
    with pytest.raises(Forbidden):
        comments.add_comment(db, org.rep_b.actor, "note", note.id, "Hello")
    with pytest.raises(Forbidden):
        comments.list_comments(db, org.manager_a.actor, "note", note.id)  # a private note stays private
    with pytest.raises(NotFound):
        comments.add_comment(db, org.rep_a.actor, "task", uuid.uuid4(), "Hello")
    with pytest.raises(NotFound):
        comments.add_comment(db, org.rep_a.actor, "quote", uuid.uuid4(), "No quotes area yet")
    with pytest.raises(ValidationFailed) as refused:
        comments.add_comment(db, org.rep_a.actor, "invoice", note.id, "Hello")
    assert refused.value.field_errors == {"target_kind": "Unknown value."}
    with pytest.raises(ValidationFailed) as refused:
        comments.add_comment(db, org.rep_a.actor, "note", note.id, "   ")
    assert refused.value.field_errors == {"body": "This field is required."}


def test_comments_on_a_meeting_are_listed_oldest_first_with_their_mentions(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, participant_user_ids=[org.rep_b.id])
    first = comments.add_comment(db, org.rep_b.actor, "meeting", meeting.id, "Je serai là\nà 14 h")
    second = comments.add_comment(db, org.rep_a.actor, "meeting", meeting.id, "Parfait @Bruno Blanc")
    page = comments.list_comments(db, org.rep_a.actor, "meeting", meeting.id)
    assert [c.id for c in page.items] == [first.id, second.id] and page.total == 2
    assert page.items[0].body == "Je serai là\nà 14 h" and page.items[0].author_name == "Bruno Blanc"
    assert [m.full_name for m in page.items[1].mentions] == ["Bruno Blanc"]
    assert not page.items[0].can_edit and page.items[1].can_edit
    assert comments.comment_counts(db, first.target_kind, [meeting.id]) == {meeting.id: 2}


def test_only_the_author_edits_and_new_mentions_are_notified_once(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    row = comments.add_comment(db, org.rep_a.actor, "task", task.id, "Vu avec @Marc Manager")
    with pytest.raises(Forbidden):
        comments.update_comment(db, org.manager_a.actor, row.id, "Rewritten", expected_version=1)
    comments.update_comment(db, org.rep_a.actor, row.id, "Vu avec @Marc Manager et @Alain Amiel", expected_version=1)
    with pytest.raises(Conflict):
        comments.update_comment(db, org.rep_a.actor, row.id, "Stale", expected_version=1)
    mentioned = [n.kind for n in notifications_of(db, org.manager_a)]
    assert mentioned.count("comment.mentioned") == 1  # not again for the same mention
    assert [n.kind for n in notifications_of(db, org.rep_a2)] == []  # cannot see the task


def test_the_author_or_an_admin_deletes_a_comment(db: Session, org: Org) -> None:
    note = make_note(db, org.rep_a.actor, visibility="shared")
    row = comments.add_comment(db, org.rep_b.actor, "note", note.id, "Intéressant")
    with pytest.raises(Forbidden):
        comments.delete_comment(db, org.rep_a.actor, row.id)
    comments.delete_comment(db, org.admin.actor, row.id)
    assert comments.list_comments(db, org.rep_a.actor, "note", note.id).total == 0


def test_mention_candidates_match_any_word_of_the_name_or_the_handle(db: Session, org: Org) -> None:
    names = [m.full_name for m in comments.mention_candidates(db, org.rep_a.actor, "a")]
    assert {"Anne Aubert", "Alain Amiel", "Ada Admin"} <= set(names)
    assert names[-1] == "Anne Aubert"  # the actor last
    assert [m.full_name for m in comments.mention_candidates(db, org.rep_a.actor, "@blan")] == ["Bruno Blanc"]
    elodie = make_person(db, role=Role.USER, name="Élodie Zèbre")
    assert [m.id for m in comments.mention_candidates(db, org.rep_a.actor, "zebr")] == [elodie.id]
    assert len(comments.mention_candidates(db, org.rep_a.actor, "", limit=3)) == 3
