"""Quotes: creation, lines and totals, the workflow (every move allowed and refused), revisions,
numbering per year, rights, lists with totals, notifications, concurrency on PostgreSQL."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, select

from crm_app.institutions import timeline
from crm_app.platform import comments
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.sales import invoices, money, quotes
from crm_app.sales import reminders as sales_jobs
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from crm_app.sales.models.quotes import DiscountType, Quote, QuoteLine, QuoteStatus
from crm_app.sales.quotes import QuoteAction, QuoteQuery
from tests.activity_factories import Org, make_org, make_person, notifications_of
from tests.institution_factories import make_contact, make_institution
from tests.sales_factories import (
    make_accepted_quote,
    make_ordered_quote,
    make_quote,
    make_sent_quote,
    quote_line,
)

NUMBER = re.compile(r"^DEV-(\d{4})-(\d{5})$")


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _lines(session: Session, quote: Quote) -> list[QuoteLine]:
    return list(
        session.exec(select(QuoteLine).where(QuoteLine.quote_id == quote.id).order_by(col(QuoteLine.position))).all()
    )


def _seq(number: str) -> int:
    found = NUMBER.match(number)
    assert found, number
    return int(found.group(2))


# --------------------------------------------------------------------------------------------
# Creating


def test_a_new_quote_is_a_numbered_draft_of_its_creator(db: Session, org: Org) -> None:
    institution = make_institution(db)
    quote = make_quote(db, org.rep_a.actor, institution, title="  Formation   IRM ")
    assert NUMBER.match(quote.number) and NUMBER.match(quote.number).group(1) == str(quotes.today().year)  # type: ignore[union-attr]
    assert (quote.status, quote.revision, quote.root_id, quote.version) == (QuoteStatus.DRAFT, 1, quote.id, 1)
    assert (quote.owner_id, quote.created_by, quote.team_id) == (org.rep_a.id, org.rep_a.id, org.rep_a.user.team_id)
    assert quote.title == "Formation IRM"
    assert quote.issue_date == quotes.today()
    assert quote.valid_until == quote.issue_date + timedelta(days=30)
    assert (quote.total_excl_vat, quote.total_vat, quote.total_incl_vat) == (
        Decimal("100.00"),
        Decimal("20.00"),
        Decimal("120.00"),
    )
    second = make_quote(db, org.rep_a2.actor, institution)
    assert _seq(second.number) == _seq(quote.number) + 1


def test_stored_totals_equal_compute_totals_to_the_cent(db: Session, org: Org) -> None:
    raw_lines = [
        quote_line("Scanner", "3", "1333.33", "20", discount_type="percent", discount_value="7.5"),
        quote_line("Maintenance", "2.5", "99.99", "10", discount_type="amount", discount_value="10.01"),
        quote_line("Livre", "7", "12.35", "5.5"),
        quote_line("Réactif", "0.333", "1.01", "2.1"),
        quote_line("Frais", "1", "0.01", "0"),
        quote_line("Formation", "1,5", "450,50", "20"),
    ]
    quote = make_quote(db, org.rep_a.actor, make_institution(db), raw_lines, global_discount_percent="3.33")
    expected = money.compute_totals(
        [
            money.LineAmounts(Decimal("3"), Decimal("1333.33"), Decimal("20"), DiscountType.PERCENT, Decimal("7.5")),
            money.LineAmounts(Decimal("2.5"), Decimal("99.99"), Decimal("10"), DiscountType.AMOUNT, Decimal("10.01")),
            money.LineAmounts(Decimal("7"), Decimal("12.35"), Decimal("5.5")),
            money.LineAmounts(Decimal("0.333"), Decimal("1.01"), Decimal("2.1")),
            money.LineAmounts(Decimal("1"), Decimal("0.01"), Decimal("0")),
            money.LineAmounts(Decimal("1.5"), Decimal("450.50"), Decimal("20")),
        ],
        Decimal("3.33"),
    )
    db.expire_all()
    stored = db.get(Quote, quote.id)
    assert stored is not None
    assert (stored.total_excl_vat, stored.total_vat, stored.total_incl_vat) == (
        expected.total_excl_vat,
        expected.total_vat,
        expected.total_incl_vat,
    )
    assert [line.net_amount for line in _lines(db, stored)] == [t.net for t in expected.lines]
    assert [line.description for line in _lines(db, stored)] == [line["description"] for line in raw_lines]
    detail = quotes.get_quote(db, org.rep_a.actor, quote.id)
    assert detail.vat_rows == expected.vat_rows and detail.subtotal == expected.subtotal
    assert detail.global_discount == expected.global_discount
    assert all(isinstance(v, Decimal) for v in (detail.total_excl_vat, detail.lines[0].quantity))


def test_line_errors_name_the_line_and_the_field(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_quote(
            db,
            org.rep_a.actor,
            make_institution(db),
            [
                quote_line(),
                quote_line(discount_type="percent", discount_value="150"),
                quote_line(vat_rate="7"),
                {"description": "Sans prix", "quantity": "1"},
                quote_line(unit_price="10", discount_type="amount", discount_value="10.01"),
                quote_line(quantity="abc"),
            ],
        )
    assert refused.value.field_errors == {
        "lines.1.discount_value": "A discount percentage is between 0 and 100.",
        "lines.2.vat_rate": "This VAT rate is not allowed.",
        "lines.3.unit_price": "This field is required.",
        "lines.4.discount_value": "A discount cannot exceed the line's amount.",
        "lines.5.quantity": "Enter a number.",
    }


def test_parties_are_checked(db: Session, org: Org) -> None:
    first, second = make_institution(db), make_institution(db)
    contact = make_contact(db, second)
    with pytest.raises(ValidationFailed) as refused:
        make_quote(db, org.rep_a.actor, first, contact_id=contact.id)
    assert refused.value.field_errors == {"contact_id": "This contact belongs to another institution."}
    with pytest.raises(ValidationFailed) as missing:
        quotes.create_quote(db, org.rep_a.actor, {"lines": []})
    assert missing.value.field_errors == {"institution_id": "This field is required."}
    with pytest.raises(ValidationFailed) as unknown:
        quotes.create_quote(db, org.rep_a.actor, {"institution_id": uuid.uuid4()})
    assert unknown.value.field_errors == {"institution_id": "This institution does not exist."}
    with pytest.raises(ValidationFailed) as dates:
        make_quote(db, org.rep_a.actor, first, issue_date="2026-03-10", valid_until="2026-03-09")
    assert set(dates.value.field_errors) == {"valid_until"}
    quote = make_quote(db, org.rep_a.actor, second, contact_id=contact.id, issue_date="2026-03-10")
    assert quote.contact_id == contact.id and quote.valid_until == date(2026, 4, 9)


def test_who_may_own_a_quote(db: Session, org: Org) -> None:
    institution = make_institution(db)
    with pytest.raises(Forbidden):
        make_quote(db, org.rep_a.actor, institution, owner_id=org.rep_a2.id)
    given = make_quote(db, org.manager_a.actor, institution, owner_id=org.rep_a2.id)
    assert (given.owner_id, given.team_id, given.created_by) == (
        org.rep_a2.id,
        org.rep_a2.user.team_id,
        org.manager_a.id,
    )
    with pytest.raises(Forbidden):
        make_quote(db, org.manager_a.actor, institution, owner_id=org.rep_b.id)
    by_admin = make_quote(db, org.admin.actor, institution, owner_id=org.rep_b.id)
    assert by_admin.team_id == org.rep_b.user.team_id


# --------------------------------------------------------------------------------------------
# Editing drafts


def test_editing_replaces_lines_in_order_and_recomputes_totals(db: Session, org: Org) -> None:
    quote = make_quote(db, org.rep_a.actor, make_institution(db))
    updated = quotes.update_quote(
        db,
        org.rep_a.actor,
        quote.id,
        {
            "title": "Nouveau",
            "global_discount_percent": "10",
            "lines": [quote_line("B", "2", "50"), quote_line("A", "1", "19.99", "5.5")],
        },
        expected_version=1,
    )
    assert updated.version == 2 and updated.title == "Nouveau"
    assert [(line.position, line.description, line.net_amount) for line in _lines(db, updated)] == [
        (1, "B", Decimal("100.00")),
        (2, "A", Decimal("19.99")),
    ]
    expected = money.compute_totals(
        [
            money.LineAmounts(Decimal(2), Decimal(50), Decimal(20)),
            money.LineAmounts(Decimal(1), Decimal("19.99"), Decimal("5.5")),
        ],
        Decimal(10),
    )
    assert updated.total_incl_vat == expected.total_incl_vat == Decimal("126.98")
    trail = db.exec(select(AuditEntry).where(AuditEntry.entity_id == quote.id, AuditEntry.action == "update")).all()
    assert {entry.field for entry in trail} >= {"title", "total_incl_vat", "lines", "global_discount_percent"}
    history = quotes.quote_history(db, org.rep_a.actor, quote.id)
    assert history.total == len(trail) + 3


def test_second_save_with_stale_version_is_refused_naming_who_saved(db: Session, org: Org) -> None:
    quote = make_quote(db, org.rep_a.actor, make_institution(db))
    quotes.update_quote(db, org.manager_a.actor, quote.id, {"title": "Manager"}, expected_version=1)
    with pytest.raises(Conflict) as stale:
        quotes.update_quote(db, org.rep_a.actor, quote.id, {"title": "Rep"}, expected_version=1)
    assert stale.value.changed_by == "Marc Manager"


def test_only_drafts_are_edited(db: Session, org: Org) -> None:
    quote = make_sent_quote(db, org.rep_a.actor, make_institution(db))
    with pytest.raises(InvalidTransition) as refused:
        quotes.update_quote(db, org.rep_a.actor, quote.id, {"title": "x"}, expected_version=quote.version)
    assert refused.value.current_status == "sent"
    assert "new revision" in refused.value.message


def test_changing_the_institution_drops_the_contact_of_the_old_one(db: Session, org: Org) -> None:
    first, second = make_institution(db), make_institution(db)
    quote = make_quote(db, org.rep_a.actor, first, contact_id=make_contact(db, first).id)
    moved = quotes.update_quote(db, org.rep_a.actor, quote.id, {"institution_id": second.id}, expected_version=1)
    assert (moved.institution_id, moved.contact_id) == (second.id, None)


# --------------------------------------------------------------------------------------------
# The workflow


def _in_status(session: Session, org: Org, status: QuoteStatus) -> Quote:
    actor, institution = org.rep_a.actor, make_institution(session)
    if status is QuoteStatus.DRAFT:
        return make_quote(session, actor, institution)
    if status is QuoteStatus.SENT:
        return make_sent_quote(session, actor, institution)
    if status is QuoteStatus.ACCEPTED:
        return make_accepted_quote(session, actor, institution)
    if status is QuoteStatus.ORDERED:
        return make_ordered_quote(session, actor, institution)
    quote = make_sent_quote(session, actor, institution)
    if status is QuoteStatus.REJECTED:
        return quotes.reject_quote(session, actor, quote.id)
    if status is QuoteStatus.CANCELLED:
        return quotes.cancel_quote(session, actor, quote.id)
    # `expired` is set by the daily job only (services.sales_jobs): simulate its outcome.
    quote.status = QuoteStatus.EXPIRED
    session.add(quote)
    session.flush()
    return quote


_DO: dict[QuoteAction, Callable[[Session, Any, uuid.UUID], Quote]] = {
    QuoteAction.SEND: quotes.send_quote,
    QuoteAction.ACCEPT: lambda s, a, i: quotes.accept_quote(s, a, i, client_comment="Bon pour accord"),
    QuoteAction.REJECT: lambda s, a, i: quotes.reject_quote(s, a, i, client_comment="Trop cher"),
    QuoteAction.ORDER: lambda s, a, i: quotes.record_order(s, a, i, purchase_order_ref="PO-42"),
    QuoteAction.CANCEL: quotes.cancel_quote,
    QuoteAction.REVISE: quotes.revise_quote,
}
_RESULT = {
    QuoteAction.SEND: QuoteStatus.SENT,
    QuoteAction.ACCEPT: QuoteStatus.ACCEPTED,
    QuoteAction.REJECT: QuoteStatus.REJECTED,
    QuoteAction.ORDER: QuoteStatus.ORDERED,
    QuoteAction.CANCEL: QuoteStatus.CANCELLED,
    QuoteAction.REVISE: QuoteStatus.CANCELLED,
}


@pytest.mark.parametrize("status", list(QuoteStatus))
@pytest.mark.parametrize("action", list(_DO))
def test_every_transition_is_allowed_or_refused_with_the_current_status(
    db: Session, org: Org, status: QuoteStatus, action: QuoteAction
) -> None:
    quote = _in_status(db, org, status)
    version = quote.version
    allowed = status in quotes.ACTION_FROM[action]
    assert (action in quotes.allowed_actions(org.rep_a.actor, quote)) is allowed
    if allowed:
        _DO[action](db, org.rep_a.actor, quote.id)
        db.refresh(quote)
        # A revised expired quote stays expired: what happened to it (a revised sent one is cancelled).
        result = status if (action, status) == (QuoteAction.REVISE, QuoteStatus.EXPIRED) else _RESULT[action]
        assert quote.status == result and quote.version == version + 1
        trail = db.exec(
            select(AuditEntry).where(
                AuditEntry.entity_id == quote.id, AuditEntry.field == "status", AuditEntry.new_value == result.value
            )
        ).all()
        assert result == status or (len(trail) == 1 and trail[0].old_value == status.value)
    else:
        with pytest.raises(InvalidTransition) as refused:
            _DO[action](db, org.rep_a.actor, quote.id)
        assert refused.value.current_status == status.value
        assert refused.value.message != InvalidTransition(status.value).message  # a message that says why
        db.refresh(quote)
        assert quote.status == status and quote.version == version


def test_accept_and_reject_record_who_when_and_the_comment(db: Session, org: Org, clock: Any) -> None:
    institution = make_institution(db, name="CHU de Nantes")
    accepted = quotes.accept_quote(
        db,
        org.manager_a.actor,
        make_sent_quote(db, org.rep_a.actor, institution).id,
        client_comment="  Bon pour accord  ",
    )
    assert (accepted.decided_by, accepted.client_comment) == (org.manager_a.id, "Bon pour accord")
    assert accepted.decided_at is not None
    rejected = quotes.reject_quote(db, org.rep_a.actor, make_sent_quote(db, org.rep_a.actor, institution).id)
    assert rejected.status == QuoteStatus.REJECTED and rejected.decided_by == org.rep_a.id
    told = notifications_of(db, org.rep_a)
    # The owner is told of the decision the manager recorded, not of their own.
    assert [(n.kind, n.params["institution"], n.params["number"]) for n in told] == [
        ("quote.accepted", "CHU de Nantes", accepted.number)
    ]
    assert told[0].link == f"/quotes/{accepted.id}" and told[0].params["actor"] == "Marc Manager"
    assert notifications_of(db, org.manager_a) == []


def test_a_quote_cannot_be_accepted_after_its_validity_date(db: Session, org: Org, clock: Any) -> None:
    quote = make_sent_quote(db, org.rep_a.actor, make_institution(db))
    clock(days=(quote.valid_until - quotes.today()).days)  # the last valid day: still accepted below
    assert QuoteAction.ACCEPT in quotes.allowed_actions(org.rep_a.actor, quote)
    clock(days=1)
    assert QuoteAction.ACCEPT not in quotes.allowed_actions(org.rep_a.actor, quote)
    with pytest.raises(InvalidTransition) as refused:
        quotes.accept_quote(db, org.rep_a.actor, quote.id)
    assert refused.value.current_status == "sent" and "can no longer be accepted" in refused.value.message
    assert quotes.reject_quote(db, org.rep_a.actor, quote.id).status == QuoteStatus.REJECTED


def test_a_quote_past_its_validity_date_is_offered_again_as_a_revision(db: Session, org: Org, clock: Any) -> None:
    quote = make_sent_quote(db, org.rep_a.actor, make_institution(db))
    clock(days=(quote.valid_until - quotes.today()).days + 1)
    assert sales_jobs.expire_quotes(db) == 1  # the night's job
    db.refresh(quote)
    assert quote.status == QuoteStatus.EXPIRED
    assert QuoteAction.REVISE in quotes.allowed_actions(org.rep_a.actor, quote)  # as the refusal to accept says
    draft = quotes.revise_quote(db, org.rep_a.actor, quote.id)
    db.refresh(quote)
    assert (draft.status, draft.revision, draft.issue_date) == (QuoteStatus.DRAFT, 2, quotes.today())
    assert draft.valid_until > quotes.today() and draft.total_incl_vat == quote.total_incl_vat
    assert (quote.status, quote.superseded_by_id, quote.cancelled_at) == (QuoteStatus.EXPIRED, draft.id, None)
    assert QuoteAction.REVISE not in quotes.allowed_actions(org.rep_a.actor, quote)  # only the latest
    trail = db.exec(
        select(AuditEntry.action, AuditEntry.field, AuditEntry.new_value).where(
            AuditEntry.entity_id == quote.id, AuditEntry.action == "revise"
        )
    ).all()
    assert trail == [("revise", "superseded_by", draft.number)]


def test_last_valid_day_still_accepts(db: Session, org: Org, clock: Any) -> None:
    quote = make_sent_quote(db, org.rep_a.actor, make_institution(db))
    clock(days=(quote.valid_until - quotes.today()).days)
    assert quotes.accept_quote(db, org.rep_a.actor, quote.id).status == QuoteStatus.ACCEPTED


def test_an_empty_quote_is_not_sent(db: Session, org: Org) -> None:
    quote = make_quote(db, org.rep_a.actor, make_institution(db), lines=[])
    with pytest.raises(ValidationFailed) as refused:
        quotes.send_quote(db, org.rep_a.actor, quote.id)
    assert refused.value.field_errors == {"lines": "A quote needs at least one line."}


def test_recording_the_order_numbers_it(db: Session, org: Org) -> None:
    first = make_ordered_quote(db, org.rep_a.actor, make_institution(db))
    second = make_ordered_quote(db, org.rep_a.actor, make_institution(db))
    year = quotes.today().year
    assert first.order_number is not None and second.order_number is not None
    assert re.match(rf"^BC-{year}-\d{{5}}$", first.order_number)
    assert int(second.order_number[-5:]) == int(first.order_number[-5:]) + 1
    assert first.purchase_order_ref == "PO-1" and first.ordered_at is not None


def test_a_transition_with_a_stale_version_is_refused(db: Session, org: Org) -> None:
    quote = make_quote(db, org.rep_a.actor, make_institution(db))
    with pytest.raises(Conflict):
        quotes.send_quote(db, org.rep_a.actor, quote.id, expected_version=quote.version - 1 or 99)


# --------------------------------------------------------------------------------------------
# Revisions


def test_revising_a_sent_quote_makes_a_new_draft_and_keeps_the_old_one(db: Session, org: Org) -> None:
    original = make_sent_quote(
        db,
        org.rep_a.actor,
        make_institution(db),
        [quote_line("A", "2", "10", discount_type="percent", discount_value="5"), quote_line("B", "1", "7", "5.5")],
        title="Devis",
        global_discount_percent="2",
    )
    second = quotes.revise_quote(db, org.rep_a.actor, original.id)
    db.refresh(original)
    assert second.number == f"{original.number}-R2" and second.revision == 2 and second.root_id == original.id
    assert second.status == QuoteStatus.DRAFT and second.title == "Devis"
    assert (original.status, original.superseded_by_id) == (QuoteStatus.CANCELLED, second.id)
    assert second.total_incl_vat == original.total_incl_vat
    copied = [(line.description, line.quantity, line.discount_value, line.net_amount) for line in _lines(db, second)]
    assert copied == [
        (line.description, line.quantity, line.discount_value, line.net_amount) for line in _lines(db, original)
    ]
    with pytest.raises(InvalidTransition):
        quotes.revise_quote(db, org.rep_a.actor, original.id)
    quotes.send_quote(db, org.rep_a.actor, second.id)
    third = quotes.revise_quote(db, org.rep_a.actor, second.id)
    assert third.number == f"{original.number}-R3" and third.revision == 3
    detail = quotes.get_quote(db, org.rep_a.actor, third.id)
    assert [(r.number, r.status) for r in detail.revisions] == [
        (original.number, QuoteStatus.CANCELLED),
        (second.number, QuoteStatus.CANCELLED),
        (third.number, QuoteStatus.DRAFT),
    ]
    assert quotes.get_quote(db, org.rep_a.actor, original.id).superseded_by_id == second.id


def test_list_sums_count_a_revised_quote_once(db: Session, org: Org) -> None:
    institution = make_institution(db)
    original = make_sent_quote(db, org.rep_a.actor, institution, [quote_line(unit_price="100")])
    other = make_quote(db, org.rep_a.actor, institution, [quote_line(unit_price="10")])
    revision = quotes.revise_quote(db, org.rep_a.actor, original.id)
    quotes.update_quote(
        db, org.rep_a.actor, revision.id, {"lines": [quote_line(unit_price="150")]}, expected_version=revision.version
    )
    page = quotes.list_quotes(db, org.rep_a.actor, QuoteQuery(institution_id=institution.id))
    assert {row.id for row in page.items} == {original.id, revision.id, other.id}  # every revision is listed
    assert (page.total, page.sum_excl_vat, page.sum_incl_vat) == (3, Decimal("160.00"), Decimal("192.00"))
    cancelled = quotes.list_quotes(
        db, org.rep_a.actor, QuoteQuery(institution_id=institution.id, statuses=(QuoteStatus.CANCELLED,))
    )
    assert (cancelled.total, cancelled.sum_excl_vat) == (1, Decimal("0.00"))


# --------------------------------------------------------------------------------------------
# Numbering


def test_quote_numbers_restart_each_year(db: Session, org: Org, clock: Any) -> None:
    institution = make_institution(db)
    this_year = make_quote(db, org.rep_a.actor, institution)
    start = quotes.today()
    clock(days=(date(start.year + 1, 1, 1) - start).days)
    next_year = make_quote(db, org.rep_a.actor, institution)
    again = make_quote(db, org.rep_a.actor, institution)
    assert this_year.number.startswith(f"DEV-{start.year}-")
    assert (next_year.number, again.number) == (f"DEV-{start.year + 1}-00001", f"DEV-{start.year + 1}-00002")


# --------------------------------------------------------------------------------------------
# Rights


def test_reps_see_and_edit_only_their_own_quotes(db: Session, org: Org) -> None:
    institution = make_institution(db)
    mine = make_quote(db, org.rep_a.actor, institution)
    with pytest.raises(Forbidden):
        quotes.get_quote(db, org.rep_a2.actor, mine.id)
    with pytest.raises(Forbidden):
        quotes.update_quote(db, org.rep_a2.actor, mine.id, {"title": "x"}, expected_version=1)
    with pytest.raises(Forbidden):
        quotes.send_quote(db, org.rep_b.actor, mine.id)
    with pytest.raises(NotFound):
        quotes.get_quote(db, org.rep_a.actor, uuid.uuid4())
    assert quotes.get_quote(db, org.rep_a.actor, mine.id).can_edit


def test_managers_reach_their_team_and_admins_everything(db: Session, org: Org) -> None:
    institution = make_institution(db)
    of_a2 = make_quote(db, org.rep_a2.actor, institution)
    of_b = make_quote(db, org.rep_b.actor, institution)
    detail = quotes.get_quote(db, org.manager_a.actor, of_a2.id)
    assert detail.can_edit and QuoteAction.SEND in detail.allowed_actions
    quotes.send_quote(db, org.manager_a.actor, of_a2.id)
    with pytest.raises(Forbidden):
        quotes.get_quote(db, org.manager_a.actor, of_b.id)
    assert quotes.cancel_quote(db, org.admin.actor, of_b.id).status == QuoteStatus.CANCELLED
    query = QuoteQuery(institution_id=institution.id)
    assert {row.id for row in quotes.list_quotes(db, org.manager_a.actor, query).items} == {of_a2.id}
    assert {row.id for row in quotes.list_quotes(db, org.admin.actor, query).items} == {of_a2.id, of_b.id}
    assert quotes.list_quotes(db, org.rep_a.actor, query).total == 0


def test_a_manager_created_quote_is_seen_by_its_creator_and_its_owner(db: Session, org: Org) -> None:
    quote = make_quote(db, org.manager_a.actor, make_institution(db), owner_id=org.rep_a.id)
    assert quotes.get_quote(db, org.rep_a.actor, quote.id).owner_name == "Anne Aubert"
    assert quotes.get_quote(db, org.manager_a.actor, quote.id).created_by_name == "Marc Manager"


def test_comments_and_timeline_follow_the_quote_rights(db: Session, org: Org) -> None:
    institution = make_institution(db)
    quote = make_quote(db, org.rep_a.actor, institution)
    comment = comments.add_comment(db, org.rep_a.actor, CommentTarget.QUOTE, quote.id, "Relancer lundi")
    assert comment.body == "Relancer lundi"
    with pytest.raises(Forbidden):
        comments.add_comment(db, org.rep_b.actor, CommentTarget.QUOTE, quote.id, "Indiscret")
    seen = timeline.timeline(db, org.rep_a.actor, institution.id, kinds=["quote"])
    assert [(e.kind, e.title, e.link) for e in seen.items] == [("quote", quote.number, f"/quotes/{quote.id}")]
    assert timeline.timeline(db, org.rep_b.actor, institution.id, kinds=["quote"]).total == 0
    # The quote's trail is not on the institution's History (seen by everyone).
    assert timeline.timeline(db, org.rep_b.actor, institution.id, kinds=["change"]).total == 1  # its creation only


# --------------------------------------------------------------------------------------------
# Reading


def test_invoiced_amount_counts_invoices_less_credit_notes(db: Session, org: Org) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, make_institution(db), [quote_line(unit_price="1000")])
    base = {"institution_id": quote.institution_id, "owner_id": org.rep_a.id, "quote_id": quote.id}
    db.add_all(
        [
            Invoice(
                **base,
                status=InvoiceStatus.DRAFT,
                total_excl_vat=Decimal("250"),
                total_vat=Decimal("50"),
                total_incl_vat=Decimal("300"),
            ),
            Invoice(
                **base,
                number="FAC-T-1",
                status=InvoiceStatus.ISSUED,
                total_excl_vat=Decimal("500"),
                total_vat=Decimal("100"),
                total_incl_vat=Decimal("600"),
                amount_credited=Decimal("120.50"),
            ),
            Invoice(
                **base,
                number="FAC-T-2",
                status=InvoiceStatus.CANCELLED,
                total_excl_vat=Decimal("100"),
                total_vat=Decimal("20"),
                total_incl_vat=Decimal("120"),
                amount_credited=Decimal("120"),
            ),
        ]
    )
    db.flush()
    assert invoices.invoiced_on_quote(db, quote.id) == Decimal("779.50")
    detail = quotes.get_quote(db, org.rep_a.actor, quote.id)
    assert detail.invoiced_amount == Decimal("779.50") and detail.remaining_to_invoice == Decimal("420.50")
    assert InvoiceKind.INVOICE.value == "invoice"


# --------------------------------------------------------------------------------------------
# Lists


def test_list_filters_sort_and_totals_of_the_filtered_list(db: Session, org: Org) -> None:
    chu = make_institution(db, name="CHU Zéphyr")
    clinic = make_institution(db, name="Clinique Alpha")
    actor = org.admin.actor
    small = make_quote(db, org.rep_a.actor, chu, [quote_line(unit_price="100")], issue_date="2026-01-10", title="Petit")
    big = make_sent_quote(
        db,
        org.rep_a.actor,
        clinic,
        [quote_line(unit_price="1000", vat_rate="10")],
        issue_date="2026-02-10",
        valid_until="2026-12-31",
    )
    other = make_quote(db, org.rep_b.actor, chu, [quote_line(unit_price="10.10")], issue_date="2026-03-10")
    mine = [small.id, big.id, other.id]

    def ids(**filters: Any) -> list[uuid.UUID]:
        page = quotes.list_quotes(db, actor, QuoteQuery(**filters))
        return [row.id for row in page.items if row.id in mine]

    assert ids() == [other.id, big.id, small.id]  # newest first
    assert ids(sort="amount", descending=False) == [other.id, small.id, big.id]
    assert ids(statuses=(QuoteStatus.SENT,)) == [big.id]
    assert ids(statuses=(QuoteStatus.SENT, QuoteStatus.DRAFT)) == [other.id, big.id, small.id]
    assert ids(institution_id=chu.id) == [other.id, small.id]
    assert ids(owner_id=org.rep_b.id) == [other.id]
    assert ids(team_id=org.rep_a.user.team_id) == [big.id, small.id]
    assert ids(issued_from=date(2026, 1, 10), issued_to=date(2026, 2, 10)) == [big.id, small.id]
    assert ids(valid_from=date(2026, 12, 31)) == [big.id]
    assert ids(amount_min=Decimal("10.10"), amount_max=Decimal("100")) == [other.id, small.id]
    assert ids(q="zéphyr") == [other.id, small.id]
    assert ids(q=big.number.lower()) == [big.id]
    assert ids(q="peti") == [small.id]
    filtered = quotes.list_quotes(db, actor, QuoteQuery(institution_id=chu.id), PageRequest(1, 1))
    assert (filtered.total, len(filtered.items)) == (2, 1)
    assert (filtered.sum_excl_vat, filtered.sum_incl_vat) == (Decimal("110.10"), Decimal("132.12"))
    row = quotes.list_quotes(db, org.rep_a.actor, QuoteQuery(q=big.number)).items[0]
    assert (row.institution_name, row.owner_name, row.status, row.can_edit) == (
        "Clinique Alpha",
        "Anne Aubert",
        QuoteStatus.SENT,
        True,
    )


def test_list_parameters_are_read_leniently() -> None:
    query = QuoteQuery.from_params(
        {
            "status": "sent,bogus",
            "issued_from": "2026-01-31",
            "amount_min": "12,5",
            "amount_max": "lots",
            "sort": "-amount",
            "q": " x ",
        }
    )
    assert query.statuses == (QuoteStatus.SENT,) and query.issued_from == date(2026, 1, 31)
    assert (query.amount_min, query.amount_max) == (Decimal("12.50"), None)
    assert (query.sort, query.descending, query.q) == ("amount", True, "x")
    default = QuoteQuery.from_params({"sort": "nonsense"})
    assert (default.sort, default.descending) == ("issue_date", True)


# --------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL, committed data)


def test_two_concurrent_accepts_only_one_wins(clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        quote = make_sent_quote(session, org.rep_a.actor, make_institution(session))
        rep, manager, quote_id = org.rep_a.actor, org.manager_a.actor, quote.id
    first_locked, results = threading.Event(), dict[str, str]()
    release = threading.Event()

    def first() -> None:
        with unit_of_work() as session:
            quotes.accept_quote(session, rep, quote_id, client_comment="first")
            first_locked.set()
            release.wait(5)
        results["first"] = "accepted"

    def second() -> None:
        first_locked.wait(5)
        try:
            with unit_of_work() as session:
                quotes.accept_quote(session, manager, quote_id, client_comment="second")
            results["second"] = "accepted"
        except InvalidTransition as exc:
            results["second"] = f"refused: {exc.current_status}"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_locked.wait(5)
    threading.Timer(0.3, release.set).start()  # the second waits on the row lock meanwhile
    for thread in threads:
        thread.join(10)
    assert results == {"first": "accepted", "second": "refused: accepted"}
    with unit_of_work() as session:
        stored = session.get(Quote, quote_id)
        assert stored is not None and stored.client_comment == "first" and stored.version == 3


def test_rights_of_roles_without_a_team(db: Session) -> None:
    lone_manager = make_person(db, role=Role.MANAGER)
    rep = make_person(db)
    quote = make_quote(db, rep.actor, make_institution(db))
    with pytest.raises(Forbidden):
        quotes.get_quote(db, lone_manager.actor, quote.id)


def test_a_fully_invoiced_quote_no_longer_offers_the_invoice_action(db: Session, org: Org) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, make_institution(db))
    invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, percent=Decimal("30"))
    assert QuoteAction.INVOICE in quotes.get_quote(db, org.rep_a.actor, quote.id).allowed_actions  # 70 % remain
    invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)  # the balance
    detail = quotes.get_quote(db, org.rep_a.actor, quote.id)
    assert detail.remaining_to_invoice == 0
    assert QuoteAction.INVOICE not in detail.allowed_actions
    assert QuoteAction.INVOICE not in quotes.allowed_actions(org.rep_a.actor, quote, invoiced=detail.invoiced_amount)


def test_a_quotes_invoices_are_listed_oldest_first_within_the_actors_reach(db: Session, org: Org) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, make_institution(db))
    deposit = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, percent=Decimal("30"))
    balance = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    found = invoices.quote_invoices(db, org.rep_a.actor, quote.id)
    assert [row.id for row in found.items] == [deposit.id, balance.id] and found.total == 2
    assert [row.id for row in invoices.quote_invoices(db, org.rep_a.actor, quote.id, PageRequest(1, 1)).items] == [
        deposit.id
    ]
    with pytest.raises(Forbidden):
        invoices.quote_invoices(db, org.rep_b.actor, quote.id)
