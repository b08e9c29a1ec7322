"""An institution's timeline: its activities and the changes made to it, newest first, paged in SQL.

Every source is a query returning the same columns (`entry_columns`); the timeline is their
UNION ALL, sorted and paged by the database, so a page costs the same whatever the history's
length. Each source filters what the actor may see. Each area declares its sources (activities,
quotes, invoices, payments) as `TIMELINE_SOURCES`, and `crm_app.bootstrap` registers them:

    def quotes_source(actor, institution_id):
        return sa.select(*entry_columns("quote", q.id, q.sent_at, title=q.number, status=q.status,
                                        user_name=owner.full_name)).where(q.institution_id == institution_id)
    TIMELINE_SOURCES = (TimelineSource("quote", quotes_source, link="/quotes/{id}"),)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlmodel import Session

from crm_app.institutions.fields import FIELDS, Shown, shown_as
from crm_app.institutions.models import Contact, Institution
from crm_app.institutions.service import get_institution
from crm_app.platform import audit, records
from crm_app.platform.db import fetch_all
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import table_of
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, Scope, authorize, scope_for
from crm_app.platform.settings import KIND_MODULES, disabled_modules

#: `source(actor, institution_id)` → a SELECT of `entry_columns(...)` limited to what the actor sees.
Source = Callable[[Actor, uuid.UUID], Select[Any]]

TITLE_LENGTH = 200


@dataclass(frozen=True)
class TimelineSource:
    """One kind of entry as an area declares it (`TIMELINE_SOURCES`); `link` is its page, `{id}` its
    record id. `crm_app.bootstrap` registers them."""

    kind: str
    source: Source
    link: str | None = None


_SOURCES: dict[str, TimelineSource] = {}


def register_sources(*sources: TimelineSource) -> None:
    """Add (or replace) the source of each kind of entry."""
    for declared in sources:
        _SOURCES[declared.kind] = declared


def source_kinds() -> list[str]:
    return list(_SOURCES)


def entry_columns(
    kind: str,
    record_id: Any,
    at: Any,
    *,
    title: Any = None,
    detail: Any = None,
    status: Any = None,
    user_name: Any = None,
    old_value: Any = None,
    new_value: Any = None,
    about: Any = None,
) -> list[Any]:
    """The columns of a timeline entry, typed alike in every source (UNION ALL needs it)."""

    def text(value: Any, name: str) -> Any:
        return sa.cast(sa.null() if value is None else value, sa.Text).label(name)

    return [
        sa.cast(sa.literal(kind), sa.String(20)).label("kind"),
        record_id.label("record_id"),
        at.label("at"),
        text(title, "title"),
        text(detail, "detail"),
        text(status, "status"),
        text(user_name, "user_name"),
        text(old_value, "old_value"),
        text(new_value, "new_value"),
        text(about, "about"),
    ]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: str  # "task", "note", "meeting", "call", "change", ... (the registered sources)
    record_id: uuid.UUID
    at: datetime
    title: str | None
    detail: str | None
    status: str | None
    user_name: str | None
    old_value: str | None
    new_value: str | None
    link: str | None
    about: str | None = None  # for a change: the id of the record it is about (`status` names its kind)
    old_name: str | None = None  # for a change: the name of the record `old_value` refers to
    new_name: str | None = None
    about_name: str | None = None  # for a change: the name (number) of the record it is about


def history(session: Session, actor: Actor, institution_id: uuid.UUID, request: PageRequest) -> Page[audit.HistoryRow]:
    """The institution's audit trail (its contacts' changes included, and those of the quotes and
    invoices the actor may see), newest first."""
    institution = get_institution(session, institution_id)
    authorize(actor, "institution.view", institution)
    a = table_of(AuditEntry).c
    return audit.history_page(
        session,
        (AuditEntry.institution_id == institution_id, records.readable(actor, a.entity_type, a.entity_id)),
        request,
    )


def _id_text(value: str | None) -> str:
    """An id as `audit.record_names` keys it (SQLite casts a UUID to its 32 hex digits, without dashes)."""
    try:
        return str(uuid.UUID(value)) if value else ""
    except ValueError:
        return ""


def timeline(
    session: Session,
    actor: Actor,
    institution_id: uuid.UUID,
    request: PageRequest | None = None,
    *,
    kinds: Sequence[str] | None = None,
) -> Page[TimelineEntry]:
    """Everything that happened on the institution that the actor may see, newest first, paged."""
    institution = get_institution(session, institution_id)
    authorize(actor, "institution.view", institution)
    request = request or PageRequest()
    off = disabled_modules(session)
    chosen = [kind for kind in _SOURCES if (kinds is None or kind in kinds) and KIND_MODULES.get(kind) not in off]
    if not chosen:
        return Page([], 0, request.page, request.page_size)
    union = sa.union_all(*(_SOURCES[kind].source(actor, institution.id) for kind in chosen)).subquery("timeline")
    total = fetch_all(session, sa.select(sa.func.count()).select_from(union))[0][0]
    statement = (
        sa.select(union)
        .order_by(union.c.at.desc(), union.c.kind, union.c.record_id.desc())
        .offset(request.offset)
        .limit(request.page_size)
    )
    rows = fetch_all(session, statement)
    changes = [row for row in rows if row.kind == "change"]
    names = audit.referenced_names(
        session, ((row.title, value) for row in changes for value in (row.old_value, row.new_value))
    )
    subjects = audit.record_names(session, ((row.status, row.about) for row in changes))
    entries = []
    for row in rows:
        link = _SOURCES[row.kind].link
        is_change = row.kind == "change"
        entries.append(
            TimelineEntry(
                **row._asdict(),
                link=link.format(id=row.record_id) if link else None,
                old_name=names.get(row.old_value or "") if is_change else None,
                new_name=names.get(row.new_value or "") if is_change else None,
                about_name=subjects.get(_id_text(row.about)) if is_change else None,
            )
        )
    return Page(entries, int(total), request.page, request.page_size)


# --------------------------------------------------------------------------------------------
# The activity sources and the audit trail


def _changes(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    """The audit trail (institution and contacts): title = field, detail = action, status = entity."""
    a = table_of(AuditEntry).c
    return sa.select(
        *entry_columns(
            "change",
            a.id,
            a.at,
            title=a.field,
            detail=a.action,
            status=a.entity_type,
            user_name=a.actor_name,
            old_value=a.old_value,
            new_value=a.new_value,
            about=sa.cast(a.entity_id, sa.Text),
        )
    ).where(a.institution_id == institution_id, records.readable(actor, a.entity_type, a.entity_id))


#: The institution's audited changes: its own, its contacts', and those of every record filed under it
#: that the reader may open (quotes, invoices...: `records.readable`).
TIMELINE_SOURCES: tuple[TimelineSource, ...] = (TimelineSource("change", _changes),)


def _visible_institution(actor: Actor, institution_id: Any) -> Any:
    """SQL: the institution page's right ("institution.view": every role sees every institution today)."""
    if scope_for(actor, "institution.view") is Scope.ALL:
        return sa.true()
    i = table_of(Institution).c
    condition = records.scope_condition(
        actor, "institution.view", team_column=i.team_id, owner_columns=(i.assigned_user_id, i.created_by)
    )
    return records.exists_visible(i.id, condition, institution_id)


def _visible_contact(actor: Actor, contact_id: Any) -> Any:
    """SQL: a contact reads as its institution does ("contact.view" on top)."""
    if scope_for(actor, "contact.view") is Scope.NONE:
        return sa.false()
    if scope_for(actor, "institution.view") is Scope.ALL:
        return sa.true()
    c = table_of(Contact).c
    return records.exists_visible(c.id, _visible_institution(actor, c.institution_id), contact_id)


#: Who may read the institutions' and contacts' records (their audit entries, their notifications).
RECORD_VISIBILITY: dict[str, records.Visibility] = {"institution": _visible_institution, "contact": _visible_contact}


# --------------------------------------------------------------------------------------------
# In words

#: The history's field names: the institution's (its field specs), then its contacts'.
FIELD_LABELS: dict[str, str] = {
    **{spec.name: spec.label for spec in FIELDS},
    "contact": N_("Contact"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "title": N_("Function"),
    "department": N_("Department"),
    "email": N_("Email"),
    "mobile": N_("Mobile"),
    "is_primary": N_("Primary contact"),
    "email_opt_out": N_("Does not want emails"),
}
_VALUES: dict[str, Any] = {
    "codes": {spec.name: spec.codes for spec in FIELDS if spec.shown is Shown.CODE and spec.codes is not None},
    "dates": shown_as(Shown.DATE),
    "money": shown_as(Shown.MONEY),
    "yes_no": shown_as(Shown.YES_NO) | {"is_primary", "email_opt_out"},
}
#: How the entries of institutions and contacts read (`audit.register_wording`).
HISTORY_WORDING: dict[str, audit.Wording] = {
    "institution": audit.Wording(
        N_("Institution"),
        {
            "create": N_("Institution created"),
            "update": N_("Institution changed"),
            "archive": N_("Institution archived"),
            "restore": N_("Institution restored"),
            "merge": N_("Institution merged"),
        },
        FIELD_LABELS,
        **_VALUES,
    ),
    "contact": audit.Wording(
        N_("Contact"),
        {
            "create": N_("Contact {name} created"),
            "update": N_("Contact {name} changed"),
            "archive": N_("Contact {name} archived"),
            "restore": N_("Contact {name} restored"),
        },
        FIELD_LABELS,
        **_VALUES,
    ),
}
