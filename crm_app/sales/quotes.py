"""Quotes (devis) and the orders they become (DOMAIN.md "Quotes"): creation, editing of drafts with
their lines and totals, the status workflow, revisions, lists paged and totalled in SQL.

Workflow (anything else raises InvalidTransition naming the current status):

    draft ──send──▶ sent ──accept──▶ accepted ──record_order──▶ ordered
      │               ├──reject──▶ rejected
      │               ├──revise──▶ cancelled (superseded_by_id) + a new draft revision "-R<n>"
      └──cancel──▶ cancelled ◀──cancel──┘            (sent → expired is the daily job's)

Only drafts are edited. Accepting after the validity date is refused. Every change is written to the
audit trail (entity "quote", not attached to the institution: its History tab is seen by everyone
while a quote is seen only within the `record.view` scope) and bumps the version.

Opportunities: a quote may be made for an opportunity of its institution that the actor sees
(`opportunity_id`; made from one, it takes its institution, contact and name by default); accepting
it wins the opportunity at the quote's total excl. VAT, in the same transaction.

Rights: a quote is owned by its salesperson (`owner_id`) and its creator; `record.view` and
`record.edit` decide who sees and changes it (own / team / all). A quote may be given to another
salesperson only by someone who may edit that person's records.

Amounts: Decimal, computed by `services.money.compute_totals` only; each line stores its net, the
quote its three totals. Lines are cleaned, totalled and stored by `services.document_lines` (the same
rules as invoices); what was invoiced on a quote is `services.invoices.invoiced_on_quote`. The list's
amount filter reads the total excluding VAT (what B2B sales teams quote and compare).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlmodel import Session, col, select

from crm_app.institutions import links, timeline
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import audit, comments, events, records
from crm_app.platform import cleaners as fields
from crm_app.platform import notifications as notification_service
from crm_app.platform.cleaners import long_text
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, InvalidTransition, ValidationFailed
from crm_app.platform.i18n import N_, NP_
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, authorize, can
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record, scope_condition, user_names
from crm_app.platform.settings import organisation
from crm_app.platform.text import contains_pattern
from crm_app.sales import lines as document_lines
from crm_app.sales import money, numbering, opportunities
from crm_app.sales.document_settings import document_settings
from crm_app.sales.invoices import invoiced_on_quote
from crm_app.sales.models.opportunities import Opportunity
from crm_app.sales.models.quotes import DocumentKind, Quote, QuoteStatus, SequenceKind

ENTITY = "quote"

#: a quote's status, an adjective that agrees with "quote" (un devis "Annulé", une facture "Annulée")
QUOTE_STATUS_LABELS: dict[QuoteStatus, str] = {
    QuoteStatus.DRAFT: NP_("quote status", "Draft"),
    QuoteStatus.SENT: NP_("quote status", "Sent"),
    QuoteStatus.ACCEPTED: NP_("quote status", "Accepted"),
    QuoteStatus.REJECTED: NP_("quote status", "Rejected"),
    QuoteStatus.EXPIRED: NP_("quote status", "Expired"),
    QuoteStatus.CANCELLED: NP_("quote status", "Cancelled"),
    QuoteStatus.ORDERED: NP_("quote status", "Ordered"),
}


class QuoteAction(StrEnum):
    """What can be done to a quote (the detail page shows the buttons `allowed_actions` returns)."""

    EDIT = "edit"
    SEND = "send"
    ACCEPT = "accept"
    REJECT = "reject"
    ORDER = "order"
    CANCEL = "cancel"
    REVISE = "revise"
    INVOICE = "invoice"  # done by services.invoices (never above the quote's total)


#: the statuses each action starts from.
ACTION_FROM: dict[QuoteAction, tuple[QuoteStatus, ...]] = {
    QuoteAction.EDIT: (QuoteStatus.DRAFT,),
    QuoteAction.SEND: (QuoteStatus.DRAFT,),
    QuoteAction.ACCEPT: (QuoteStatus.SENT,),
    QuoteAction.REJECT: (QuoteStatus.SENT,),
    QuoteAction.ORDER: (QuoteStatus.ACCEPTED,),
    QuoteAction.CANCEL: (QuoteStatus.DRAFT, QuoteStatus.SENT),
    QuoteAction.REVISE: (QuoteStatus.SENT, QuoteStatus.EXPIRED),  # expired: the way to offer it again
    QuoteAction.INVOICE: (QuoteStatus.ACCEPTED, QuoteStatus.ORDERED),
}

_REFUSALS: dict[QuoteAction, str] = {
    QuoteAction.EDIT: N_("Only a draft quote can be edited; make a new revision of a sent quote."),
    QuoteAction.SEND: N_("Only a draft quote can be sent."),
    QuoteAction.ACCEPT: N_("Only a sent quote can be accepted."),
    QuoteAction.REJECT: N_("Only a sent quote can be rejected."),
    QuoteAction.ORDER: N_("A purchase order is recorded only for an accepted quote."),
    QuoteAction.CANCEL: N_("Only a draft or sent quote can be cancelled."),
    QuoteAction.REVISE: N_("Only a sent or expired quote can be revised."),
    QuoteAction.INVOICE: N_("Only an accepted or ordered quote can be invoiced."),
}


# --------------------------------------------------------------------------------------------
# Input


CLEANERS: dict[str, fields.Cleaner] = {
    "title": fields.text(200),
    "institution_id": fields.identifier(),
    "contact_id": fields.identifier(),
    "owner_id": fields.identifier(),
    "issue_date": fields.day(),
    "valid_until": fields.day(),
    "notes": long_text(10_000),
    "global_discount_percent": document_lines.percent_field(),
    "opportunity_id": fields.identifier(),
}
# --------------------------------------------------------------------------------------------
# Helpers


def today(session: Session | None = None) -> date:
    """Today in the configured time zone (validity dates and number years are local days)."""
    return utcnow().astimezone(ZoneInfo(organisation(session)["timezone"])).date()


def placement(quote: Quote) -> Placement:
    """What the right checks look at: the owner and the creator own the quote, the team is the owner's."""
    return Placement(team_id=quote.team_id, assigned_user_id=quote.owner_id, created_by=quote.created_by)


def get_quote_record(session: Session, quote_id: uuid.UUID, *, for_update: bool = False) -> Quote:
    """The quote row (no right check); `for_update` locks it until the unit of work ends."""
    return get_record(session, Quote, quote_id, missing=N_("This quote does not exist."), for_update=for_update)


def get_visible_quote(session: Session, actor: Actor, quote_id: uuid.UUID) -> Quote:
    """The quote row, when the actor may see it (documents, invoices and comments use this)."""
    quote = get_quote_record(session, quote_id)
    authorize(actor, "record.view", placement(quote))
    return quote


def _owner(session: Session, actor: Actor, owner_id: uuid.UUID | None) -> User:
    """The salesperson, within the actor's reach: someone whose records the actor may edit."""
    if owner_id is None:
        raise ValidationFailed({"owner_id": N_("This field is required.")})
    user = active_user(session, owner_id, "owner_id")
    authorize(actor, "record.edit", Placement(team_id=user.team_id, assigned_user_id=user.id))
    return user


def _opportunity(
    session: Session, actor: Actor, opportunity_id: uuid.UUID | None, institution_id: uuid.UUID | None
) -> Opportunity | None:
    """The opportunity a quote is made for: one the actor sees, of the quote's institution (when given)."""
    if opportunity_id is None:
        return None
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None or not can(actor, "opportunity.view", opportunities.placement(opportunity)):
        raise ValidationFailed({"opportunity_id": N_("This opportunity does not exist.")})
    if institution_id is not None and opportunity.institution_id != institution_id:
        raise ValidationFailed({"opportunity_id": N_("This opportunity belongs to another institution.")})
    return opportunity


def _check_dates(issue_date: date, valid_until: date) -> None:
    if valid_until < issue_date:
        raise ValidationFailed({"valid_until": N_("The validity date cannot be before the issue date.")})


def _record(
    session: Session, actor: Actor, quote: Quote, action: str, changes: dict[str, tuple[Any, Any]] | None = None
) -> None:
    """Every change to a quote goes through here: its audit entry, and the event open lists follow."""
    audit.record(
        session, actor, entity_type=ENTITY, entity_id=quote.id, institution_id=None, action=action, changes=changes
    )
    events.publish(
        session,
        events.QuoteChanged(
            quote_id=quote.id,
            institution_id=quote.institution_id,
            owner_id=quote.owner_id,
            team_id=quote.team_id,
            action=action,
            actor_id=actor_id(actor),
        ),
    )


def _touch(session: Session, actor: Actor, quote: Quote) -> None:
    quote.updated_by = actor_id(actor)
    quote.touch()
    session.add(quote)
    session.flush()


# --------------------------------------------------------------------------------------------
# Creating and editing


def create_quote(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Quote:
    """A new draft quote numbered DEV-<year>-<n> (year of today), revision 1.

    `raw`: institution_id (required, visible to the actor), contact_id (of that institution), owner_id
    (default: the actor; another salesperson only within the actor's `record.edit` reach), title,
    issue_date (default today), valid_until (default issue date + the configured validity), notes,
    global_discount_percent, lines (list of dicts, see `document_lines.LINE_FIELDS`), opportunity_id (an
    opportunity the actor sees, of the institution; without an institution, the opportunity's, with its
    contact; without a title, the opportunity's name)."""
    values = fields.clean_all({k: v for k, v in raw.items() if k != "lines"}, CLEANERS, partial=True)
    lines = document_lines.clean_lines(session, raw.get("lines"))
    opportunity = _opportunity(session, actor, values.get("opportunity_id"), values.get("institution_id"))
    if opportunity is not None:  # made from an opportunity: its institution, contact and name by default
        if values.get("institution_id") is None:
            values["institution_id"] = opportunity.institution_id
            values.setdefault("contact_id", opportunity.contact_id)
        if not values.get("title"):
            values["title"] = opportunity.name[:200]
    institution = links.required_institution(session, actor, values.get("institution_id"), values.get("contact_id"))
    owner = _owner(session, actor, values.get("owner_id") or actor_id(actor))
    settings = document_settings(session)
    now = today(session)
    issue_date = values.get("issue_date") or now
    valid_until = values.get("valid_until") or issue_date + timedelta(days=settings.quote_validity_days)
    _check_dates(issue_date, valid_until)
    number = numbering.format_number(
        settings.quote_prefix, now.year, numbering.next_number(session, SequenceKind.QUOTE, now.year)
    )
    quote_id = uuid.uuid4()
    quote = Quote(
        id=quote_id,
        number=number,
        root_id=quote_id,
        revision=1,
        status=QuoteStatus.DRAFT,
        title=values.get("title"),
        institution_id=institution.id,
        contact_id=values.get("contact_id"),
        owner_id=owner.id,
        team_id=owner.team_id,
        issue_date=issue_date,
        valid_until=valid_until,
        notes=values.get("notes"),
        global_discount_percent=values.get("global_discount_percent") or money.ZERO,
        opportunity_id=opportunity.id if opportunity else None,
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    session.add(quote)
    session.flush()
    document_lines.store_lines(session, quote, lines)
    session.flush()
    _record(
        session,
        actor,
        quote,
        "create",
        {
            "number": (None, quote.number),
            "status": (None, quote.status),
            "total_incl_vat": (None, quote.total_incl_vat),
            "opportunity_id": (None, quote.opportunity_id),
        },
    )
    return quote


def _check_changed_parties(
    session: Session, actor: Actor, quote: Quote, values: Mapping[str, Any], changes: dict[str, tuple[Any, Any]]
) -> None:
    """A new institution, contact or opportunity checked (`changes` completed: the contact and the
    opportunity of the previous institution are dropped when it changes)."""
    if "institution_id" in changes and "contact_id" not in values:
        changes["contact_id"] = (quote.contact_id, None)  # the contact belonged to the previous institution
    if "institution_id" in changes and "opportunity_id" not in values and quote.opportunity_id is not None:
        changes["opportunity_id"] = (quote.opportunity_id, None)  # so did the opportunity
    institution_id = changes.get("institution_id", (None, quote.institution_id))[1]
    if changes.get("opportunity_id", (None, None))[1] is not None:
        _opportunity(session, actor, changes["opportunity_id"][1], institution_id)
    if "institution_id" in changes or "contact_id" in changes:
        contact_id = changes.get("contact_id", (None, quote.contact_id))[1]
        links.required_institution(session, actor, institution_id, contact_id)


def update_quote(
    session: Session, actor: Actor, quote_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Quote:
    """Change a draft: its fields and, when `lines` is given, all its lines (replaced, in that order)
    with the totals recomputed. Refused with the other person's name when the version is stale."""
    quote = get_quote_record(session, quote_id, for_update=True)
    authorize(actor, "record.edit", placement(quote))
    if quote.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, quote.updated_by))
    _require(quote, QuoteAction.EDIT)
    values = fields.clean_all({k: v for k, v in raw.items() if k != "lines"}, CLEANERS, partial=True)
    for name in ("institution_id", "issue_date", "valid_until"):
        if name in values and values[name] is None:
            raise ValidationFailed({name: N_("This field is required.")})
    if "global_discount_percent" in values and values["global_discount_percent"] is None:
        values["global_discount_percent"] = money.ZERO
    if "owner_id" in values and values["owner_id"] is None:
        del values["owner_id"]
    lines = document_lines.clean_lines(session, raw["lines"]) if "lines" in raw else None
    changes = {name: (getattr(quote, name), value) for name, value in values.items() if getattr(quote, name) != value}
    _check_changed_parties(session, actor, quote, values, changes)
    if "owner_id" in changes:
        owner = _owner(session, actor, changes["owner_id"][1])
        changes["team_id"] = (quote.team_id, owner.team_id)
    _check_dates(
        changes.get("issue_date", (None, quote.issue_date))[1], changes.get("valid_until", (None, quote.valid_until))[1]
    )
    if not changes and lines is None:
        return quote
    for name, (_old, new) in changes.items():
        setattr(quote, name, new)
    if lines is not None or "global_discount_percent" in changes:
        before = (quote.total_excl_vat, quote.total_incl_vat)
        stored = document_lines.stored_lines(session, quote)
        old_count = len(stored)
        kept = [document_lines.as_input(line) for line in stored]
        document_lines.store_lines(session, quote, lines if lines is not None else kept)
        changes["total_excl_vat"] = (before[0], quote.total_excl_vat)
        changes["total_incl_vat"] = (before[1], quote.total_incl_vat)
        if lines is not None:
            changes["lines"] = (old_count, len(lines))
    _touch(session, actor, quote)
    _record(session, actor, quote, "update", changes)
    return quote


# --------------------------------------------------------------------------------------------
# The workflow


def _require(quote: Quote, action: QuoteAction) -> None:
    status = QuoteStatus(quote.status)
    if status not in ACTION_FROM[action]:
        raise InvalidTransition(status.value, _REFUSALS[action])


def _locked_for(
    session: Session, actor: Actor, quote_id: uuid.UUID, action: QuoteAction, expected_version: int | None
) -> Quote:
    """The quote locked (SELECT ... FOR UPDATE: concurrent transitions wait, then see the new status),
    editable by the actor, at the expected version when one is given, and in a status `action` starts from."""
    quote = get_quote_record(session, quote_id, for_update=True)
    authorize(actor, "record.edit", placement(quote))
    if expected_version is not None and quote.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, quote.updated_by))
    _require(quote, action)
    return quote


def _move(
    session: Session,
    actor: Actor,
    quote: Quote,
    status: QuoteStatus,
    *,
    action: str,
    extra: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    changes = {"status": (QuoteStatus(quote.status), status), **(extra or {})}
    quote.status = status
    _touch(session, actor, quote)
    _record(session, actor, quote, action, changes)


def send_quote(session: Session, actor: Actor, quote_id: uuid.UUID, *, expected_version: int | None = None) -> Quote:
    """draft → sent (the PDF and the email are services.documents'). A quote without lines is not sent."""
    quote = _locked_for(session, actor, quote_id, QuoteAction.SEND, expected_version)
    if not document_lines.stored_lines(session, quote):
        raise ValidationFailed({"lines": N_("A quote needs at least one line.")})
    quote.sent_at = utcnow()
    _move(session, actor, quote, QuoteStatus.SENT, action="send")
    return quote


def _decide(
    session: Session,
    actor: Actor,
    quote_id: uuid.UUID,
    action: QuoteAction,
    *,
    comment: str | None,
    expected_version: int | None,
) -> Quote:
    quote = _locked_for(session, actor, quote_id, action, expected_version)
    try:
        client_comment = long_text(10_000)(comment)
    except ValueError as exc:
        raise ValidationFailed({"client_comment": str(exc)}) from None
    if action is QuoteAction.ACCEPT and today(session) > quote.valid_until:
        raise InvalidTransition(
            QuoteStatus(quote.status).value,
            N_("This quote's validity date has passed: it can no longer be accepted. Make a new revision."),
        )
    quote.decided_at = utcnow()
    quote.decided_by = actor_id(actor)
    quote.client_comment = client_comment
    accepted = action is QuoteAction.ACCEPT
    _move(
        session,
        actor,
        quote,
        QuoteStatus.ACCEPTED if accepted else QuoteStatus.REJECTED,
        action=action.value,
        extra={"client_comment": (None, client_comment)},
    )
    if accepted and quote.opportunity_id is not None:
        opportunities.win_from_quote(session, actor, quote.opportunity_id, quote.total_excl_vat)
    institution = session.get(Institution, quote.institution_id)
    kind = events.QuoteAccepted if accepted else events.QuoteRejected
    events.publish(
        session,
        kind(
            quote_id=quote.id,
            number=quote.number,
            owner_id=quote.owner_id,
            institution_name=institution.name if institution else "",
            client_comment=client_comment,
            actor_id=actor_id(actor),
        ),
    )
    return quote


def accept_quote(
    session: Session,
    actor: Actor,
    quote_id: uuid.UUID,
    *,
    client_comment: str | None = None,
    expected_version: int | None = None,
) -> Quote:
    """sent → accepted, with who, when and the client's comment; refused after the validity date.
    The owner is told when someone else records it."""
    return _decide(
        session, actor, quote_id, QuoteAction.ACCEPT, comment=client_comment, expected_version=expected_version
    )


def reject_quote(
    session: Session,
    actor: Actor,
    quote_id: uuid.UUID,
    *,
    client_comment: str | None = None,
    expected_version: int | None = None,
) -> Quote:
    """sent → rejected, with who, when and the client's comment. The owner is told when someone else records it."""
    return _decide(
        session, actor, quote_id, QuoteAction.REJECT, comment=client_comment, expected_version=expected_version
    )


def record_order(
    session: Session,
    actor: Actor,
    quote_id: uuid.UUID,
    *,
    purchase_order_ref: str | None = None,
    expected_version: int | None = None,
) -> Quote:
    """accepted → ordered: the order gets its number BC-<year>-<n> and keeps the client's purchase order reference."""
    try:
        reference = fields.text(80)(purchase_order_ref)
    except ValueError as exc:
        raise ValidationFailed({"purchase_order_ref": str(exc)}) from None
    quote = _locked_for(session, actor, quote_id, QuoteAction.ORDER, expected_version)
    year = today(session).year
    quote.order_number = numbering.format_number(
        document_settings(session).order_prefix, year, numbering.next_number(session, SequenceKind.ORDER, year)
    )
    quote.purchase_order_ref = reference
    quote.ordered_at = utcnow()
    _move(
        session,
        actor,
        quote,
        QuoteStatus.ORDERED,
        action="order",
        extra={"order_number": (None, quote.order_number), "purchase_order_ref": (None, reference)},
    )
    return quote


def cancel_quote(session: Session, actor: Actor, quote_id: uuid.UUID, *, expected_version: int | None = None) -> Quote:
    """draft or sent → cancelled."""
    quote = _locked_for(session, actor, quote_id, QuoteAction.CANCEL, expected_version)
    quote.cancelled_at = utcnow()
    _move(session, actor, quote, QuoteStatus.CANCELLED, action="cancel")
    return quote


def _base_number(session: Session, quote: Quote) -> str:
    root = session.get(Quote, quote.root_id)
    return root.number if root is not None else quote.number.rsplit("-R", 1)[0]


def revise_quote(session: Session, actor: Actor, quote_id: uuid.UUID, *, expected_version: int | None = None) -> Quote:
    """A sent or expired quote becomes a new draft revision (number + "-R<n>", same root, lines copied,
    issued today with a fresh validity); a sent one is cancelled, an expired one stays expired (what
    happened to it), each pointing at its successor and keeping its PDF. Returns the new draft."""
    quote = _locked_for(session, actor, quote_id, QuoteAction.REVISE, expected_version)
    latest = session.exec(select(sa.func.max(Quote.revision)).where(Quote.root_id == quote.root_id)).one()
    if quote.superseded_by_id is not None or (latest is not None and latest > quote.revision):
        raise InvalidTransition(QuoteStatus(quote.status).value, N_("Only the latest revision can be revised."))
    issued = today(session)
    revision = quote.revision + 1
    new_id = uuid.uuid4()
    successor = Quote(
        id=new_id,
        number=f"{_base_number(session, quote)}-R{revision}",
        root_id=quote.root_id,
        revision=revision,
        status=QuoteStatus.DRAFT,
        title=quote.title,
        institution_id=quote.institution_id,
        contact_id=quote.contact_id,
        owner_id=quote.owner_id,
        team_id=quote.team_id,
        issue_date=issued,
        valid_until=issued + timedelta(days=document_settings(session).quote_validity_days),
        currency=quote.currency,
        global_discount_percent=quote.global_discount_percent,
        notes=quote.notes,
        opportunity_id=quote.opportunity_id,
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    session.add(successor)
    session.flush()
    document_lines.store_lines(
        session, successor, [document_lines.as_input(line) for line in document_lines.stored_lines(session, quote)]
    )
    quote.superseded_by_id = successor.id
    if quote.status == QuoteStatus.SENT:
        quote.cancelled_at = utcnow()
        _move(
            session,
            actor,
            quote,
            QuoteStatus.CANCELLED,
            action="revise",
            extra={"superseded_by": (None, successor.number)},
        )
    else:
        _touch(session, actor, quote)
        _record(session, actor, quote, "revise", {"superseded_by": (None, successor.number)})
    _record(
        session, actor, successor, "create", {"number": (None, successor.number), "revision_of": (None, quote.number)}
    )
    return successor


def allowed_actions(actor: Actor, quote: Quote, *, invoiced: Decimal | None = None) -> frozenset[QuoteAction]:
    """The actions the actor may take on the quote now (none when the actor may not edit it). Accept is
    left out past the validity date; revise is left out for a revision already superseded; invoice is
    left out when nothing remains to invoice (`invoiced`: `invoices.invoiced_on_quote`; None when the
    caller does not know it, and then only the status decides)."""
    if not can(actor, "record.edit", placement(quote)):
        return frozenset()
    status = QuoteStatus(quote.status)
    actions = {action for action, starts in ACTION_FROM.items() if status in starts}
    if QuoteAction.ACCEPT in actions and quote.valid_until < today():
        actions.discard(QuoteAction.ACCEPT)
    if quote.superseded_by_id is not None:
        actions.discard(QuoteAction.REVISE)
    if invoiced is not None and quote.total_incl_vat - invoiced <= 0:
        actions.discard(QuoteAction.INVOICE)
    return frozenset(actions)


# --------------------------------------------------------------------------------------------
# Reading one quote


@dataclass(frozen=True, slots=True)
class RevisionRow:
    id: uuid.UUID
    number: str
    revision: int
    status: QuoteStatus


@dataclass(frozen=True, slots=True)
class QuoteDetail:
    """A quote as its detail page, the API and the PDF builder read it."""

    id: uuid.UUID
    number: str
    root_id: uuid.UUID
    revision: int
    superseded_by_id: uuid.UUID | None
    status: QuoteStatus
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    contact_name: str | None
    contact_email: str | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    issue_date: date
    valid_until: date
    currency: str
    global_discount_percent: Decimal
    subtotal: Decimal  # Σ line nets before the global discount
    global_discount: Decimal
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    vat_rows: tuple[money.VatRow, ...]
    notes: str | None
    sent_at: datetime | None
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    decided_by_name: str | None
    client_comment: str | None
    order_number: str | None
    purchase_order_ref: str | None
    ordered_at: datetime | None
    cancelled_at: datetime | None
    invoiced_amount: Decimal  # incl. VAT: `invoices.invoiced_on_quote`
    created_by: uuid.UUID | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    updated_by_name: str | None
    version: int
    lines: tuple[document_lines.LineRow, ...]
    revisions: tuple[RevisionRow, ...]  # every revision of the same quote, first first
    opportunity_id: uuid.UUID | None = None
    opportunity_name: str | None = None
    allowed_actions: frozenset[QuoteAction] = field(default_factory=frozenset)
    can_edit: bool = False

    @property
    def remaining_to_invoice(self) -> Decimal:
        return max(money.ZERO, self.total_incl_vat - self.invoiced_amount)


def get_quote(session: Session, actor: Actor, quote_id: uuid.UUID) -> QuoteDetail:
    """The quote with its lines, names, VAT breakdown, invoiced amount, revisions and what the actor may do."""
    quote = get_visible_quote(session, actor, quote_id)
    lines = document_lines.stored_lines(session, quote)
    totals = document_lines.stored_totals(lines, quote.global_discount_percent)
    institution = session.get(Institution, quote.institution_id)
    contact = session.get(Contact, quote.contact_id) if quote.contact_id else None
    names = user_names(session, [quote.owner_id, quote.decided_by, quote.created_by, quote.updated_by])
    revisions = session.exec(
        select(Quote.id, Quote.number, Quote.revision, Quote.status)
        .where(Quote.root_id == quote.root_id)
        .order_by(col(Quote.revision))
    ).all()
    invoiced = invoiced_on_quote(session, quote.id)
    opportunity = session.get(Opportunity, quote.opportunity_id) if quote.opportunity_id else None
    return QuoteDetail(
        id=quote.id,
        number=quote.number,
        root_id=quote.root_id,
        revision=quote.revision,
        superseded_by_id=quote.superseded_by_id,
        status=QuoteStatus(quote.status),
        title=quote.title,
        institution_id=quote.institution_id,
        institution_name=institution.name if institution else "",
        contact_id=quote.contact_id,
        contact_name=" ".join(p for p in (contact.first_name, contact.last_name) if p) if contact else None,
        contact_email=contact.email if contact else None,
        owner_id=quote.owner_id,
        owner_name=names.get(quote.owner_id, ""),
        team_id=quote.team_id,
        issue_date=quote.issue_date,
        valid_until=quote.valid_until,
        currency=quote.currency,
        global_discount_percent=quote.global_discount_percent,
        subtotal=totals.subtotal,
        global_discount=totals.global_discount,
        total_excl_vat=quote.total_excl_vat,
        total_vat=quote.total_vat,
        total_incl_vat=quote.total_incl_vat,
        vat_rows=totals.vat_rows,
        notes=quote.notes,
        sent_at=quote.sent_at,
        decided_at=quote.decided_at,
        decided_by=quote.decided_by,
        decided_by_name=names.get(quote.decided_by) if quote.decided_by else None,
        client_comment=quote.client_comment,
        order_number=quote.order_number,
        purchase_order_ref=quote.purchase_order_ref,
        ordered_at=quote.ordered_at,
        cancelled_at=quote.cancelled_at,
        invoiced_amount=invoiced,
        created_by=quote.created_by,
        created_by_name=names.get(quote.created_by) if quote.created_by else None,
        created_at=quote.created_at,
        updated_at=quote.updated_at,
        updated_by_name=names.get(quote.updated_by) if quote.updated_by else None,
        version=quote.version,
        lines=tuple(document_lines.line_row(line) for line in lines),
        revisions=tuple(RevisionRow(id=r[0], number=r[1], revision=r[2], status=QuoteStatus(r[3])) for r in revisions),
        opportunity_id=quote.opportunity_id,
        opportunity_name=opportunity.name if opportunity else None,
        allowed_actions=allowed_actions(actor, quote, invoiced=invoiced),
        can_edit=can(actor, "record.edit", placement(quote)),
    )


def quote_history(
    session: Session, actor: Actor, quote_id: uuid.UUID, request: PageRequest | None = None
) -> Page[audit.HistoryRow]:
    """The quote's audit trail (its order's emails included), newest first, paged."""
    get_visible_quote(session, actor, quote_id)

    return audit.history_page(
        session,
        (col(AuditEntry.entity_type).in_((ENTITY, DocumentKind.ORDER.value)), col(AuditEntry.entity_id) == quote_id),
        request or PageRequest(),
    )


# --------------------------------------------------------------------------------------------
# Lists


@dataclass(frozen=True, slots=True)
class QuoteRow:
    id: uuid.UUID
    number: str
    revision: int
    status: QuoteStatus
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    issue_date: date
    valid_until: date
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    order_number: str | None
    sent_at: datetime | None
    created_by: uuid.UUID | None
    updated_at: datetime
    version: int
    can_edit: bool = False


@dataclass(frozen=True, slots=True)
class QuotePage(Page[QuoteRow]):
    """A page of quotes and the sums over the whole filtered list (`total` is its count)."""

    sum_excl_vat: Decimal = money.ZERO
    sum_incl_vat: Decimal = money.ZERO


_Q = table_of(Quote).c
_I = table_of(Institution).c
_OWNER = table_of(User).alias("quote_owner")

SORTS: dict[str, tuple[Any, ...]] = {
    "issue_date": (_Q.issue_date, _Q.number),
    "number": (_Q.number,),
    "valid_until": (_Q.valid_until,),
    "institution": (_I.name_key,),
    "owner": (_OWNER.c.full_name,),
    "status": (_Q.status,),
    "amount": (_Q.total_excl_vat,),
    "updated": (_Q.updated_at,),
}


def _day(read: Params, name: str) -> date | None:
    try:
        return fields.day()(read.one(name))
    except ValueError:
        return None


_AMOUNT = document_lines.amount_field()


def _money(read: Params, name: str) -> Decimal | None:
    try:
        return _AMOUNT(read.one(name))
    except ValueError:
        return None


@dataclass(frozen=True)
class QuoteQuery:
    """Filters and sort of the quote list (the /quotes page's URL and the API's query string).

    Amounts filter the total excluding VAT; date bounds are inclusive."""

    statuses: tuple[QuoteStatus, ...] = ()
    institution_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    mine: bool = False  # owned by the actor
    issued_from: date | None = None
    issued_to: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    sent_from: date | None = None  # the day it was sent, in the organisation's time zone
    sent_to: date | None = None
    decided_from: date | None = None  # the day it was accepted or rejected
    decided_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    q: str = ""  # number, title or institution name
    sort: str = "issue_date"
    descending: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> QuoteQuery:
        """Parse URL or API parameters; unknown or malformed values are ignored. `sort` defaults to
        the newest first; `sort=number` ascending, `sort=-amount` descending."""
        read = Params(params)
        sort, descending = read.sort(SORTS, "-issue_date")
        if sort not in SORTS:
            sort, descending = "issue_date", True
        return cls(
            statuses=read.choices("status", QuoteStatus),
            institution_id=read.ident("institution_id"),
            owner_id=read.ident("owner_id"),
            team_id=read.ident("team_id"),
            mine=read.flag("mine"),
            issued_from=_day(read, "issued_from"),
            issued_to=_day(read, "issued_to"),
            valid_from=_day(read, "valid_from"),
            valid_to=_day(read, "valid_to"),
            sent_from=_day(read, "sent_from"),
            sent_to=_day(read, "sent_to"),
            decided_from=_day(read, "decided_from"),
            decided_to=_day(read, "decided_to"),
            amount_min=_money(read, "amount_min"),
            amount_max=_money(read, "amount_max"),
            q=read.one("q") or "",
            sort=sort,
            descending=descending,
        )


def visible_condition(actor: Actor) -> Any:
    """SQL: the quotes the actor may see."""
    return scope_condition(actor, "record.view", team_column=_Q.team_id, owner_columns=(_Q.owner_id, _Q.created_by))


def _conditions(actor: Actor, query: QuoteQuery) -> list[Any]:
    conditions = [visible_condition(actor)]
    bounds = (
        (query.institution_id, _Q.institution_id.__eq__),
        (query.owner_id, _Q.owner_id.__eq__),
        (query.team_id, _Q.team_id.__eq__),
        (query.issued_from, _Q.issue_date.__ge__),
        (query.issued_to, _Q.issue_date.__le__),
        (query.valid_from, _Q.valid_until.__ge__),
        (query.valid_to, _Q.valid_until.__le__),
        (query.amount_min, _Q.total_excl_vat.__ge__),
        (query.amount_max, _Q.total_excl_vat.__le__),
    )
    conditions += [compare(value) for value, compare in bounds if value is not None]
    zone = ZoneInfo(organisation()["timezone"])
    for column, first, last in (
        (_Q.sent_at, query.sent_from, query.sent_to),
        (_Q.decided_at, query.decided_from, query.decided_to),
    ):
        if first is not None:
            conditions.append(column >= datetime.combine(first, time.min, tzinfo=zone))
        if last is not None:
            conditions.append(column < datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone))
    if query.statuses:
        conditions.append(_Q.status.in_([s.value for s in query.statuses]))
    if query.mine:
        conditions.append(_Q.owner_id == actor.id)
    term = query.q.strip().lower()
    if term:
        pattern = contains_pattern(term)
        conditions.append(
            sa.or_(
                sa.func.lower(_Q.number).like(pattern, escape="\\"),
                sa.func.lower(_Q.title).like(pattern, escape="\\"),
                sa.func.lower(_I.name).like(pattern, escape="\\"),
            )
        )
    return conditions


def _from() -> Any:
    return table_of(Quote).join(table_of(Institution), _I.id == _Q.institution_id)


def _order(query: QuoteQuery) -> list[Any]:
    columns = SORTS.get(query.sort, SORTS["issue_date"])
    ordered = [c.desc() if query.descending else c.asc() for c in columns]
    return [*ordered, _Q.id.desc() if query.descending else _Q.id.asc()]


def list_quotes(
    session: Session, actor: Actor, query: QuoteQuery | None = None, request: PageRequest | None = None
) -> QuotePage:
    """The quotes the actor may see, filtered, sorted and paged in SQL, with the count and the sums
    (excl. and incl. VAT) of the whole filtered list from one aggregate query. The list shows every
    revision, but the sums leave out the revisions superseded by a newer one: a revised quote is counted
    once, at its current revision, and no longer stands for its old amounts."""
    query = query or QuoteQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    statement = (
        sa.select(
            _Q.id,
            _Q.number,
            _Q.revision,
            _Q.status,
            _Q.title,
            _Q.institution_id,
            _I.name.label("institution_name"),
            _Q.owner_id,
            _OWNER.c.full_name.label("owner_name"),
            _Q.team_id,
            _Q.issue_date,
            _Q.valid_until,
            _Q.total_excl_vat,
            _Q.total_vat,
            _Q.total_incl_vat,
            _Q.order_number,
            _Q.sent_at,
            _Q.created_by,
            _Q.updated_at,
            _Q.version,
        )
        .select_from(_from().join(_OWNER, _OWNER.c.id == _Q.owner_id))
        .where(*conditions)
        .order_by(*_order(query))
        .offset(request.offset)
        .limit(request.page_size)
    )
    rows = []
    for row in fetch_all(session, statement):
        where = Placement(team_id=row.team_id, assigned_user_id=row.owner_id, created_by=row.created_by)
        rows.append(
            QuoteRow(**{**row._asdict(), "status": QuoteStatus(row.status)}, can_edit=can(actor, "record.edit", where))
        )
    standing = _Q.superseded_by_id.is_(None)
    count, sum_excl, sum_incl = fetch_all(
        session,
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(_Q.total_excl_vat).filter(standing), 0),
            sa.func.coalesce(sa.func.sum(_Q.total_incl_vat).filter(standing), 0),
        )
        .select_from(_from())
        .where(*conditions),
    )[0]
    return QuotePage(
        rows,
        int(count),
        request.page,
        request.page_size,
        sum_excl_vat=money.to_cents(Decimal(sum_excl)),
        sum_incl_vat=money.to_cents(Decimal(sum_incl)),
    )


# --------------------------------------------------------------------------------------------
# Notifications, comments, the institution timeline


NOTIFICATION_KINDS: dict[str, str] = {
    "quote.accepted": N_("{actor} recorded that {institution} accepted the quote {number}"),
    "quote.rejected": N_("{actor} recorded that {institution} rejected the quote {number}"),
}
RECORD_LINKS: dict[str, str] = {"quote": "/quotes/{id}"}


def _notify_decision(session: Session, event: events.QuoteAccepted | events.QuoteRejected) -> None:
    name = user_names(session, [event.actor_id]).get(event.actor_id) if event.actor_id else None
    params = {"actor": name or "OPEx CRM", "institution": event.institution_name, "number": event.number}
    if event.client_comment:
        params["comment"] = notification_service.excerpt(event.client_comment)
    notification_service.notify(
        session,
        [event.owner_id],
        kind=event.name,
        params=params,
        record_kind="quote",
        record_id=event.quote_id,
        actor_id=event.actor_id,
    )


SUBSCRIBERS: tuple[events.Subscription, ...] = (
    events.Subscription(events.QuoteAccepted, _notify_decision),
    events.Subscription(events.QuoteRejected, _notify_decision),
)


def _comment_target(session: Session, quote_id: uuid.UUID) -> comments.Target:
    quote = get_quote_record(session, quote_id)
    where = placement(quote)
    return comments.Target(CommentTarget.QUOTE, quote.id, quote.number, lambda actor: can(actor, "record.view", where))


COMMENT_TARGETS: dict[CommentTarget, comments.TargetResolver] = {CommentTarget.QUOTE: _comment_target}


def _timeline_source(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    """Quotes on the institution's timeline: dated when sent (created, for drafts); detail = title,
    status, new_value = total incl. VAT."""
    owner = table_of(User).alias("timeline_quote_owner")
    return (
        sa.select(
            *timeline.entry_columns(
                "quote",
                _Q.id,
                sa.func.coalesce(_Q.sent_at, _Q.created_at),
                title=_Q.number,
                detail=_Q.title,
                status=_Q.status,
                user_name=owner.c.full_name,
                new_value=sa.cast(_Q.total_incl_vat, sa.Text),
            )
        )
        .select_from(table_of(Quote))
        .join(owner, owner.c.id == _Q.owner_id)
        .where(_Q.institution_id == institution_id, visible_condition(actor))
    )


TIMELINE_SOURCES: tuple[timeline.TimelineSource, ...] = (
    timeline.TimelineSource("quote", _timeline_source, RECORD_LINKS["quote"]),
)


def _visible_quote(actor: Actor, quote_id: Any) -> Any:
    """SQL: `quote_id` names a quote the actor may see (the quote page's right)."""
    return records.exists_visible(_Q.id, visible_condition(actor), quote_id)


#: Who may read a quote (its audit entries, its order's, its notifications): who may open its page.
RECORD_VISIBILITY: dict[str, records.Visibility] = {ENTITY: _visible_quote, DocumentKind.ORDER.value: _visible_quote}
