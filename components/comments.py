"""The comments of a task, meeting, note or quote: newest last, add, edit and delete one's own, with
`@mention` autocompletion (typing `@` and letters offers the matching users; choosing one inserts
`@handle`, the email local part that `comments.resolve_mentions` recognises)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from components.backend import call
from components.dialogs import confirm
from components.moments import user_zone
from crm_app.platform import comments
from crm_app.platform.comments import CommentRow, MentionedUser
from crm_app.platform.i18n import format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.paging import MAX_PAGE_SIZE, PageRequest

#: `@` and what may follow it in a handle or a name being typed; not after a letter or a dot (an email).
_TYPING = re.compile(r"(?:^|(?<=[^\w.+\-]))@([\w.\-]{0,40})$")


@dataclass(frozen=True)
class MentionToken:
    start: int  # index of the "@"
    end: int  # the cursor
    prefix: str


def caret_after_edit(before: str, after: str) -> int:
    """Where the cursor most likely is after an edit that turned `before` into `after`: the end of
    the changed span (the server is not told the caret position)."""
    common = 0
    limit = min(len(before), len(after))
    while common < limit and before[common] == after[common]:
        common += 1
    suffix = 0
    while suffix < limit - common and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]:
        suffix += 1
    return len(after) - suffix


def mention_at(text: str, caret: int) -> MentionToken | None:
    """The `@prefix` being typed just before `caret`, if any."""
    match = _TYPING.search(text[:caret])
    if match is None:
        return None
    return MentionToken(match.start(), caret, match.group(1))


class MentionInput:
    """A text area that offers the matching users while an `@mention` is typed."""

    def __init__(self, label: str, value: str = "", *, marker: str = "comment-input") -> None:
        self._previous = value
        self._token: MentionToken | None = None
        self._asked = 0
        with ui.element("div").classes("w-full relative"):
            self.textarea = (
                ui.textarea(label, value=value, on_change=self._changed)
                .props("outlined autogrow dense")
                .classes("w-full")
                .mark(marker)
            )
            with ui.menu().props("no-focus no-parent-event fit anchor='bottom left' self='top left'") as self.menu:
                self.options = ui.list().props("dense").classes("min-w-64").mark("mention-options")

    @property
    def value(self) -> str:
        return str(self.textarea.value or "")

    def set_value(self, value: str) -> None:
        self._previous = value
        self.textarea.value = value
        self._close()

    def _close(self) -> None:
        self._token = None
        self.options.clear()
        self.menu.close()

    async def _changed(self, event: Any) -> None:
        text = str(event.value or "")
        if text == self._previous:
            return
        caret = caret_after_edit(self._previous, text)
        self._previous = text
        token = mention_at(text, caret)
        if token is None:
            self._close()
            return
        self._token = token
        self._asked += 1
        asked = self._asked
        found = await call(comments.mention_candidates, token.prefix)
        if asked != self._asked or self._token is None:  # a newer keystroke is already on its way
            return
        self._show(found or [])

    def _show(self, found: list[MentionedUser]) -> None:
        self.options.clear()
        if not found:
            self.menu.close()
            return
        with self.options:
            for person in found:
                with (
                    ui.item(on_click=lambda p=person: self.choose(p))
                    .props("clickable")
                    .mark(f"mention-option mention-{person.handle}")
                ):
                    with ui.item_section().props("avatar"):
                        ui.icon("alternate_email", color="primary")
                    with ui.item_section():
                        ui.item_label(person.full_name)
                        ui.item_label(f"@{person.handle}").props("caption")
        self.menu.open()

    def choose(self, person: MentionedUser) -> None:
        """Replace the `@prefix` being typed by the person's handle (or add the mention at the end)."""
        text = self.value
        token = self._token
        if token is None or text[token.start : token.start + 1] != "@":
            separator = "" if not text or text.endswith((" ", "\n")) else " "
            text += separator
            token = MentionToken(len(text), len(text), "")
        rest = text[token.end :].lstrip(" ")
        self.set_value(f"{text[: token.start]}@{person.handle} {rest}")
        self.textarea.run_method("focus")


def _body_parts(row: CommentRow) -> list[tuple[str, bool]]:
    """The comment split into plain text and mentions (shown highlighted, never as HTML)."""
    names = sorted(
        {f"@{m.handle}" for m in row.mentions} | {f"@{m.full_name}" for m in row.mentions}, key=len, reverse=True
    )
    if not names:
        return [(row.body, False)]
    pattern = re.compile("(" + "|".join(re.escape(n) for n in names) + ")", re.IGNORECASE)
    return [(part, index % 2 == 1) for index, part in enumerate(pattern.split(row.body)) if part]


class CommentThread:
    """The comments of one record; build it with `comment_thread`."""

    def __init__(
        self,
        target_kind: CommentTarget | str,
        target_id: uuid.UUID,
        *,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.target_kind = CommentTarget(target_kind)
        self.target_id = target_id
        self.on_change = on_change
        self.zone = "Europe/Paris"
        with ui.column().classes("w-full gap-2").mark("comment-thread") as self.root:
            with ui.row().classes("items-center gap-2"):
                ui.icon("forum", color="grey-7")
                self.heading = ui.label(_("Comments")).classes("text-subtitle1 text-weight-medium")
            self.more = ui.label().classes("text-caption text-grey-7")
            self.more.set_visibility(False)
            self.items = ui.column().classes("w-full gap-2").mark("comment-list")
            self.editor = MentionInput(_("Add a comment (type @ to mention someone)"))
            with ui.row().classes("w-full justify-end"):
                ui.button(_("Comment"), icon="send", on_click=self.add).props("unelevated no-caps").mark(
                    "comment-submit"
                )

    async def refresh(self) -> None:
        self.zone = await user_zone()
        first = await call(
            comments.list_comments, self.target_kind, self.target_id, request=PageRequest(1, MAX_PAGE_SIZE)
        )
        if first is None:
            return
        page = first
        if first.total > MAX_PAGE_SIZE:  # newest last: show the latest ones
            last = (first.total - 1) // MAX_PAGE_SIZE + 1
            page = (
                await call(
                    comments.list_comments, self.target_kind, self.target_id, request=PageRequest(last, MAX_PAGE_SIZE)
                )
                or first
            )
        self.heading.text = _("Comments ({count})", count=first.total)
        hidden = first.total - len(page.items)
        self.more.text = ngettext(
            "{count} earlier comment is not shown.", "{count} earlier comments are not shown.", hidden, count=hidden
        )
        self.more.set_visibility(hidden > 0)
        self.items.clear()
        with self.items:
            if not page.items:
                ui.label(_("No comments yet.")).classes("text-grey-7").mark("no-comments")
            for row in page.items:
                self._comment(row)

    def _comment(self, row: CommentRow) -> None:
        with ui.card().props("flat bordered").classes("w-full q-pa-sm").mark("comment") as card:
            card.props(f'id="comment-{row.id}"')
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(row.author_name or _("Former user")).classes("text-weight-medium")
                edited = row.version > 1
                when = format_datetime(row.created_at, self.zone, style="short")
                ui.label(when + (" · " + _("edited") if edited else "")).classes("text-caption text-grey-7")
                ui.space()
                if row.can_edit:
                    ui.button(icon="edit", on_click=lambda r=row, c=card: self._edit(r, c)).props(
                        f'flat round dense size=sm aria-label="{_("Edit")}"'
                    ).tooltip(_("Edit")).mark("comment-edit")
                if row.can_delete:
                    ui.button(icon="delete", on_click=lambda r=row: self._confirm_delete(r)).props(
                        f'flat round dense size=sm aria-label="{_("Delete")}"'
                    ).tooltip(_("Delete")).mark("comment-delete")
            with ui.element("div").classes("whitespace-pre-wrap break-words").mark("comment-body"):
                for text, is_mention in _body_parts(row):
                    ui.label(text).classes("inline" + (" text-primary text-weight-medium" if is_mention else ""))

    async def add(self) -> None:
        body = self.editor.value
        saved = await call(
            comments.add_comment, self.target_kind, self.target_id, body, fields={"body": self.editor.textarea}
        )
        if saved is not None:
            self.editor.set_value("")
            await self.refresh()
            if self.on_change:
                await self.on_change()

    def _edit(self, row: CommentRow, card: ui.card) -> None:
        card.clear()
        with card:
            editor = MentionInput(_("Comment"), row.body, marker="comment-edit-input")

            async def save() -> None:
                saved = await call(
                    comments.update_comment,
                    row.id,
                    editor.value,
                    expected_version=row.version,
                    fields={"body": editor.textarea},
                )
                if saved is not None:
                    await self.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.refresh).props("flat no-caps")
                ui.button(_("Save"), on_click=save).props("unelevated no-caps").mark("comment-save")

    def _confirm_delete(self, row: CommentRow) -> None:
        async def delete() -> None:
            await call(comments.delete_comment, row.id)  # None either way: a refusal has been shown
            await self.refresh()
            if self.on_change:
                await self.on_change()

        confirm(_("Delete this comment?"), delete)


def comment_thread(
    target_kind: CommentTarget | str, target_id: uuid.UUID, *, on_change: Callable[[], Awaitable[None]] | None = None
) -> CommentThread:
    """The comments of a task, meeting, note (or quote), loaded at once, with a box to add one.
    `on_change` runs after a comment is added or deleted (a list showing counts may refresh)."""
    thread = CommentThread(target_kind, target_id, on_change=on_change)
    ui.timer(0, thread.refresh, once=True)
    return thread
