"""The comment thread with NiceGUI's simulated user: `@` autocompletion inserting the handle that the
service resolves, the mentioned user notified, editing and deleting one's own comment only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from nicegui.testing import User
from sqlmodel import select

from components.comments import caret_after_edit, mention_at
from crm_app.activities import meetings
from crm_app.platform import comments, notifications
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.comments import Comment
from crm_app.platform.permissions import Actor
from tests.ui.conftest import actor_for, element, log_in


def _meeting(actor: Actor, *guests: uuid.UUID) -> uuid.UUID:
    start = utcnow() + timedelta(days=3)
    with unit_of_work() as session:
        return meetings.create_meeting(
            session,
            actor,
            {
                "title": "Point trimestriel",
                "starts_at": start,
                "ends_at": start + timedelta(hours=1),
                "participant_user_ids": list(guests),
            },
        ).id


async def test_a_mention_chosen_in_the_autocompletion_notifies_that_user(
    ui_user: User, account: Callable[..., str]
) -> None:
    author = account(email="claire@example.org", name="Claire Dupont")
    guest = account(email="bruno.blanc@example.org", name="Bruno Blanc")
    account(email="brigitte.bardin@example.org", name="Brigitte Bardin")
    guest_id = actor_for(guest).id
    meeting_id = _meeting(actor_for(author), guest_id)
    await log_in(ui_user, author, path=f"/login?redirect_to=/meetings/{meeting_id}")
    await ui_user.should_see(marker="no-comments", retries=40)

    ui_user.find(marker="comment-input").type("Merci @bru")
    await ui_user.should_see(marker="mention-bruno.blanc", retries=40)
    await ui_user.should_not_see(marker="mention-brigitte.bardin")  # "bru" is not a prefix of hers
    ui_user.find(marker="mention-bruno.blanc").click()
    box = element(ui_user, "comment-input")
    assert box.value == "Merci @bruno.blanc "
    ui_user.find(marker="comment-input").type("pour le compte rendu.")
    ui_user.find(marker="comment-submit").click()

    await ui_user.should_see(marker="comment", retries=40)
    await ui_user.should_see("@bruno.blanc")  # the mention, highlighted apart from the text
    assert box.value == ""
    with unit_of_work() as session:
        stored = session.exec(select(Comment)).one()
        assert stored.body == "Merci @bruno.blanc pour le compte rendu."
        assert stored.mentions == [str(guest_id)]
        received = notifications.list_notifications(session, actor_for(guest)).items
        assert sorted(n.kind for n in received) == ["comment.mentioned", "meeting.invited"]
        mention = next(n for n in received if n.kind == "comment.mentioned")
        assert mention.link == f"/meetings/{meeting_id}#comment-{stored.id}"
        assert notifications.list_notifications(session, actor_for(author)).items == []


async def test_own_comments_are_edited_and_deleted_others_are_not(ui_user: User, account: Callable[..., str]) -> None:
    author = account(email="claire@example.org", name="Claire Dupont")
    guest = account(email="bruno.blanc@example.org", name="Bruno Blanc")
    meeting_id = _meeting(actor_for(author), actor_for(guest).id)
    with unit_of_work() as session:
        comments.add_comment(session, actor_for(guest), "meeting", meeting_id, "Je serai en retard.")
    await log_in(ui_user, author, path=f"/login?redirect_to=/meetings/{meeting_id}")
    await ui_user.should_see("Je serai en retard.", retries=40)
    await ui_user.should_not_see(marker="comment-edit")  # not hers

    ui_user.find(marker="comment-input").type("Pas de souci.")
    ui_user.find(marker="comment-submit").click()
    await ui_user.should_see(marker="comment-edit", retries=40)
    ui_user.find(marker="comment-edit").click()
    await ui_user.should_see(marker="comment-edit-input")
    ui_user.find(marker="comment-edit-input").clear().type("Pas de souci, on commence sans toi.")
    ui_user.find(marker="comment-save").click()
    await ui_user.should_not_see(marker="comment-edit-input", retries=40)
    await ui_user.should_see("Pas de souci, on commence sans toi.")
    with unit_of_work() as session:
        assert sorted(c.body for c in session.exec(select(Comment)).all()) == [
            "Je serai en retard.",
            "Pas de souci, on commence sans toi.",
        ]

    ui_user.find(marker="comment-delete").click()
    await ui_user.should_see(marker="confirm-dialog")
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_not_see("Pas de souci, on commence sans toi.", retries=40)
    with unit_of_work() as session:
        assert [c.body for c in session.exec(select(Comment)).all()] == ["Je serai en retard."]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("", "Merci @bru", ("bru", 6)),
        ("Merci @br", "Merci @bru", ("bru", 6)),
        ("@ann et", "@anne et", ("anne", 0)),  # typed in the middle
        ("Merci ", "Merci @", ("", 6)),
        ("écrire à", "écrire à jean@exa", None),  # an email address, not a mention
        ("Merci @bruno.blanc", "Merci @bruno.blanc ", None),  # finished by a space
    ],
)
def test_the_mention_being_typed_is_found_at_the_caret(
    before: str, after: str, expected: tuple[str, int] | None
) -> None:
    token = mention_at(after, caret_after_edit(before, after))
    assert (None if token is None else (token.prefix, token.start)) == expected
