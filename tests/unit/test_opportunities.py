"""Opportunities: creation rules, probability by stage or by hand, stage moves (lost needs a reason,
closing dates), stage history with the time spent in each stage, lists and board totalled in SQL over
the whole filter (sums computed by hand), rights per role, stale versions, lost reasons, the link with
quotes (acceptance wins the sale; a refused or expired quote tells its owner), on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from crm_app.activities import calls, notes, tasks
from crm_app.activities import timeline as activity_timeline
from crm_app.institutions import timeline
from crm_app.platform import comments, events
from crm_app.platform import search as global_search
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, Forbidden, ValidationFailed
from crm_app.platform.i18n import use_locale
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.paging import PageRequest
from crm_app.platform.tabular import ExportFormat
from crm_app.sales import opportunities, quotes
from crm_app.sales import reminders as sales_jobs
from crm_app.sales.models.opportunities import (
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStage,
    OpportunityStageChange,
)
from crm_app.sales.opportunities import OpportunityFilter
from tests.activity_factories import Org, make_meeting, make_note, make_org, make_task, notifications_of
from tests.institution_factories import make_contact, make_institution
from tests.sales_factories import make_opportunity, make_quote, make_sent_quote, quote_line

S = OpportunityStage


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _reason(session: Session) -> LostReason:
    return session.get(LostReason, opportunities.list_lost_reasons(session)[0].id)  # type: ignore[return-value]


def _changes(session: Session, opportunity: Opportunity) -> list[OpportunityStageChange]:
    return list(
        session.exec(
            select(OpportunityStageChange)
            .where(OpportunityStageChange.opportunity_id == opportunity.id)
            .order_by(col(OpportunityStageChange.changed_at))
        ).all()
    )


# --------------------------------------------------------------------------------------------
# Creating


def test_a_new_opportunity_belongs_to_its_creator_and_follows_the_stage_probability(db: Session, org: Org) -> None:
    institution = make_institution(db)
    opportunity = make_opportunity(db, org.rep_a.actor, institution, name="  Bloc   opératoire ", amount="1 234,50")
    assert opportunity.name == "Bloc opératoire"
    assert (opportunity.owner_id, opportunity.team_id) == (org.rep_a.id, org.rep_a.user.team_id)
    assert (opportunity.stage, opportunity.probability, opportunity.probability_is_manual) == (S.PROSPECTING, 10, False)
    assert opportunity.amount == Decimal("1234.50") and opportunity.closed_at is None and opportunity.version == 1
    [change] = _changes(db, opportunity)
    assert (change.from_stage, change.to_stage, change.changed_by, change.amount) == (
        None,
        S.PROSPECTING,
        org.rep_a.id,
        Decimal("1234.50"),
    )


def test_the_institution_is_required_and_the_contact_must_work_there(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    with pytest.raises(ValidationFailed) as missing:
        opportunities.create_opportunity(db, actor, {"name": "X"})
    assert missing.value.field_errors == {"institution_id": "This field is required."}
    with pytest.raises(ValidationFailed) as unnamed:
        opportunities.create_opportunity(db, actor, {"name": " ", "institution_id": make_institution(db).id})
    assert "name" in unnamed.value.field_errors
    here, elsewhere = make_institution(db), make_institution(db)
    stranger = make_contact(db, elsewhere)
    with pytest.raises(ValidationFailed) as wrong:
        make_opportunity(db, actor, here, contact_id=stranger.id)
    assert wrong.value.field_errors == {"contact_id": "This contact belongs to another institution."}
    with pytest.raises(ValidationFailed) as negative:
        make_opportunity(db, actor, here, amount="-5")
    assert "amount" in negative.value.field_errors
    opportunity = make_opportunity(db, actor, here, contact_id=make_contact(db, here).id)
    moved = opportunities.update_opportunity(
        db, actor, opportunity.id, {"institution_id": elsewhere.id}, expected_version=opportunity.version
    )
    assert moved.institution_id == elsewhere.id and moved.contact_id is None  # the contact stayed behind


def test_the_owner_defaults_to_the_actor_and_the_team_follows_the_owner(db: Session, org: Org) -> None:
    institution = make_institution(db)
    given = make_opportunity(db, org.manager_a.actor, institution, owner_id=org.rep_a2.id)
    assert (given.owner_id, given.team_id) == (org.rep_a2.id, org.rep_a2.user.team_id)
    with pytest.raises(Forbidden):  # a rep cannot give a sale to someone else
        make_opportunity(db, org.rep_a.actor, institution, owner_id=org.rep_b.id)
    moved = opportunities.update_opportunity(
        db, org.admin.actor, given.id, {"owner_id": org.rep_b.id}, expected_version=given.version
    )
    assert (moved.owner_id, moved.team_id) == (org.rep_b.id, org.rep_b.user.team_id)


# --------------------------------------------------------------------------------------------
# Probability and stages


def test_probability_follows_the_stage_unless_set_by_hand(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    opportunity = make_opportunity(db, actor, make_institution(db))
    for stage, expected in ((S.QUALIFICATION, 25), (S.PROPOSAL, 50), (S.NEGOTIATION, 75)):
        opportunity = opportunities.move_stage(db, actor, opportunity.id, stage)
        assert opportunity.probability == expected
    opportunity = opportunities.update_opportunity(
        db, actor, opportunity.id, {"probability": "60"}, expected_version=opportunity.version
    )
    assert (opportunity.probability, opportunity.probability_is_manual) == (60, True)
    for stage in (S.PROPOSAL, S.QUALIFICATION, S.NEGOTIATION):  # kept across open stages
        opportunity = opportunities.move_stage(db, actor, opportunity.id, stage)
        assert (opportunity.probability, opportunity.probability_is_manual) == (60, True)
    opportunity = opportunities.update_opportunity(
        db, actor, opportunity.id, {"probability": ""}, expected_version=opportunity.version
    )
    assert (opportunity.probability, opportunity.probability_is_manual) == (75, False)  # back to the default
    with pytest.raises(ValidationFailed):
        opportunities.update_opportunity(
            db, actor, opportunity.id, {"probability": "101"}, expected_version=opportunity.version
        )
    opportunity = opportunities.update_opportunity(
        db, actor, opportunity.id, {"probability": 30}, expected_version=opportunity.version
    )
    won = opportunities.move_stage(db, actor, opportunity.id, S.WON)
    assert (won.probability, won.probability_is_manual) == (100, False)  # a won sale is certain
    reopened = opportunities.move_stage(db, actor, won.id, S.PROPOSAL)
    assert (reopened.probability, reopened.closed_at) == (50, None)


def test_losing_needs_a_reason_and_closing_dates_the_sale(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    opportunity = make_opportunity(db, actor, make_institution(db))
    with pytest.raises(ValidationFailed) as refused:
        opportunities.move_stage(db, actor, opportunity.id, S.LOST)
    assert refused.value.field_errors == {"lost_reason_id": "Give the reason this sale was lost."}
    assert db.get(Opportunity, opportunity.id).stage == S.PROSPECTING  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        opportunities.move_stage(db, actor, opportunity.id, S.LOST, lost_reason_id=uuid.uuid4())
    reason = _reason(db)
    lost = opportunities.move_stage(db, actor, opportunity.id, S.LOST, lost_reason_id=reason.id)
    assert (lost.stage, lost.probability, lost.lost_reason_id) == (S.LOST, 0, reason.id)
    assert lost.closed_at is not None
    detail = opportunities.get_detail(db, actor, lost.id)
    assert detail.lost_reason == reason.label and detail.weighted_amount == Decimal("0.00")
    reopened = opportunities.move_stage(db, actor, lost.id, S.NEGOTIATION)
    assert (reopened.closed_at, reopened.lost_reason_id, reopened.lost_reason_text, reopened.probability) == (
        None,
        None,
        None,
        75,
    )
    text_only = opportunities.move_stage(db, actor, reopened.id, S.LOST, lost_reason_text="Le service a fermé")
    assert (text_only.lost_reason_id, text_only.lost_reason_text) == (None, "Le service a fermé")
    with pytest.raises(ValidationFailed):  # a reason on an open sale is refused
        opportunities.update_opportunity(
            db,
            actor,
            make_opportunity(db, actor, make_institution(db)).id,
            {"lost_reason_text": "?"},
            expected_version=1,
        )
    won = opportunities.move_stage(db, actor, text_only.id, S.WON)
    assert won.closed_at is not None and won.lost_reason_text is None


def test_stage_history_tells_who_moved_it_when_and_the_time_spent_in_each_stage(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    opportunity = make_opportunity(db, org.rep_a.actor, make_institution(db))
    clock(days=3)
    opportunities.move_stage(db, org.manager_a.actor, opportunity.id, S.PROPOSAL)
    clock(days=2, hours=4)
    opportunities.move_stage(db, org.rep_a.actor, opportunity.id, S.NEGOTIATION)
    clock(hours=5)
    history = opportunities.get_detail(db, org.rep_a.actor, opportunity.id).stage_history
    assert [(row.from_stage, row.to_stage, row.changed_by_name) for row in history] == [
        (None, S.PROSPECTING, "Anne Aubert"),
        (S.PROSPECTING, S.PROPOSAL, "Marc Manager"),
        (S.PROPOSAL, S.NEGOTIATION, "Anne Aubert"),
    ]
    assert [row.duration for row in history] == [timedelta(days=3), timedelta(days=2, hours=4), timedelta(hours=5)]
    opportunities.move_stage(db, org.rep_a.actor, opportunity.id, S.WON)
    final = opportunities.get_detail(db, org.rep_a.actor, opportunity.id).stage_history[-1]
    assert (final.to_stage, final.duration, final.left_at) == (S.WON, None, None)


def test_a_stale_save_is_refused_with_the_name_of_who_saved(db: Session, org: Org) -> None:
    opportunity = make_opportunity(db, org.rep_a.actor, make_institution(db))
    opportunities.update_opportunity(db, org.manager_a.actor, opportunity.id, {"amount": "5"}, expected_version=1)
    with pytest.raises(Conflict) as stale:
        opportunities.update_opportunity(db, org.rep_a.actor, opportunity.id, {"amount": "6"}, expected_version=1)
    assert stale.value.changed_by == "Marc Manager"
    with pytest.raises(Conflict):
        opportunities.move_stage(db, org.rep_a.actor, opportunity.id, S.WON, expected_version=1)


def test_every_change_is_in_the_history_and_published(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    opportunity = make_opportunity(db, actor, make_institution(db))
    opportunities.update_opportunity(
        db, actor, opportunity.id, {"amount": "2000", "source": "tender"}, expected_version=1
    )
    opportunities.move_stage(db, actor, opportunity.id, S.PROPOSAL)
    page = opportunities.opportunity_history(db, actor, opportunity.id)
    fields = {(row.action, row.field): (row.old_value, row.new_value) for row in page.items}
    assert fields[("update", "amount")] == ("1000.00", "2000.00")
    assert fields[("update", "source")] == (None, "tender")
    assert fields[("stage", "stage")] == ("prospecting", "proposal")
    assert fields[("stage", "probability")] == ("10", "50")
    published = [e for e in events.pending(db) if isinstance(e, events.OpportunityChanged)]
    assert [e.action for e in published] == ["create", "update", "stage"]
    assert published[-1].stage == "proposal" and published[-1].owner_id == org.rep_a.id
    opportunities.delete_opportunity(db, actor, opportunity.id)
    assert db.get(Opportunity, opportunity.id) is None
    assert not db.exec(
        select(OpportunityStageChange).where(OpportunityStageChange.opportunity_id == opportunity.id)
    ).all()
    assert db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == opportunity.id, AuditEntry.action == "delete")
    ).first()


# --------------------------------------------------------------------------------------------
# Rights


def test_each_role_sees_and_edits_its_scope(db: Session, org: Org) -> None:
    institution = make_institution(db)
    mine = make_opportunity(db, org.rep_a.actor, institution, name="A")
    colleague = make_opportunity(db, org.rep_a2.actor, institution, name="A2")
    other_team = make_opportunity(db, org.rep_b.actor, institution, name="B")

    def visible(person: object) -> set[str]:
        actor = person.actor  # type: ignore[attr-defined]
        names = {row.name for row in opportunities.list_opportunities(db, actor).items}
        board = opportunities.board(db, actor)
        assert sum(column.count for column in board) == len(names)
        return names

    assert visible(org.rep_a) == {"A"}
    assert visible(org.manager_a) == {"A", "A2"}
    assert visible(org.admin) == {"A", "A2", "B"}
    with pytest.raises(Forbidden):
        opportunities.get_detail(db, org.rep_a.actor, colleague.id)
    with pytest.raises(Forbidden):
        opportunities.move_stage(db, org.manager_a.actor, other_team.id, S.WON)
    assert opportunities.get_detail(db, org.manager_a.actor, mine.id).can_edit
    assert opportunities.get_detail(db, org.admin.actor, other_team.id).can_edit  # admins edit all
    with pytest.raises(Forbidden):
        opportunities.create_lost_reason(db, org.manager_a.actor, "Délai")


# --------------------------------------------------------------------------------------------
# Lists and board


def _hand_set(db: Session, org: Org) -> dict[str, Opportunity]:
    """Five sales of rep_a and one of rep_b, amounts and probabilities chosen to test the rounding."""
    actor = org.rep_a.actor
    hopital, clinique = make_institution(db, name="Hôpital Nord"), make_institution(db, name="Clinique Sud")
    made = {
        "p1": make_opportunity(db, actor, hopital, name="Scanner", amount="1000.05", expected_close_date="2026-03-01"),
        "p2": make_opportunity(db, actor, clinique, name="IRM", amount="333.33", expected_close_date="2026-02-01"),
        "q1": make_opportunity(db, actor, hopital, name="Bloc", amount="200.01", stage="qualification", probability=33),
        "n1": make_opportunity(db, actor, clinique, name="Lits", amount="99.99", stage="negotiation"),
        "w1": make_opportunity(db, actor, hopital, name="Stérilisation", amount="5000", stage="won"),
    }
    made["b1"] = make_opportunity(db, org.rep_b.actor, hopital, name="Autre équipe", amount="777", source="tender")
    return made


def test_board_counts_and_sums_each_stage_over_the_whole_filter(db: Session, org: Org) -> None:
    _hand_set(db, org)
    columns = {c.stage: c for c in opportunities.board(db, org.rep_a.actor, page_size=1)}
    assert list(columns) == list(S)
    prospecting = columns[S.PROSPECTING]
    # 1000.05 + 333.33 = 1333.38; weighted: (1000.05 + 333.33) × 10 / 100 = 133.338 → 133.34
    assert (prospecting.count, prospecting.amount, prospecting.weighted_amount) == (
        2,
        Decimal("1333.38"),
        Decimal("133.34"),
    )
    assert [card.name for card in prospecting.items] == ["IRM"] and prospecting.has_more  # nearest close first
    # 200.01 × 33 / 100 = 66.0033 → 66.00
    assert (columns[S.QUALIFICATION].amount, columns[S.QUALIFICATION].weighted_amount) == (
        Decimal("200.01"),
        Decimal("66.00"),
    )
    # 99.99 × 75 / 100 = 74.9925 → 74.99
    assert columns[S.NEGOTIATION].weighted_amount == Decimal("74.99")
    assert (columns[S.WON].count, columns[S.WON].weighted_amount) == (1, Decimal("5000.00"))
    assert (columns[S.LOST].count, columns[S.LOST].items) == (0, [])
    rest = opportunities.board_page(db, org.rep_a.actor, None, S.PROSPECTING, PageRequest(2, 1))
    assert [card.name for card in rest.items] == ["Scanner"] and rest.total == 2
    filtered = {c.stage: c for c in opportunities.board(db, org.rep_a.actor, OpportunityFilter(q="hôpital nord"))}
    assert (filtered[S.PROSPECTING].count, filtered[S.PROSPECTING].amount) == (1, Decimal("1000.05"))
    only = opportunities.board(db, org.rep_a.actor, OpportunityFilter(stages=(S.WON, S.LOST)))
    assert [c.stage for c in only] == [S.WON, S.LOST]


def test_the_list_filters_sorts_pages_and_totals_in_sql(db: Session, org: Org) -> None:
    made = _hand_set(db, org)
    admin = org.admin.actor

    def names(query: OpportunityFilter, request: PageRequest | None = None) -> list[str]:
        return [row.name for row in opportunities.list_opportunities(db, admin, query, request).items]

    page = opportunities.list_opportunities(db, admin, OpportunityFilter(sort="amount", descending=True))
    assert page.total == 6 and page.items[0].name == "Stérilisation"
    # Σ amount = 1000.05 + 333.33 + 200.01 + 99.99 + 5000 + 777 = 7410.38;
    # Σ weighted = ((1000.05 + 333.33 + 777) × 10 + 200.01 × 33 + 99.99 × 75 + 5000 × 100) / 100
    #            = 535203.38 / 100 → 5352.03
    assert (page.sum_amount, page.sum_weighted) == (Decimal("7410.38"), Decimal("5352.03"))
    assert names(OpportunityFilter(sort="name"), PageRequest(2, 2)) == ["IRM", "Lits"]
    assert set(names(OpportunityFilter(stages=(S.PROSPECTING,), owner_id=org.rep_a.id))) == {"Scanner", "IRM"}
    assert names(OpportunityFilter(team_id=org.rep_b.user.team_id)) == ["Autre équipe"]
    assert names(OpportunityFilter(institution_id=made["p2"].institution_id, stages=(S.PROSPECTING,))) == ["IRM"]
    assert names(OpportunityFilter(close_from=date(2026, 2, 15), close_to=date(2026, 3, 31))) == ["Scanner"]
    assert set(names(OpportunityFilter(amount_min=Decimal("300"), amount_max=Decimal("1000.05")))) == {
        "Scanner",
        "IRM",
        "Autre équipe",
    }
    assert names(OpportunityFilter(sources=(OpportunitySource.TENDER,))) == ["Autre équipe"]
    today = made["w1"].closed_at.date()  # type: ignore[union-attr]
    assert names(OpportunityFilter(closed_from=today - timedelta(days=1), closed_to=today + timedelta(days=1))) == [
        "Stérilisation"
    ]
    assert names(OpportunityFilter(closed_to=today - timedelta(days=2))) == []
    mine = opportunities.list_opportunities(db, org.rep_b.actor, OpportunityFilter(mine=True))
    assert [row.name for row in mine.items] == ["Autre équipe"]


def test_the_filter_reads_and_writes_url_parameters() -> None:
    owner = uuid.uuid4()
    query = OpportunityFilter.from_params(
        {
            "q": "bloc",
            "stage": "proposal,won,nonsense",
            "owner": str(owner),
            "close_from": "2026-01-01",
            "amount_min": "1 000,50",
            "source": ["tender"],
            "sort": "-amount",
        }
    )
    assert query.stages == (S.PROPOSAL, S.WON) and query.owner_id == owner
    assert (query.close_from, query.amount_min, query.sort, query.descending) == (
        date(2026, 1, 1),
        Decimal("1000.50"),
        "amount",
        True,
    )
    assert OpportunityFilter.from_params(query.to_params()) == query
    assert OpportunityFilter.from_params({"owner": "me"}).mine


def test_the_export_holds_every_filtered_row_in_words(db: Session, org: Org) -> None:
    _hand_set(db, org)
    with use_locale("en"):
        content = opportunities.export_opportunities(
            db, org.rep_a.actor, OpportunityFilter(stages=(S.WON,)), ExportFormat.CSV
        ).decode("utf-8-sig")
    lines = content.strip().split("\r\n")
    assert lines[0].startswith("Name;Institution;Owner;Stage;Amount excl. VAT")
    assert len(lines) == 2 and lines[1].startswith("Stérilisation;Hôpital Nord;Anne Aubert;Won;5000.00;100;5000.00")
    xlsx = opportunities.export_opportunities(db, org.rep_a.actor, OpportunityFilter(), ExportFormat.XLSX)
    assert xlsx.startswith(b"PK")


# --------------------------------------------------------------------------------------------
# Lost reasons


def test_lost_reasons_start_with_defaults_and_admins_edit_the_list(db: Session, org: Org) -> None:
    admin = org.admin.actor
    labels = [row.label for row in opportunities.list_lost_reasons(db)]
    assert labels == list(opportunities.DEFAULT_LOST_REASONS)
    added = opportunities.create_lost_reason(db, admin, "  Délai   de livraison ")
    assert added.label == "Délai de livraison"
    with pytest.raises(ValidationFailed):
        opportunities.create_lost_reason(db, admin, "délai de livraison")
    first = opportunities.list_lost_reasons(db)[0]
    opportunities.update_lost_reason(db, admin, first.id, label="Prix")
    reordered = opportunities.reorder_lost_reasons(db, admin, [added.id])
    assert [row.label for row in reordered][:2] == ["Délai de livraison", "Prix"]
    opportunity = make_opportunity(db, org.rep_a.actor, make_institution(db))
    opportunities.move_stage(db, org.rep_a.actor, opportunity.id, S.LOST, lost_reason_id=first.id)
    opportunities.update_lost_reason(db, admin, first.id, is_active=False)
    assert "Prix" not in [row.label for row in opportunities.list_lost_reasons(db)]
    assert opportunities.get_detail(db, org.rep_a.actor, opportunity.id).lost_reason == "Prix"  # kept
    with pytest.raises(ValidationFailed):  # a retired reason is no longer given
        other = make_opportunity(db, org.rep_a.actor, make_institution(db))
        opportunities.move_stage(db, org.rep_a.actor, other.id, S.LOST, lost_reason_id=first.id)
    with pytest.raises(ValidationFailed):  # in use: retire it rather than delete it
        opportunities.delete_lost_reason(db, admin, first.id)
    opportunities.delete_lost_reason(db, admin, added.id)
    assert db.get(LostReason, added.id) is None
    unused = [row for row in opportunities.list_lost_reasons(db, include_retired=True) if row.id != first.id]
    for row in unused:
        opportunities.delete_lost_reason(db, admin, row.id)
    assert [row.label for row in opportunities.list_lost_reasons(db, include_retired=True)] == ["Prix"]
    db.delete(opportunity)  # nothing lost for it any more: still the list keeps its last reason
    db.flush()
    with pytest.raises(ValidationFailed) as last:
        opportunities.delete_lost_reason(db, admin, first.id)
    assert last.value.field_errors == {"label": "The list keeps at least one reason: retire it instead."}


# --------------------------------------------------------------------------------------------
# SQLite, the embedded default database


def test_the_core_on_sqlite(tmp_path: Path, settings_override: Callable[..., None]) -> None:
    from crm_app.operations import migrate

    settings_override(database_url=f"sqlite:///{tmp_path / 'opportunities.sqlite3'}")
    migrate.upgrade()
    with unit_of_work() as session:
        assert session.get_bind().dialect.name == "sqlite"
        org = make_org(session)
        made = _hand_set(session, org)
    with unit_of_work() as session:
        columns = {c.stage: c for c in opportunities.board(session, org.rep_a.actor)}
        assert (columns[S.PROSPECTING].amount, columns[S.PROSPECTING].weighted_amount) == (
            Decimal("1333.38"),
            Decimal("133.34"),
        )
        assert [card.name for card in columns[S.PROSPECTING].items] == ["IRM", "Scanner"]
        page = opportunities.list_opportunities(session, org.admin.actor, OpportunityFilter(q="HÔPITAL"))
        assert page.total == 4 and page.sum_weighted == Decimal("5243.71")  # 524370.83 / 100
        reason = opportunities.list_lost_reasons(session)[0]
        opportunities.move_stage(session, org.rep_a.actor, made["p1"].id, S.LOST, lost_reason_id=reason.id)
    with unit_of_work() as session:
        detail = opportunities.get_detail(session, org.rep_a.actor, made["p1"].id)
        assert detail.stage is S.LOST and detail.closed_at is not None and len(detail.stage_history) == 2


# --------------------------------------------------------------------------------------------
# Quotes made for an opportunity


def test_a_quote_made_from_an_opportunity_takes_its_institution_contact_and_name(db: Session, org: Org) -> None:
    institution = make_institution(db)
    contact = make_contact(db, institution)
    opportunity = make_opportunity(db, org.rep_a.actor, institution, name="Colonnes de bloc", contact_id=contact.id)
    quote = quotes.create_quote(db, org.rep_a.actor, {"opportunity_id": opportunity.id, "lines": [quote_line()]})
    assert (quote.institution_id, quote.contact_id, quote.title, quote.opportunity_id) == (
        institution.id,
        contact.id,
        "Colonnes de bloc",
        opportunity.id,
    )
    detail = quotes.get_quote(db, org.rep_a.actor, quote.id)
    assert (detail.opportunity_id, detail.opportunity_name) == (opportunity.id, "Colonnes de bloc")
    assert [q.number for q in opportunities.get_detail(db, org.rep_a.actor, opportunity.id).quotes] == [quote.number]
    with pytest.raises(ValidationFailed) as elsewhere:
        make_quote(db, org.rep_a.actor, make_institution(db), opportunity_id=opportunity.id)
    assert elsewhere.value.field_errors == {"opportunity_id": "This opportunity belongs to another institution."}
    hidden = make_opportunity(db, org.rep_b.actor, institution)
    with pytest.raises(ValidationFailed) as unseen:
        make_quote(db, org.rep_a.actor, institution, opportunity_id=hidden.id)
    assert unseen.value.field_errors == {"opportunity_id": "This opportunity does not exist."}
    revised = quotes.revise_quote(db, org.rep_a.actor, quotes.send_quote(db, org.rep_a.actor, quote.id).id)
    assert revised.opportunity_id == opportunity.id


def test_accepting_a_linked_quote_wins_the_opportunity_at_its_total_excl_vat(db: Session, org: Org) -> None:
    institution = make_institution(db)
    opportunity = make_opportunity(db, org.rep_a.actor, institution, amount="5000", stage="negotiation")
    lines = [quote_line(quantity="3", unit_price="1234.56"), quote_line(unit_price="99.99", vat_rate="5.5")]
    quote = make_sent_quote(db, org.rep_a.actor, institution, lines, opportunity_id=opportunity.id)
    assert quote.total_excl_vat == Decimal("3803.67")  # 3 × 1234.56 + 99.99
    quotes.accept_quote(db, org.manager_a.actor, quote.id, client_comment="Bon pour accord")
    won = opportunities.get_detail(db, org.rep_a.actor, opportunity.id)
    assert (won.stage, won.amount, won.probability, won.weighted_amount) == (
        S.WON,
        Decimal("3803.67"),
        100,
        Decimal("3803.67"),
    )
    assert won.closed_at is not None
    last = won.stage_history[-1]
    assert (last.from_stage, last.to_stage, last.changed_by_name, last.amount) == (
        S.NEGOTIATION,
        S.WON,
        "Marc Manager",
        Decimal("3803.67"),
    )


def test_a_refused_or_expired_quote_tells_the_opportunity_owner(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    institution = make_institution(db)
    opportunity = make_opportunity(db, org.manager_a.actor, institution, name="Stérilisateurs", owner_id=org.rep_a.id)
    refused = make_sent_quote(db, org.manager_a.actor, institution, opportunity_id=opportunity.id)
    quotes.reject_quote(db, org.manager_a.actor, refused.id, client_comment="Trop cher")
    expiring = make_sent_quote(
        db,
        org.manager_a.actor,
        institution,
        opportunity_id=opportunity.id,
        valid_until=quotes.today() + timedelta(days=1),
    )
    clock(days=3)
    assert sales_jobs.expire_quotes(db) == 1
    told = {
        n.kind: n.params
        for n in notifications_of(db, org.rep_a.user)
        if n.kind.startswith("opportunity.quote") and n.record_id == opportunity.id
    }
    assert told["opportunity.quote_rejected"]["number"] == refused.number
    assert told["opportunity.quote_rejected"]["name"] == "Stérilisateurs"
    assert told["opportunity.quote_expired"]["number"] == expiring.number
    own = make_opportunity(db, org.manager_a.actor, institution)  # the quote's owner is told by the quote already
    mine = make_sent_quote(db, org.manager_a.actor, institution, opportunity_id=own.id)
    quotes.reject_quote(db, org.admin.actor, mine.id)
    assert not [n for n in notifications_of(db, org.manager_a.user) if n.kind.startswith("opportunity.quote")]


def test_the_new_owner_is_told_when_someone_else_gives_them_the_opportunity(db: Session, org: Org) -> None:
    opportunity = make_opportunity(db, org.rep_a.actor, make_institution(db), name="Lits médicalisés")
    assert not [n for n in notifications_of(db, org.rep_a2.user) if n.kind == "opportunity.assigned"]
    opportunities.update_opportunity(
        db, org.manager_a.actor, opportunity.id, {"owner_id": org.rep_a2.id}, expected_version=1
    )
    [told] = [n for n in notifications_of(db, org.rep_a2.user) if n.kind == "opportunity.assigned"]
    assert told.params == {"actor": "Marc Manager", "name": "Lits médicalisés"}
    assert told.link == f"/opportunities/{opportunity.id}"


# --------------------------------------------------------------------------------------------
# Activities, timeline, search, comments


def test_activities_link_to_an_opportunity_of_their_institution(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    institution, elsewhere = make_institution(db), make_institution(db)
    opportunity = make_opportunity(db, actor, institution)
    task = make_task(db, actor, opportunity_id=opportunity.id)
    assert (task.opportunity_id, task.institution_id) == (opportunity.id, institution.id)  # brings its institution
    with pytest.raises(ValidationFailed) as wrong:
        make_note(db, actor, institution_id=elsewhere.id, opportunity_id=opportunity.id)
    assert wrong.value.field_errors == {"opportunity_id": "This opportunity belongs to another institution."}
    hidden = make_opportunity(db, org.rep_b.actor, institution)
    with pytest.raises(ValidationFailed):
        calls.log_call(db, actor, {"direction": "out", "opportunity_id": hidden.id})
    note = make_note(db, actor, institution_id=institution.id, opportunity_id=opportunity.id, visibility="shared")
    call = calls.log_call(db, actor, {"direction": "out", "opportunity_id": opportunity.id})
    meeting = make_meeting(db, actor, opportunity_id=opportunity.id)
    assert tasks.get_task_row(db, actor, task.id).opportunity_id == opportunity.id
    moved = tasks.update_task(db, actor, task.id, {"institution_id": elsewhere.id}, expected_version=task.version)
    assert moved.opportunity_id is None  # it was the previous institution's
    page = activity_timeline.opportunity_activities(db, actor, opportunity.id)
    assert {(e.kind, e.record_id) for e in page.items} == {
        ("note", note.id),
        ("call", call.id),
        ("meeting", meeting.id),
    }
    assert page.items[0].link and page.total == 3
    assert [r.id for r in notes.list_notes(db, actor, notes.NoteQuery(opportunity_id=opportunity.id)).items] == [
        note.id
    ]
    with pytest.raises(Forbidden):
        activity_timeline.opportunity_activities(db, org.rep_b.actor, opportunity.id)


def test_the_institution_timeline_search_and_comments_know_opportunities(db: Session, org: Org) -> None:
    institution = make_institution(db, name="CHU Lumière")
    opportunity = make_opportunity(db, org.rep_a.actor, institution, name="Échographes portables")
    opportunities.move_stage(db, org.rep_a.actor, opportunity.id, S.WON)
    entries = timeline.timeline(db, org.rep_a.actor, institution.id, kinds=["opportunity"]).items
    assert [(e.status, e.old_value, e.title) for e in entries] == [
        ("won", "prospecting", "Échographes portables"),
        ("prospecting", None, "Échographes portables"),
    ]
    assert entries[0].link == f"/opportunities/{opportunity.id}"
    assert timeline.timeline(db, org.rep_b.actor, institution.id, kinds=["opportunity"]).items == []
    groups = {g.kind: g for g in global_search.search_everything(db, org.rep_a.actor, "echographe")}
    assert [hit.title for hit in groups["opportunity"].hits] == ["Échographes portables"]
    assert "opportunity" not in {g.kind for g in global_search.search_everything(db, org.rep_b.actor, "echographe")}
    comment = comments.add_comment(db, org.manager_a.actor, CommentTarget.OPPORTUNITY, opportunity.id, "Bravo !")
    assert comment.target_kind == CommentTarget.OPPORTUNITY
    with pytest.raises(Forbidden):
        comments.add_comment(db, org.rep_b.actor, "opportunity", opportunity.id, "?")
