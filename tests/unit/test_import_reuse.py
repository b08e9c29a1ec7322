"""The import's speed-ups keep its rules: the preview's analysis reused by `run_import` only while it
is still true, duplicates re-checked against what changed since, batches written all or nothing, and
the faster duplicate index and text keys equal to the plain ones."""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import fuzz, process
from sqlalchemy import func
from sqlmodel import Session, select

from crm_app.institutions import duplicates as matching
from crm_app.institutions import imports
from crm_app.institutions import service as institutions
from crm_app.institutions.duplicates import Candidate, DuplicateIndex, MatchRule
from crm_app.institutions.imports import RowStatus
from crm_app.institutions.models import Contact, Institution
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import AuditEntry, SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.platform.text import fold
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_institution

SAMPLE = Path("/work/shared/data/institutions_fr_sample.csv")
LINE_2: dict[str, Any] = {
    "name": "Clinique du Parc Orléans",
    "finess": "077527536",
    "postal_code": "45067",
    "city": "Orléans",
}


@pytest.fixture(scope="module")
def sample() -> bytes:
    return SAMPLE.read_bytes()


@pytest.fixture(autouse=True)
def forget_analyses() -> Iterator[None]:
    imports.clear_analysis_cache()
    yield
    imports.clear_analysis_cache()


@pytest.fixture
def manager(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.MANAGER, team=make_team(db)))


def _count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def _line_2(report: imports.ImportReport, session: Session) -> Institution | None:
    return session.exec(
        select(Institution).where(Institution.finess == LINE_2["finess"], Institution.id.in_(report.created_ids))  # type: ignore[attr-defined]
    ).first()


# --------------------------------------------------------------------------------------------
# Reusing the preview's analysis


def test_the_import_reuses_the_analysis_of_its_preview_and_does_the_same(
    db: Session, manager: Actor, sample: bytes
) -> None:
    preview = imports.preview_import(db, manager, sample)
    report = imports.run_import(db, manager, sample)
    assert report.analysis_reused
    assert report.created == preview.count(RowStatus.VALID)
    assert report.skipped == preview.count(RowStatus.DUPLICATE)
    assert {row.line for row in report.rejected_rows} == {
        row.line for row in preview.rows if row.status is RowStatus.ERROR
    }


def test_a_file_imported_cold_gives_the_same_report_as_after_a_preview(
    db: Session, manager: Actor, sample: bytes
) -> None:
    savepoint = db.begin_nested()
    imports.preview_import(db, manager, sample)
    reused = imports.run_import(db, manager, sample, file_name="a.csv")
    savepoint.rollback()  # back to before the import
    imports.clear_analysis_cache()
    cold = imports.run_import(db, manager, sample, file_name="a.csv")
    assert reused.analysis_reused and not cold.analysis_reused
    assert (cold.created, cold.merged, cold.skipped, cold.rejected) == (
        reused.created,
        reused.merged,
        reused.skipped,
        reused.rejected,
    )


def test_a_duplicate_created_after_the_preview_is_found_and_the_analysis_made_again(
    db: Session, manager: Actor, sample: bytes
) -> None:
    preview = imports.preview_import(db, manager, sample)
    [row] = [row for row in preview.rows if row.line == 2]
    assert row.status is RowStatus.VALID
    existing = make_institution(db, manager, **LINE_2)  # someone creates it meanwhile
    report = imports.run_import(db, manager, sample)
    assert not report.analysis_reused
    assert report.created == preview.count(RowStatus.VALID) - 1  # line 2 is now a duplicate: skipped
    assert report.skipped == preview.count(RowStatus.DUPLICATE) + 1
    assert _line_2(report, db) is None
    assert db.exec(select(func.count()).where(Institution.finess == LINE_2["finess"])).one() == 1
    assert db.get(Institution, existing.id) is not None


def test_a_change_to_an_unrelated_institution_keeps_the_analysis(db: Session, manager: Actor, sample: bytes) -> None:
    imports.preview_import(db, manager, sample)
    make_institution(db, manager, name="Pharmacie du Grand Large", postal_code="29200", city="Brest")
    report = imports.run_import(db, manager, sample)
    assert report.analysis_reused
    assert report.created == 202


def test_a_change_to_a_matched_institution_makes_the_analysis_again(db: Session, manager: Actor, sample: bytes) -> None:
    existing = make_institution(db, manager, **LINE_2)
    preview = imports.preview_import(db, manager, sample)
    [row] = [row for row in preview.rows if row.line == 2]
    assert row.match is not None and row.match.institution_id == existing.id
    institutions.update_institution(
        db,
        manager,
        existing.id,
        {"finess": "", "name": "Maison de santé Arago", "city": "Lille", "postal_code": "59000"},
        expected_version=existing.version,
    )
    report = imports.run_import(db, manager, sample)
    assert not report.analysis_reused
    created = _line_2(report, db)  # no longer a duplicate: created
    assert created is not None and created.id != existing.id


def test_a_duplicate_committed_by_a_transaction_the_preview_did_not_see_is_found(clean_db: None, sample: bytes) -> None:
    """A transaction that wrote before the preview read the database but committed after it: its row's
    timestamps are older than the analysis, the snapshot still tells it apart."""
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.MANAGER))
    with unit_of_work() as writer:
        make_institution(writer, actor, **LINE_2)
        writer.flush()
        with unit_of_work() as session:
            preview = imports.preview_import(session, actor, sample)
        [row] = [row for row in preview.rows if row.line == 2]
        assert row.status is RowStatus.VALID  # not committed yet: the preview cannot see it
    with unit_of_work() as session:
        report = imports.run_import(session, actor, sample)
        assert not report.analysis_reused
        assert report.created == preview.count(RowStatus.VALID) - 1
    with unit_of_work() as session:
        assert session.exec(select(func.count()).where(Institution.finess == LINE_2["finess"])).one() == 1


def test_reimporting_after_a_preview_made_before_the_first_import_creates_nothing(
    clean_db: None, sample: bytes
) -> None:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.MANAGER))
    with unit_of_work() as session:
        imports.preview_import(session, actor, sample)  # kept: made before anything was imported
    with unit_of_work() as session:
        first = imports.run_import(session, actor, sample)
    with unit_of_work() as session:
        counts = _count(session, Institution), _count(session, Contact), _count(session, AuditEntry)
    with unit_of_work() as session:
        second = imports.run_import(session, actor, sample)
    assert first.created == 202 and not second.analysis_reused
    assert (second.created, second.merged) == (0, 0)
    with unit_of_work() as session:
        assert (_count(session, Institution), _count(session, Contact), _count(session, AuditEntry)) == counts


def test_another_mapping_or_another_user_does_not_reuse_the_analysis(
    db: Session, manager: Actor, sample: bytes
) -> None:
    preview = imports.preview_import(db, manager, sample)
    mapping = [None if target == "phone" else target for target in preview.mapping]
    savepoint = db.begin_nested()
    assert not imports.run_import(db, manager, sample, mapping).analysis_reused
    savepoint.rollback()
    other = actor_of(make_user(db, role=Role.MANAGER, team=make_team(db)))
    imports.preview_import(db, manager, sample)
    assert not imports.run_import(db, other, sample).analysis_reused


def test_an_analysis_kept_too_long_is_not_reused(
    db: Session, manager: Actor, sample: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports.preview_import(db, manager, sample)
    monkeypatch.setattr(imports, "KEPT_SECONDS", -1)
    assert not imports.run_import(db, manager, sample).analysis_reused


def test_a_kept_analysis_is_not_changed_by_the_import_that_reuses_it(
    db: Session, manager: Actor, sample: bytes
) -> None:
    imports.preview_import(db, manager, sample)
    [kept] = imports._ANALYSES.values()
    used = dict(kept.used)
    imports.run_import(db, manager, sample)
    assert kept.used == used


# --------------------------------------------------------------------------------------------
# The batched writes


def test_a_batch_failing_to_write_leaves_the_database_as_it_was(
    clean_db: None, monkeypatch: pytest.MonkeyPatch, sample: bytes
) -> None:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.MANAGER))
    monkeypatch.setattr(imports, "BATCH", 20)
    insert_rows = imports._insert_rows
    batches: list[int] = []

    def failing(connection: Any, table: Any, rows: Any, **kwargs: Any) -> None:
        if table.name == "contacts":
            batches.append(len(rows))
            if len(batches) == 3:
                raise RuntimeError("disk full")
        insert_rows(connection, table, rows, **kwargs)

    monkeypatch.setattr(imports, "_insert_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"), unit_of_work() as session:
        imports.run_import(session, actor, sample)
    with unit_of_work() as session:
        assert _count(session, Institution) == _count(session, Contact) == _count(session, AuditEntry) == 0
        logged = select(SecurityEvent).where(SecurityEvent.action == SecurityAction.IMPORT.value)
        assert session.exec(logged).all() == []


def test_merges_and_creations_between_batches_see_the_rows_written_before(
    db: Session, manager: Actor, monkeypatch: pytest.MonkeyPatch, sample: bytes
) -> None:
    monkeypatch.setattr(imports, "BATCH", 7)
    report = imports.run_import(db, manager, sample, default_action=imports.Action.MERGE)
    assert (report.created, report.merged) == (202, 1)
    lille = db.exec(select(Institution).where(Institution.finess == "565518172")).one()
    assert (lille.siret, lille.accounting_number) == ("38083681334043", "41100120")


# --------------------------------------------------------------------------------------------
# The duplicate index and the text keys


def _plain_fold(text: str | None) -> str:
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().replace("œ", "oe").replace("æ", "ae").split())


def _plain_match_key(name: str | None) -> str:
    text = whole = " ".join(re.sub(r"[^0-9a-z]+", " ", _plain_fold(name)).split())
    for noise in matching._NOISE:
        text = re.sub(rf"(^| ){noise}( |$)", " ", text)
    return " ".join(text.split()) or whole  # a name of noise words only keeps them


def test_fold_and_match_key_equal_their_plain_definitions() -> None:
    rng = random.Random(7)
    texts = [
        "Hôpital Saint-Éloi",
        "CHU  de\u00a0Nantes",
        "Œuvre ÆLFRIC",
        "Ｃｈｕ ﬁn",
        "Straße",
        "ǅ",
        "İzmir",
        "clinique ch x",
        "ch ch x",
        "Centre Hospitalier Universitaire",
        "",
        "   ",
        "x\u0301\u0327y",
    ]
    texts += ["".join(chr(rng.randrange(0x20, 0x2500)) for _ in range(rng.randrange(1, 30))) for _ in range(3000)]
    for text in texts:
        assert fold(text) == _plain_fold(text), text
        assert matching.match_key(text) == _plain_match_key(text), text


def _brute_force_fuzzy(known: list[Candidate], candidate: Candidate) -> uuid.UUID | int | None:
    """The fuzzy rule as one `process.extract` over every key of the city (the plain definition)."""
    same_city = [c for c in known if c.city and c.key and c.city_key == candidate.city_key]
    keys = [" ".join(sorted(c.key.split())) for c in same_city]
    for _key, _score, position in process.extract(
        " ".join(sorted(candidate.key.split())),
        keys,
        scorer=fuzz.ratio,
        score_cutoff=matching.FUZZY_THRESHOLD,
        limit=None,
    ):
        found = same_city[position]
        if found.ref != candidate.ref and not matching._conflicting_identifiers(candidate, found):
            return found.ref
    return None


def test_the_fuzzy_rule_by_key_length_finds_what_scoring_every_key_finds() -> None:
    rng = random.Random(3)
    words = [
        "saint",
        "joseph",
        "pharmacie",
        "du",
        "centre",
        "clinique",
        "marie",
        "les",
        "pins",
        "lac",
        "de",
        "la",
        "gare",
        "bon",
        "secours",
        "ambroise",
        "pare",
        "ste",
        "anne",
        "x",
    ]

    def name() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randrange(1, 6)))

    known = [
        Candidate(
            ref=uuid.UUID(int=i + 1),
            name=name(),
            city=rng.choice(["Lyon", "Brest"]),
            finess=rng.choice([None, f"{i:09d}"]),
        )
        for i in range(600)
    ]
    index = DuplicateIndex(known)
    for line in range(400):
        candidate = Candidate(
            ref=line, name=name(), city=rng.choice(["Lyon", "Brest"]), finess=rng.choice([None, f"{line + 300:09d}"])
        )
        found = index.match(candidate)
        expected = _brute_force_fuzzy(known, candidate)
        if found is None or found.rule is MatchRule.FUZZY_NAME_CITY:
            assert (found.ref if found else None) == expected, candidate.name
