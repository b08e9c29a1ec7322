"""The pipeline and activity part of the demo: opportunities in every stage with their stage history,
and twelve months of tasks, meetings, calls and notes for every salesperson, linked to the sale they
serve when there is one.

Opportunities are written as rows, dated in the past: every rule of the schema holds (the stage's
probability, `closed_at` exactly when won or lost, a reason when lost, the owner's team, a first stage
change from no stage). Activities go through their services with the application's clock set to
their day (`history.clock_at`), so they carry the dates real use would have given them.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from crm_app.activities import calls, meetings, notes, tasks
from crm_app.activities.models import CallDirection, MeetingStatus, NoteVisibility, TaskPriority, TaskStatus
from crm_app.demo.history import clock_at
from crm_app.institutions.models import Contact, Institution
from crm_app.platform.models import base
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import actor_from
from crm_app.platform.text import fold
from crm_app.sales import opportunities as opportunity_service
from crm_app.sales.models.opportunities import (
    OPEN_STAGES,
    STAGE_PROBABILITY,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStage,
    OpportunityStageChange,
)
from crm_app.sales.opportunities import DEFAULT_LOST_REASONS

#: The reasons the demo's lost sales give: the list's defaults (message ids, shown translated).
LOST_REASONS = DEFAULT_LOST_REASONS
#: The director's monthly pipeline review: its first occurrence marks a seeded pipeline.
REVIEW_TASK = "Revue mensuelle du pipeline"
#: What a sale is about, with its amount range excl. VAT.
_DEALS = (
    ("Colonne d'endoscopie 4K", 45_000, 120_000),
    ("Renouvellement du parc de monitoring", 20_000, 90_000),
    ("Contrat de maintenance endoscopie", 4_000, 18_000),
    ("Échographes des urgences", 25_000, 70_000),
    ("Équipement du nouveau bloc opératoire", 80_000, 240_000),
    ("Marché annuel de consommables de bloc", 8_000, 35_000),
    ("Formation des équipes biomédicales", 2_500, 9_000),
    ("Laveurs-désinfecteurs d'endoscopes", 30_000, 75_000),
    ("Éclairage opératoire LED", 18_000, 60_000),
    ("Tables d'opération électriques", 35_000, 110_000),
    ("Défibrillateurs des étages", 6_000, 20_000),
    ("Pousse-seringues de réanimation", 7_000, 28_000),
)
_SOURCES = tuple(OpportunitySource)
_SOURCE_WEIGHTS = (5, 3, 6, 2, 2, 4, 2, 1)
_TASKS = (
    "Relancer l'acheteur sur le devis",
    "Préparer la démonstration",
    "Envoyer la documentation technique",
    "Vérifier le dossier d'appel d'offres",
    "Planifier la visite du service",
    "Mettre à jour le chiffrage",
    "Confirmer la date de livraison",
    "Appeler l'ingénieur biomédical",
    "Préparer la réponse au cahier des charges",
    "Organiser la formation des utilisateurs",
)
_MEETINGS = (
    ("Démonstration sur site", "Salle de réunion du bloc"),
    ("Présentation de l'offre", "Direction des achats"),
    ("Visite du service biomédical", "Atelier biomédical"),
    ("Réunion de lancement", "Salle du conseil"),
    ("Point d'avancement", "Visioconférence"),
    ("Revue du contrat de maintenance", "Direction technique"),
)
_CALLS = (
    "Point sur le besoin : l'acheteur attend une offre chiffrée.",
    "Questions sur les délais de livraison et l'installation.",
    "Relance du devis : décision attendue en commission.",
    "Le cadre de bloc souhaite une démonstration.",
    "Demande de références d'établissements équipés.",
    "Appel de courtoisie après l'installation, tout fonctionne.",
    "Négociation de la remise sur les consommables.",
    "Messagerie : message laissé.",
)
_NOTES = (
    "Le service renouvelle son parc l'an prochain ; budget voté en commission de décembre.",
    "Interlocuteur clé : l'ingénieur biomédical, très attentif au coût de maintenance.",
    "Concurrent présent depuis cinq ans, contrat arrivant à échéance.",
    "Appel d'offres attendu au prochain trimestre, critères techniques pondérés à 60 %.",
    "Très satisfaits de la formation ; demandent une session pour l'équipe de nuit.",
    "La direction veut regrouper les achats d'endoscopie sur un seul fournisseur.",
    "Retour positif sur la démonstration, attente de la validation du pharmacien.",
)


@dataclass(frozen=True)
class _Window:
    """An opportunity and the days it was open (for linking activities to it)."""

    opportunity: Opportunity
    start: datetime
    end: datetime


def lost_reasons(session: Session) -> dict[str, uuid.UUID]:
    """The demo's lost reasons by label: the service's list (seeded with its defaults the first time),
    plus any default an admin removed, added back at the end."""
    found = {row.label: row.id for row in opportunity_service.list_lost_reasons(session, include_retired=True)}
    position = len(found)
    for label in LOST_REASONS:
        if label not in found:
            reason = LostReason(label=label, position=position)
            session.add(reason)
            found[label] = reason.id
            position += 1
    session.flush()
    return found


def add_opportunity(
    session: Session,
    owner: User,
    *,
    institution_id: uuid.UUID,
    name: str,
    amount: Decimal,
    steps: Sequence[tuple[datetime, OpportunityStage]],
    expected_close_date: date | None,
    source: OpportunitySource | None = None,
    contact_id: uuid.UUID | None = None,
    lost_reason_id: uuid.UUID | None = None,
    lost_reason_text: str | None = None,
    description: str | None = None,
) -> Opportunity:
    """An opportunity that went through `steps` (its moves, oldest first, the first its creation), with
    its stage history; the probability is the stage's, `closed_at` the last move when won or lost."""
    if not steps or any(later[0] < earlier[0] for earlier, later in itertools.pairwise(steps)):
        raise ValueError("steps must be given oldest first")
    created, stage = steps[0][0], steps[-1][1]
    moved = steps[-1][0]
    if stage is OpportunityStage.LOST and lost_reason_id is None and not lost_reason_text:
        raise ValueError("a lost opportunity needs a reason")
    opportunity = Opportunity(
        name=name,
        name_key=fold(name),
        institution_id=institution_id,
        contact_id=contact_id,
        owner_id=owner.id,
        team_id=owner.team_id,
        stage=stage,
        amount=amount,
        probability=STAGE_PROBABILITY[stage],
        expected_close_date=moved.date() if stage.is_closed else expected_close_date,
        source=source,
        lost_reason_id=lost_reason_id if stage is OpportunityStage.LOST else None,
        lost_reason_text=lost_reason_text if stage is OpportunityStage.LOST else None,
        description=description,
        closed_at=moved if stage.is_closed else None,
        stage_changed_at=moved,
        created_at=created,
        updated_at=moved,
        created_by=owner.id,
        updated_by=owner.id,
        version=len(steps),
    )
    session.add(opportunity)
    previous: OpportunityStage | None = None
    for moment, to_stage in steps:
        session.add(
            OpportunityStageChange(
                opportunity_id=opportunity.id,
                from_stage=previous,
                to_stage=to_stage,
                amount=amount,
                probability=STAGE_PROBABILITY[to_stage],
                changed_at=moment,
                changed_by=owner.id,
            )
        )
        previous = to_stage
    return opportunity


def stage_path(rng: random.Random, final: OpportunityStage) -> list[OpportunityStage]:
    """The stages a sale went through to reach `final`: in order, sometimes starting at
    qualification; a lost sale is lost from any open stage."""
    open_stages = list(OPEN_STAGES)
    if final in open_stages:
        path = open_stages[: open_stages.index(final) + 1]
    else:
        last_open = len(open_stages) if final is OpportunityStage.WON else rng.randint(1, len(open_stages))
        path = [*open_stages[:last_open], final]
    if len(path) > 2 and path[0] is OpportunityStage.PROSPECTING and rng.random() < 0.3:
        path = path[1:]  # came in already qualified
    return path


def spread(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """`count` moments from `start` to `end` (both included), in order, roughly evenly apart and at
    least a minute apart (`start` moves earlier when the span is shorter)."""
    if count == 1:
        return [start]
    start = min(start, end - timedelta(minutes=count - 1))
    gap = (end - start) / (count - 1)
    moments = [start]
    for index in range(1, count - 1):
        jitter = gap * (rng.random() - 0.5) * 0.6
        moments.append(start + gap * index + jitter)
    moments.append(end)
    return moments


def spread_days(rng: random.Random, count: int, low: int, high: int) -> list[int]:
    """`count` days ago between `low` and `high`, one drawn in each of `count` equal slices (so that
    every part of the period has its share)."""
    width = (high - low + 1) / count
    return [
        rng.randint(low + int(width * index), low + max(int(width * (index + 1)) - 1, int(width * index)))
        for index in range(count)
    ]


def _office_hours(rng: random.Random, day: datetime) -> datetime:
    return day.replace(hour=rng.randint(7, 15), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0)


def is_seeded(session: Session) -> bool:
    return session.exec(select(tasks.Task.id).where(tasks.Task.title == REVIEW_TASK)).first() is not None


def seed_pipeline(session: Session) -> bool:
    """Create the demo's own opportunities and twelve months of activities once (False when there)."""
    if is_seeded(session):
        return False
    now = base.clock()
    rng = random.Random(18)
    reasons = lost_reasons(session)
    turns = itertools.cycle(LOST_REASONS)  # every reason given, in turn
    staff = session.exec(select(User).where(col(User.email).like("%@opex-crm.demo")).order_by(col(User.email))).all()
    reps = [user for user in staff if user.role in (Role.USER, Role.MANAGER, Role.TEAM_ADMIN)]
    director = next((user for user in staff if user.role == Role.ADMIN), None)
    if director is not None:
        _director_reviews(session, director, now)
    for rep in reps:
        institutions = session.exec(
            select(Institution).where(Institution.assigned_user_id == rep.id).order_by(col(Institution.name))
        ).all()
        if not institutions:
            continue
        contacts = _main_contacts(session, [institution.id for institution in institutions])
        windows = _opportunities(
            session, rep, list(institutions), contacts, now=now, rng=rng, reasons=reasons, turns=turns
        )
        _Activities(session, rep, list(institutions), windows, contacts, now=now, rng=rng).add()
    return True


def _director_reviews(session: Session, director: User, now: datetime) -> None:
    """The director's monthly pipeline review: done every month of the last year, the next one to do."""
    actor = actor_from(director)
    for months_ago in range(12, -1, -1):
        if months_ago:
            due = _office_hours(random.Random(months_ago), now - timedelta(days=30 * months_ago - 3))
            done, created = min(due + timedelta(hours=1), now), due - timedelta(days=7)
        else:
            due, done, created = _office_hours(random.Random(0), now + timedelta(days=3)), now, now
        with clock_at(done):
            task = tasks.create_task(
                session,
                actor,
                {
                    "title": REVIEW_TASK,
                    "description": "Revue des opportunités par équipe, prévisions du trimestre.",
                    "due_at": due.isoformat(),
                    "priority": TaskPriority.HIGH.value,
                    "status": (TaskStatus.DONE if months_ago else TaskStatus.TODO).value,
                },
            )
        task.created_at = created


def _opportunities(
    session: Session,
    rep: User,
    institutions: list[Institution],
    contacts: dict[uuid.UUID, uuid.UUID],
    *,
    now: datetime,
    rng: random.Random,
    reasons: dict[str, uuid.UUID],
    turns: Iterator[str],
) -> list[_Window]:
    """The salesperson's own sales: open ones in every stage, won and lost ones over the year."""
    plans: list[tuple[OpportunityStage, int, int]] = []  # final stage, created days ago, last move days ago
    for stage, count in zip(OPEN_STAGES, (3, 3, 2, 2), strict=True):
        for _ in range(count):
            created = rng.randint(10, 160)
            plans.append((stage, created, rng.randint(0, min(created, 40))))
    # won and lost over the year, one of the wins this very week, a loss in the last days
    closings = [(OpportunityStage.WON, rng.randint(1, 6))]
    closings += [(OpportunityStage.WON, days) for days in spread_days(rng, 4, 7, 355)]
    closings += [(OpportunityStage.LOST, rng.randint(1, 5))]
    closings += [(OpportunityStage.LOST, days) for days in spread_days(rng, 2, 13, 355)]
    for stage, closed in closings:
        plans.append((stage, closed + rng.randint(25, 120), closed))
    windows = []
    for final, created_days, moved_days in plans:
        institution = rng.choice(institutions)
        deal, low, high = rng.choice(_DEALS)
        path = stage_path(rng, final)
        start = _office_hours(rng, now - timedelta(days=created_days))
        end = min(_office_hours(rng, now - timedelta(days=moved_days)), now)
        moments = spread(rng, start, max(end, start), len(path))
        reason = next(turns) if final is OpportunityStage.LOST else None
        amount = Decimal(rng.randint(low // 100, high // 100) * 100)
        if final.is_closed:
            close: date | None = None
        else:
            close = (now + timedelta(days=rng.choice((-12, 15, 30, 45, 60, 90, 120, 150, 180)))).date()
        opportunity = add_opportunity(
            session,
            rep,
            institution_id=institution.id,
            contact_id=contacts.get(institution.id),
            name=f"{deal} - {institution.city}" if institution.city else deal,
            amount=amount,
            steps=list(zip(moments, path, strict=True)),
            expected_close_date=close,
            source=rng.choices(_SOURCES, weights=_SOURCE_WEIGHTS)[0],
            lost_reason_id=reasons[reason] if reason else None,
            lost_reason_text="Le concurrent a proposé une extension de garantie."
            if reason == "Competitor chosen"
            else None,
        )
        windows.append(_Window(opportunity, moments[0], moments[-1] if final.is_closed else now))
    session.flush()
    return windows


def _main_contacts(session: Session, institution_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each institution's main contact (the primary one, else the first by name), in one query."""
    rows = session.exec(
        select(Contact.institution_id, Contact.id)
        .where(col(Contact.institution_id).in_(institution_ids))
        .order_by(col(Contact.institution_id), col(Contact.is_primary).desc(), col(Contact.last_name))
    ).all()
    found: dict[uuid.UUID, uuid.UUID] = {}
    for institution_id, contact_id in rows:
        found.setdefault(institution_id, contact_id)
    return found


class _Activities:
    """One salesperson's year: calls, tasks (done, overdue, to come, due today), meetings (held,
    cancelled, planned, today) and notes, most of them on an institution, many on one of its sales."""

    def __init__(
        self,
        session: Session,
        rep: User,
        institutions: list[Institution],
        windows: list[_Window],
        contacts: dict[uuid.UUID, uuid.UUID],
        *,
        now: datetime,
        rng: random.Random,
    ) -> None:
        self.session, self.rep, self.institutions, self.windows = session, rep, institutions, windows
        self.actor = actor_from(rep)
        self.now, self.rng = now, rng
        self.contacts = contacts

    def contact(self, institution_id: uuid.UUID) -> uuid.UUID | None:
        return self.contacts.get(institution_id)

    def maybe_contact(self, institution_id: uuid.UUID) -> str | None:
        """The institution's main contact, for about half of the tasks."""
        contact = self.contact(institution_id) if self.rng.random() < 0.5 else None
        return str(contact) if contact else None

    def pick(self, days_ago: float) -> tuple[uuid.UUID, uuid.UUID | None]:
        """An institution for an activity `days_ago`, and the sale it serves when one was open then."""
        moment = self.now - timedelta(days=days_ago)
        open_then = [w for w in self.windows if w.start <= moment <= w.end + timedelta(days=1)]
        if open_then and self.rng.random() < 0.7:
            opportunity = self.rng.choice(open_then).opportunity
            return opportunity.institution_id, opportunity.id
        return self.rng.choice(self.institutions).id, None

    def moment(self, days_ago: float) -> datetime:
        return _office_hours(self.rng, self.now - timedelta(days=days_ago))

    def add(self) -> None:
        for days_ago in spread_days(self.rng, 40, 1, 365):
            self.call(days_ago)
        for days_ago in (1, 3, *spread_days(self.rng, 24, 5, 365)):  # two of them in the last days
            self.task_done(days_ago)
        for days_ago in (2, 6, 11, 19):  # overdue, still to do
            self.task_open(days_ago + self.rng.randint(2, 10), due_days=-days_ago)
        for ahead in (0, 0, 1, 3, 6, 10, 16, 24):  # today's and the coming weeks'
            self.task_open(self.rng.randint(1, 6), due_days=ahead)
        for days_ago in spread_days(self.rng, 15, 2, 365):
            self.meeting(days_ago, status=MeetingStatus.DONE)
        self.meeting(self.rng.randint(20, 200), status=MeetingStatus.CANCELLED)
        for ahead in (0, 2, 8, 15):
            self.meeting(-ahead, status=MeetingStatus.SCHEDULED)
        for days_ago in spread_days(self.rng, 14, 1, 365):
            self.note(days_ago)

    def call(self, days_ago: float) -> None:
        institution_id, opportunity_id = self.pick(days_ago)
        direction = self.rng.choices((CallDirection.OUT, CallDirection.IN, CallDirection.MISSED), (6, 3, 1))[0]
        called_at = self.moment(days_ago)
        with clock_at(called_at + timedelta(minutes=30)):
            call = calls.log_call(
                self.session,
                self.actor,
                {
                    "direction": direction.value,
                    "called_at": called_at.isoformat(),
                    "duration_seconds": None if direction is CallDirection.MISSED else self.rng.randint(60, 1500),
                    "summary": None if direction is CallDirection.MISSED else self.rng.choice(_CALLS),
                    "institution_id": str(institution_id),
                    "contact_id": str(contact) if (contact := self.contact(institution_id)) else None,
                },
            )
        call.opportunity_id = opportunity_id

    def task_done(self, days_ago: float) -> None:
        """A task created some days before its due date and done around it."""
        institution_id, opportunity_id = self.pick(days_ago)
        due = self.moment(days_ago)
        late = self.rng.choice((-2, -1, 0, 0, 1, 3)) if days_ago > 5 else 0
        done = min(due + timedelta(days=late), self.now - timedelta(hours=1))
        with clock_at(done):
            task = tasks.create_task(
                self.session,
                self.actor,
                {
                    "title": self.rng.choice(_TASKS),
                    "due_at": due.isoformat(),
                    "priority": self.rng.choice(list(TaskPriority)).value,
                    "status": TaskStatus.DONE.value,
                    "institution_id": str(institution_id),
                    "contact_id": self.maybe_contact(institution_id),
                },
            )
        task.created_at = min(done, due - timedelta(days=self.rng.randint(2, 14)))
        task.opportunity_id = opportunity_id

    def task_open(self, created_days_ago: float, *, due_days: float) -> None:
        """A task to do, due `due_days` from today (negative: overdue)."""
        institution_id, opportunity_id = self.pick(max(created_days_ago, 0))
        due = _office_hours(self.rng, self.now + timedelta(days=due_days)).replace(hour=16, minute=0)
        created = self.now - timedelta(days=max(created_days_ago, 0) + 3)
        with clock_at(created):
            task = tasks.create_task(
                self.session,
                self.actor,
                {
                    "title": self.rng.choice(_TASKS),
                    "due_at": due.isoformat(),
                    "priority": self.rng.choice((TaskPriority.NORMAL, TaskPriority.HIGH, TaskPriority.URGENT)).value,
                    "status": self.rng.choice((TaskStatus.TODO, TaskStatus.TODO, TaskStatus.IN_PROGRESS)).value,
                    "institution_id": str(institution_id),
                    "contact_id": self.maybe_contact(institution_id),
                },
            )
        task.opportunity_id = opportunity_id

    def meeting(self, days_ago: float, *, status: MeetingStatus) -> None:
        institution_id, opportunity_id = self.pick(max(days_ago, 0))
        title, location = self.rng.choice(_MEETINGS)
        starts = self.moment(days_ago).replace(minute=0) if days_ago > 0 else self._upcoming(-days_ago)
        contact = self.contact(institution_id)
        planned = min(starts - timedelta(days=self.rng.randint(3, 15)), self.now)
        with clock_at(planned if status is MeetingStatus.SCHEDULED else min(starts + timedelta(hours=3), self.now)):
            meeting = meetings.create_meeting(
                self.session,
                self.actor,
                {
                    "title": title,
                    "location": location,
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(minutes=self.rng.choice((30, 60, 90)))).isoformat(),
                    "status": status.value,
                    "institution_id": str(institution_id),
                    # no one invited to the coming ones: an invitation sends e-mail to real addresses
                    "participant_contact_ids": [str(contact)]
                    if contact and status is not MeetingStatus.SCHEDULED
                    else [],
                },
            )
        meeting.created_at = planned
        meeting.opportunity_id = opportunity_id

    def _upcoming(self, days_ahead: float) -> datetime:
        day = self.now + timedelta(days=days_ahead)
        return day.replace(hour=self.rng.choice((8, 9, 13, 14)), minute=0, second=0, microsecond=0)

    def note(self, days_ago: float) -> None:
        institution_id, opportunity_id = self.pick(days_ago)
        with clock_at(self.moment(days_ago)):
            note = notes.create_note(
                self.session,
                self.actor,
                {
                    "body": self.rng.choice(_NOTES),
                    "visibility": self.rng.choice(
                        (NoteVisibility.SHARED, NoteVisibility.SHARED, NoteVisibility.PRIVATE)
                    ).value,
                    "institution_id": str(institution_id),
                },
            )
        note.opportunity_id = opportunity_id
