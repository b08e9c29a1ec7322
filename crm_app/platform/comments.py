"""Comments on tasks, meetings, notes and quotes, with `@mentions` that notify the users named.

A mention is `@` followed by a user's email local part (`@jeanne.dupont`, what the autocompletion
inserts) or full name (`@Jeanne Dupont`), accents and case ignored; the longest match wins. Only
active users are mentioned, and only those who may see the record are told.

Each area declares how to find its records and who may see them (a `COMMENT_TARGETS` mapping of kind
to resolver), and `crm_app.bootstrap` registers them with `register_target`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.platform import events, notifications
from crm_app.platform.cleaners import long_text
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.comments import Comment, CommentTarget
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, Scope, actor_from, scope_for
from crm_app.platform.records import actor_id, changed_by_name, get_record
from crm_app.platform.text import fold

_clean_body = long_text(10_000, required=True)


@dataclass(frozen=True)
class Target:
    """A record that can be commented on: its title, and who may see it."""

    kind: CommentTarget
    id: uuid.UUID
    title: str
    visible_to: Callable[[Actor], bool]


#: `resolver(session, target_id)` → Target, raising NotFound when the record does not exist.
TargetResolver = Callable[[Session, uuid.UUID], Target]
_RESOLVERS: dict[CommentTarget, TargetResolver] = {}


def register_target(kind: CommentTarget, resolver: TargetResolver) -> None:
    """Let records of `kind` be commented on."""
    _RESOLVERS[kind] = resolver


def _resolver(kind: CommentTarget) -> TargetResolver:
    resolver = _RESOLVERS.get(kind)
    if resolver is None:
        raise NotFound(N_("This record does not exist."))
    return resolver


def _target(session: Session, kind: CommentTarget | str, target_id: uuid.UUID) -> Target:
    try:
        target_kind = CommentTarget(kind)
    except ValueError:
        raise ValidationFailed({"target_kind": N_("Unknown value.")}) from None
    return _resolver(target_kind)(session, target_id)


def _visible_target(session: Session, actor: Actor, kind: CommentTarget | str, target_id: uuid.UUID) -> Target:
    target = _target(session, kind, target_id)
    if not target.visible_to(actor):
        raise Forbidden("record.view")
    return target


# --------------------------------------------------------------------------------------------
# Mentions


@dataclass(frozen=True, slots=True)
class MentionedUser:
    id: uuid.UUID
    full_name: str
    handle: str  # what to type after "@": the email local part


def _handle(email: str) -> str:
    return email.split("@", 1)[0].lower()


def _active_users(session: Session) -> list[User]:
    # A team is hundreds of users at most: matching accents and case away in Python is simplest.
    return list(session.exec(select(User).where(col(User.is_active)).order_by(col(User.full_name))).all())


def _ends_word(text: str, at: int) -> bool:
    return at >= len(text) or not (text[at].isalnum() or text[at] == "_")


def resolve_mentions(session: Session, body: str) -> list[MentionedUser]:
    """The active users `@mentioned` in `body`, in order of first mention, each once."""
    if "@" not in body:
        return []
    users = _active_users(session)
    keys = [(fold(user.full_name), fold(_handle(user.email)), user) for user in users]
    found: dict[uuid.UUID, MentionedUser] = {}
    for position, char in enumerate(body):
        if char != "@" or (position > 0 and (body[position - 1].isalnum() or body[position - 1] in "._-+")):
            continue  # an email address, not a mention
        rest = fold(body[position + 1 : position + 121])
        best: tuple[int, User] | None = None
        for name_key, handle_key, user in keys:
            for key in (name_key, handle_key):
                if key and rest.startswith(key) and _ends_word(rest, len(key)) and (best is None or len(key) > best[0]):
                    best = (len(key), user)
        if best is not None:
            user = best[1]
            found.setdefault(user.id, MentionedUser(user.id, user.full_name, _handle(user.email)))
    return list(found.values())


def mention_candidates(session: Session, actor: Actor, prefix: str, *, limit: int = 8) -> list[MentionedUser]:
    """Active users whose name (any word of it) or email local part starts with `prefix`, for the
    `@` autocompletion; the actor last."""
    wanted = fold(prefix.lstrip("@"))
    matches = []
    for user in _active_users(session):
        name = fold(user.full_name)
        handle = fold(_handle(user.email))
        if not wanted or handle.startswith(wanted) or name.startswith(wanted) or f" {wanted}" in f" {name}":
            matches.append(MentionedUser(user.id, user.full_name, _handle(user.email)))
    matches.sort(key=lambda m: (m.id == actor.id, fold(m.full_name)))
    return matches[:limit]


def _notify_mentions(
    session: Session, actor: Actor, comment: Comment, target: Target, mentioned: Sequence[MentionedUser]
) -> None:
    """Tell the mentioned users who may see the record (never the author)."""
    recipients = []
    for mention in mentioned:
        if mention.id == actor.id:
            continue
        user = session.get(User, mention.id)
        if user is not None and target.visible_to(actor_from(user)):
            recipients.append(mention.id)
    if recipients:
        events.publish(
            session,
            events.CommentMentioned(
                comment_id=comment.id,
                target_kind=target.kind.value,
                target_id=target.id,
                excerpt=notifications.excerpt(comment.body),
                user_ids=tuple(recipients),
                actor_id=actor_id(actor),
            ),
        )


# --------------------------------------------------------------------------------------------
# Writing


def _body(raw: object) -> str:
    try:
        body: str = _clean_body(raw)
    except ValueError as exc:
        raise ValidationFailed({"body": str(exc)}) from None
    return body


def add_comment(
    session: Session, actor: Actor, target_kind: CommentTarget | str, target_id: uuid.UUID, body: str
) -> CommentRow:
    """Comment on a record the actor may see; the users mentioned are told."""
    target = _visible_target(session, actor, target_kind, target_id)
    text = _body(body)
    mentioned = resolve_mentions(session, text)
    comment = Comment(
        target_kind=target.kind,
        target_id=target.id,
        body=text,
        mentions=[str(m.id) for m in mentioned],
        created_by=actor_id(actor),
    )
    session.add(comment)
    session.flush()
    _notify_mentions(session, actor, comment, target, mentioned)
    return _row(actor, comment, actor.full_name, mentioned)


def get_comment(session: Session, comment_id: uuid.UUID, *, for_update: bool = False) -> Comment:
    return get_record(session, Comment, comment_id, missing=N_("This comment does not exist."), for_update=for_update)


def _may_delete(actor: Actor, comment: Comment) -> bool:
    return comment.created_by == actor.id or scope_for(actor, "record.edit") is Scope.ALL


def update_comment(
    session: Session, actor: Actor, comment_id: uuid.UUID, body: str, *, expected_version: int
) -> CommentRow:
    """Only the author edits a comment; users newly mentioned are told."""
    comment = get_comment(session, comment_id, for_update=True)
    target = _visible_target(session, actor, comment.target_kind, comment.target_id)
    if comment.created_by != actor.id:
        raise Forbidden("comment.edit")
    if comment.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, comment.created_by))
    text = _body(body)
    mentioned = resolve_mentions(session, text)
    if text != comment.body:
        before = set(comment.mentions)
        comment.body = text
        comment.mentions = [str(m.id) for m in mentioned]
        comment.touch()
        session.add(comment)
        session.flush()
        _notify_mentions(session, actor, comment, target, [m for m in mentioned if str(m.id) not in before])
    return _row(actor, comment, actor.full_name, mentioned)


def delete_comment(session: Session, actor: Actor, comment_id: uuid.UUID) -> None:
    """The author (or an administrator) deletes a comment."""
    comment = get_comment(session, comment_id, for_update=True)
    _visible_target(session, actor, comment.target_kind, comment.target_id)
    if not _may_delete(actor, comment):
        raise Forbidden("comment.delete")
    session.delete(comment)
    session.flush()


def delete_for_target(session: Session, kind: CommentTarget, target_id: uuid.UUID) -> None:
    """Remove a record's comments with it (called by the record's own delete)."""
    session.exec(sa.delete(Comment).where(col(Comment.target_kind) == kind.value, col(Comment.target_id) == target_id))


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: uuid.UUID
    target_kind: CommentTarget
    target_id: uuid.UUID
    body: str
    author_id: uuid.UUID | None
    author_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    mentions: list[MentionedUser] = field(default_factory=list)
    can_edit: bool = False
    can_delete: bool = False


def _row(actor: Actor, comment: Comment, author_name: str | None, mentioned: Sequence[MentionedUser]) -> CommentRow:
    return CommentRow(
        id=comment.id,
        target_kind=CommentTarget(comment.target_kind),
        target_id=comment.target_id,
        body=comment.body,
        author_id=comment.created_by,
        author_name=author_name,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        version=comment.version,
        mentions=list(mentioned),
        can_edit=comment.created_by == actor.id,
        can_delete=_may_delete(actor, comment),
    )


def list_comments(
    session: Session,
    actor: Actor,
    target_kind: CommentTarget | str,
    target_id: uuid.UUID,
    request: PageRequest | None = None,
) -> Page[CommentRow]:
    """A record's comments, oldest first, paged."""
    target = _visible_target(session, actor, target_kind, target_id)
    request = request or PageRequest(1, 100)
    where = (col(Comment.target_kind) == target.kind.value, col(Comment.target_id) == target.id)
    found = session.exec(
        select(Comment)
        .where(*where)
        .order_by(col(Comment.created_at), col(Comment.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    total = session.exec(select(sa.func.count()).select_from(Comment).where(*where)).one()
    people = session.exec(
        select(User.id, User.full_name, User.email).where(
            col(User.id).in_(
                {c.created_by for c in found if c.created_by} | {uuid.UUID(m) for c in found for m in c.mentions}
            )
        )
    ).all()
    by_id = {person_id: (name, email) for person_id, name, email in people}
    rows = []
    for comment in found:
        mentioned = [
            MentionedUser(uuid.UUID(m), by_id[uuid.UUID(m)][0], _handle(by_id[uuid.UUID(m)][1]))
            for m in comment.mentions
            if uuid.UUID(m) in by_id
        ]
        author = by_id.get(comment.created_by) if comment.created_by else None
        rows.append(_row(actor, comment, author[0] if author else None, mentioned))
    return Page(rows, int(total), request.page, request.page_size)


def comment_counts(
    session: Session, target_kind: CommentTarget, target_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many comments each record has (list badges), in one query."""
    if not target_ids:
        return {}
    rows = session.exec(
        select(Comment.target_id, sa.func.count())
        .where(col(Comment.target_kind) == target_kind.value, col(Comment.target_id).in_(target_ids))
        .group_by(col(Comment.target_id))
    ).all()
    return {target_id: int(count) for target_id, count in rows}


# --------------------------------------------------------------------------------------------
# Mentions become notifications

NOTIFICATION_KINDS: dict[str, str] = {"comment.mentioned": N_("{actor} mentioned you in a comment: “{excerpt}”")}


def _comment_mentioned(session: Session, event: events.CommentMentioned) -> None:
    target_link = notifications.link_for(event.target_kind, event.target_id)
    notifications.notify(
        session,
        event.user_ids,
        kind="comment.mentioned",
        record_kind=event.target_kind,
        record_id=event.target_id,
        link=f"{target_link}#comment-{event.comment_id}" if target_link else None,
        params={
            "actor": notifications.actor_name(session, event.actor_id),
            "excerpt": event.excerpt,
            "comment_id": str(event.comment_id),
        },
        actor_id=event.actor_id,
    )


SUBSCRIBERS: tuple[events.Subscription, ...] = (events.Subscription(events.CommentMentioned, _comment_mentioned),)
