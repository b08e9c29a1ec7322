"""CSV import of institutions with their contact (DOMAIN.md "CSV import" and "Duplicates").

Steps, each a function that the wizard page and the REST API share:

1. `analyse_file`: read the bytes (encoding and separator detected) and propose a column mapping
   from the French or English headers;
2. `preview_import`: every row cleaned with the institution and contact rules, its errors, and its
   duplicate match against the database and against the earlier rows of the same file;
3. `run_import`: the chosen actions applied in the caller's unit of work (all or nothing), with a
   progress callback, written to the security log;
4. `rejected_rows_csv`: the rows that were not imported, with their reasons, safe to open in a
   spreadsheet.

The file is read again at each step from its bytes, so that the steps need no server-side state
and the import always works on what is in the database at that moment. The one exception, for speed:
`run_import` reuses the analysis `preview_import` made of the same file, mapping and user in this
process, after checking that the database did not change since in a way that alters it (see
`_still_valid`); otherwise it analyses the file again.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.institutions.duplicates import Candidate, DuplicateIndex, MatchRule, match_key
from crm_app.institutions.fields import FIELDS
from crm_app.institutions.models import (
    Contact,
    DataSource,
    Institution,
    InstitutionLabel,
    InstitutionType,
    LabelKind,
    MedicalProfile,
)
from crm_app.platform import audit, cache, security_log
from crm_app.platform import cleaners as fields
from crm_app.platform.db import fetch_all, is_postgresql
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, every_translation, gettext, use_locale
from crm_app.platform.models.audit import AuditEntry, SecurityAction
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.permissions import Actor, authorize, can
from crm_app.platform.security_log import ClientInfo
from crm_app.platform.tabular import neutralise
from crm_app.platform.text import fold

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
PROGRESS_EVERY = 50  # rows between two calls of the progress callback
BATCH = 1000  # new institutions written per flush
_CHUNK = 1000  # ids per IN (...) when loading the institutions that rows merge into


class Action(StrEnum):
    """What to do with a row that duplicates an institution."""

    SKIP = "skip"
    MERGE = "merge"
    CREATE = "create"


class RowStatus(StrEnum):
    VALID = "valid"
    ERROR = "error"
    DUPLICATE = "duplicate"


ACTION_LABELS: dict[Action, str] = {
    Action.SKIP: N_("Skip"),
    Action.MERGE: N_("Merge (fill empty fields)"),
    Action.CREATE: N_("Create anyway"),
}
STATUS_LABELS: dict[RowStatus, str] = {
    RowStatus.VALID: N_("Valid"),
    RowStatus.ERROR: N_("Error"),
    RowStatus.DUPLICATE: N_("Duplicate"),
}
#: The unique identifiers: a row matched by one of them cannot be created a second time.
IDENTIFIER_RULES = frozenset({MatchRule.ACCOUNTING_NUMBER, MatchRule.FINESS, MatchRule.SIRET})
IDENTIFIER_FIELDS = ("accounting_number", "finess", "siret")
#: The institution fields a file may hold (those that declare import headers).
IMPORTED = tuple(spec for spec in FIELDS if spec.import_aliases is not None)

#: Fields a file column can feed, with their label (mapping choices, reasons of rejected rows): the
#: institution fields that declare import headers, then the contact's.
TARGETS: dict[str, str] = {
    **{spec.name: spec.import_label or spec.label for spec in IMPORTED},
    "contact_first_name": N_("Contact first name"),
    "contact_last_name": N_("Contact last name"),
    "contact_title": N_("Contact title"),
    "contact_email": N_("Contact email"),
    "contact_phone": N_("Contact phone"),
}
CONTACT_TARGETS = {
    "contact_first_name": "first_name",
    "contact_last_name": "last_name",
    "contact_title": "title",
    "contact_email": "email",
    "contact_phone": "phone",
}
ROW_ERROR = "row"  # the key of an error about the whole row

#: Headers seen in French and English files, compared without accents, case or punctuation.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    **{spec.name: spec.import_aliases or () for spec in IMPORTED},
    "contact_first_name": ("prénom contact", "prénom du contact", "contact prénom", "contact first name", "first name"),
    "contact_last_name": (
        "nom contact",
        "nom du contact",
        "contact nom",
        "contact last name",
        "last name",
        "contact name",
    ),
    "contact_title": (
        "fonction contact",
        "fonction du contact",
        "fonction",
        "poste",
        "contact title",
        "contact function",
        "title",
        "job title",
    ),
    "contact_email": (
        "email contact",
        "e-mail contact",
        "mail contact",
        "courriel contact",
        "email du contact",
        "contact email",
        "contact e-mail",
        "email",
        "e-mail",
    ),
    "contact_phone": ("téléphone contact", "tél contact", "téléphone du contact", "contact phone", "contact telephone"),
}
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _header_key(header: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", fold(header)).split())


@functools.cache
def _header_index() -> dict[str, str]:
    """Header -> field: the aliases above, then each field's name in every language (as the wizard and
    the export name them: a file the application exported is read back)."""
    index = {_header_key(alias): target for target, aliases in HEADER_ALIASES.items() for alias in (target, *aliases)}
    for target, label in TARGETS.items():
        for text in every_translation(label):
            index.setdefault(_header_key(text), target)
    return index


# --------------------------------------------------------------------------------------------
# Reading the file


@dataclass(frozen=True)
class CsvFile:
    columns: list[str]
    rows: list[tuple[int, list[str]]]  # (line in the file, header = 1; cells)
    encoding: str
    delimiter: str


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed({"file": message}, message)


def _decode(content: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1"), "latin-1"  # every byte is a character: never fails


def _delimiter(text: str) -> str:
    """`;` or `,`, whichever the header line holds more of outside quotes (`,` on a tie)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {";": 0, ",": 0}
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def read_csv(content: bytes) -> CsvFile:
    """Decode and split a CSV file; refuse what is too big, empty or not CSV (ValidationFailed)."""
    if len(content) > MAX_BYTES:
        raise _refuse(N_("The file is larger than 20 MB."))
    if b"\x00" in content:  # a spreadsheet or UTF-16 file saved with a .csv name, not text
        raise _refuse(N_("This file could not be read as CSV."))
    text, encoding = _decode(content)
    if not text.strip():
        raise _refuse(N_("The file is empty."))
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for line, cells in enumerate(reader, start=1):
            if columns is None:
                columns = [" ".join(c.replace("\ufeff", "").split()) for c in cells]
                continue
            if not any(c.strip() for c in cells):
                continue  # blank lines that spreadsheets leave at the end
            if len(rows) >= MAX_ROWS:
                raise _refuse(N_("The file has more than 50,000 rows."))
            rows.append((line, cells))
    except csv.Error:
        raise _refuse(N_("This file could not be read as CSV.")) from None
    if not columns or not any(columns):
        raise _refuse(N_("The file is empty."))
    if not rows:
        raise _refuse(N_("The file has no data rows."))
    return CsvFile(columns=columns, rows=rows, encoding=encoding, delimiter=delimiter)


# --------------------------------------------------------------------------------------------
# Mapping


def propose_mapping(columns: Sequence[str]) -> list[str | None]:
    """The target field of each column, recognised from its header (each field used once)."""
    taken: set[str] = set()
    mapping: list[str | None] = []
    for column in columns:
        target = _header_index().get(_header_key(column))
        if target in taken:
            target = None
        if target is not None:
            taken.add(target)
        mapping.append(target)
    return mapping


def check_mapping(columns: Sequence[str], mapping: Sequence[str | None]) -> list[str | None]:
    """The mapping as given, or ValidationFailed: unknown field, a field chosen twice, no name."""
    result = [target or None for target in mapping]
    if len(result) != len(columns):
        raise ValidationFailed({"mapping": N_("The mapping does not match the columns of the file.")})
    chosen = [target for target in result if target is not None]
    if any(target not in TARGETS for target in chosen):
        raise ValidationFailed({"mapping": N_("Unknown field.")})
    if len(set(chosen)) != len(chosen):
        raise ValidationFailed({"mapping": N_("Each field can be chosen for one column only.")})
    if "name" not in chosen:
        raise ValidationFailed({"mapping": N_("Choose the column that holds the institution's name.")})
    return result


def mapping_from_headers(columns: Sequence[str], by_header: Mapping[str, str | None]) -> list[str | None]:
    """A mapping given as {header: field} (the REST API), on top of the proposed one."""
    mapping = propose_mapping(columns)
    for index, column in enumerate(columns):
        if column in by_header:
            mapping[index] = by_header[column] or None
    return mapping


@dataclass(frozen=True)
class FileAnalysis:
    """What the mapping step shows: the columns, their proposed fields and a few sample values."""

    columns: list[str]
    mapping: list[str | None]
    samples: list[list[str]]  # per column, the first non-blank values
    row_count: int
    encoding: str
    delimiter: str


def analyse_file(session: Session, actor: Actor, content: bytes) -> FileAnalysis:
    """Read the file and propose the mapping (nothing is written)."""
    authorize(actor, "institution.import")
    parsed = read_csv(content)
    samples: list[list[str]] = [[] for _ in parsed.columns]
    for _line, cells in parsed.rows[:50]:
        for index, cell in enumerate(cells[: len(parsed.columns)]):
            if cell.strip() and len(samples[index]) < 3:
                samples[index].append(cell.strip()[:60])
    return FileAnalysis(
        columns=parsed.columns,
        mapping=propose_mapping(parsed.columns),
        samples=samples,
        row_count=len(parsed.rows),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
    )


# --------------------------------------------------------------------------------------------
# Preview


@dataclass(frozen=True)
class MatchInfo:
    """The institution a row duplicates: in the database (`institution_id`) or an earlier row (`line`)."""

    name: str
    rule: MatchRule
    institution_id: uuid.UUID | None = None
    line: int | None = None
    can_merge: bool = True  # the actor may edit that institution
    can_create: bool = True  # no unique identifier in common

    @property
    def ref(self) -> uuid.UUID | int:
        return self.institution_id if self.institution_id is not None else int(self.line or 0)

    def allows(self, action: Action) -> bool:
        return (
            action is Action.SKIP
            or (action is Action.MERGE and self.can_merge)
            or (action is Action.CREATE and self.can_create)
        )


@dataclass(frozen=True)
class PreviewRow:
    line: int
    cells: list[str]  # as in the file
    status: RowStatus
    name: str
    values: dict[str, Any] = field(default_factory=dict)  # cleaned institution fields (mapped ones)
    contact: dict[str, Any] | None = None  # cleaned contact fields, None when the row has no contact
    errors: dict[str, str] = field(default_factory=dict)  # target field → message id
    match: MatchInfo | None = None
    raw: dict[str, str] = field(default_factory=dict)  # mapped institution cells, as written
    raw_contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportPreview:
    columns: list[str]
    mapping: list[str | None]
    rows: list[PreviewRow]
    encoding: str
    delimiter: str

    def count(self, status: RowStatus) -> int:
        return sum(1 for row in self.rows if row.status is status)

    def errors_of(self, row: PreviewRow) -> list[CellError]:
        """The row's errors with the column and the value each is about."""
        return cell_errors(row.errors, row.cells, self.columns, self.mapping)


@dataclass
class _Owner:
    """What the right to edit an institution looks at."""

    assigned_user_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_by: uuid.UUID | None


@dataclass
class _Analysis:
    preview: ImportPreview
    used: dict[tuple[str, str], uuid.UUID]  # (identifier field, value) → the institution that holds it
    # What the reuse of this analysis by `run_import` checks (see `_still_valid`): the database snapshot
    # and the clock when the institutions were read, and the institutions the analysis depends on (those
    # the rows match and those holding the file's identifiers).
    snapshot: str | None = None
    read_at: datetime | None = None
    depends_on: frozenset[uuid.UUID] = frozenset()
    kept_at: float = 0.0  # time.monotonic() when kept for reuse


def _split_row(cells: Sequence[str], mapping: Sequence[str | None]) -> tuple[dict[str, str], dict[str, str]]:
    own: dict[str, str] = {}
    contact: dict[str, str] = {}
    for index, target in enumerate(mapping):
        if target is None:
            continue
        value = cells[index] if index < len(cells) else ""
        if target in CONTACT_TARGETS:
            contact[CONTACT_TARGETS[target]] = value
        else:
            own[target] = value
    return own, contact


def _clean_row(
    cells: list[str], column_count: int, mapping: Sequence[str | None]
) -> tuple[dict[str, str], dict[str, str], dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    raw, raw_contact = _split_row(cells, mapping)
    errors: dict[str, str] = {}
    if any(cell.strip() for cell in cells[column_count:]):
        errors[ROW_ERROR] = N_("This row has more cells than the header.")
    values: dict[str, Any] = {}
    try:
        cleaned = institutions.clean(raw, partial=False)
        values = {name: cleaned.get(name) for name in raw}
    except ValidationFailed as exc:
        errors.update(exc.field_errors)
    contact: dict[str, Any] | None = None
    if any(not fields.is_blank(value) for value in raw_contact.values()):
        try:
            cleaned_contact = contacts.clean(raw_contact, partial=False, country=values.get("country") or "FR")
            contact = {name: cleaned_contact.get(name) for name in raw_contact}
        except ValidationFailed as exc:
            errors.update({f"contact_{name}": message for name, message in exc.field_errors.items()})
    return raw, raw_contact, values, contact, errors


def _candidate(ref: uuid.UUID | int, values: Mapping[str, Any]) -> Candidate:
    """A row as the duplicate rules see it, its keys computed once (the index reads them several times)."""
    name = values.get("name") or ""
    city = values.get("city")
    return Candidate(
        ref=ref,
        name=name,
        postal_code=values.get("postal_code"),
        city=city,
        finess=values.get("finess"),
        siret=values.get("siret"),
        accounting_number=values.get("accounting_number"),
        stored_key=match_key(name),
        stored_city_key=fold(city),
    )


def _relevant(rows: Sequence[Candidate]) -> Any:
    """The institutions that may duplicate one of `rows`: the same identifier, postal code or city, or
    for a row with neither of these the same name key (the rules compare nothing else), as one condition
    with an array per column."""
    table = table_of(Institution).c
    wanted: dict[str, set[str]] = {
        "accounting_number": set(),
        "finess": set(),
        "siret": set(),
        "postal_code": set(),
        "city_key": set(),
        "match_key": set(),
    }
    for row in rows:
        for name in ("accounting_number", "finess", "siret", "postal_code"):
            if value := getattr(row, name):
                wanted[name].add(value)
        if row.city:
            wanted["city_key"].update({row.city_key, row.city_key[:120]})  # the column keeps 120 characters
        if row.placeless and row.key:
            wanted["match_key"].update({row.key, row.key[:200]})  # the column keeps 200 characters
    return sa.or_(
        sa.false(),
        *(
            table[name] == sa.any_(sa.bindparam(f"wanted_{name}", sorted(values), type_=postgresql.ARRAY(sa.String)))
            for name, values in wanted.items()
            if values
        ),
    )


def _known(
    session: Session, rows: Sequence[Candidate] | None = None
) -> tuple[list[Candidate], dict[uuid.UUID, _Owner], dict[tuple[str, str], uuid.UUID]]:
    """The institutions as the duplicate rules see them, who may edit them, and which of them holds each
    identifier of `rows` (one query): on PostgreSQL only those that may duplicate one of `rows`, else all."""
    table = table_of(Institution).c
    query = institutions.candidates_query().add_columns(table.assigned_user_id, table.team_id, table.created_by)
    if rows is not None and is_postgresql(session):
        query = query.where(_relevant(rows))
    candidates: list[Candidate] = []
    owners: dict[uuid.UUID, _Owner] = {}
    for row in _fetch_plain(session, query):
        candidates.append(
            Candidate(
                ref=row[0],
                name=row[1],
                postal_code=row[2],
                city=row[3],
                finess=row[4],
                siret=row[5],
                accounting_number=row[6],
                stored_key=row[7],
                stored_city_key=row[8],
            )
        )
        owners[row[0]] = _Owner(assigned_user_id=row[9], team_id=row[10], created_by=row[11])
    wanted = (
        None
        if rows is None
        else {(name, value) for row in rows for name in IDENTIFIER_FIELDS if (value := getattr(row, name))}
    )
    used = {
        (name, value): owner_id
        for owner_id, candidate in zip(owners, candidates, strict=True)
        for name in IDENTIFIER_FIELDS
        if (value := getattr(candidate, name)) and (wanted is None or (name, value) in wanted)
    }
    return candidates, owners, used


def _fetch_plain(session: Session, query: Any) -> Sequence[Any]:
    """The rows of a Core query whose columns need no conversion (text, numbers, uuids): on PostgreSQL
    straight from the driver's cursor, several times faster for a whole table than a SQLAlchemy result."""
    if not is_postgresql(session):
        return fetch_all(session, query)
    session.flush()
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor:
        rows: Sequence[Any] = cursor.execute(str(compiled), compiled.params).fetchall()
    return rows


def _snapshot(session: Session) -> str | None:
    """The snapshot of the transactions committed so far (PostgreSQL), taken before reading."""
    if not is_postgresql(session):
        return None
    session.flush()
    return str(session.connection().execute(sa.text("SELECT pg_current_snapshot()::text")).scalar_one())


class _Analyser:
    """The analysis of a file, row after row: `rows()` yields each row once its duplicate match is known
    (it depends on the database and the earlier rows only), so that an import can write the first rows
    while the next ones are being matched; `result()` once they have all been yielded."""

    def __init__(self, session: Session, actor: Actor, parsed: CsvFile, mapping: Sequence[str | None]) -> None:
        self.actor = actor
        self.parsed = parsed
        self.mapping = check_mapping(parsed.columns, mapping)
        # Before reading: a transaction committing later counts as a change (see `_still_valid`).
        self.snapshot, self.read_at = _snapshot(session), utcnow()
        column_count = len(parsed.columns)
        self.cleaned = []
        for line, cells in parsed.rows:
            raw, raw_contact, values, contact, errors = _clean_row(cells, column_count, self.mapping)
            self.cleaned.append(
                (line, cells, raw, raw_contact, values, contact, errors, None if errors else _candidate(line, values))
            )
        known, self.owners, self.used = _known(session, [row[-1] for row in self.cleaned if row[-1] is not None])
        self.index = DuplicateIndex(known)
        self.names: dict[uuid.UUID | int, str] = {c.ref: c.name for c in known}
        self.depends_on: set[uuid.UUID] = set(self.used.values())
        self.done: list[PreviewRow] = []

    def rows(self) -> Iterator[PreviewRow]:
        for line, cells, raw, raw_contact, values, contact, errors, candidate in self.cleaned:
            row = self._row(line, cells, raw, raw_contact, values, contact, errors, candidate)
            self.done.append(row)
            yield row
        self.cleaned = []

    def _row(  # noqa: PLR0917 - one value per column of the row being built
        self,
        line: int,
        cells: list[str],
        raw: dict[str, str],
        raw_contact: dict[str, str],
        values: dict[str, Any],
        contact: dict[str, Any] | None,
        errors: dict[str, str],
        candidate: Candidate | None,
    ) -> PreviewRow:
        display = values.get("name") or " ".join(raw.get("name", "").split())
        if candidate is None:
            return PreviewRow(
                line=line,
                cells=cells,
                status=RowStatus.ERROR,
                name=display,
                errors=errors,
                raw=raw,
                raw_contact=raw_contact,
            )
        found = self.index.match(candidate)
        match: MatchInfo | None = None
        if found is None:
            self.index.add(candidate)
            self.names[line] = candidate.name
        else:
            target = found.ref
            name, can_create = self.names.get(target, found.name), found.rule not in IDENTIFIER_RULES
            if isinstance(target, int):  # an earlier row of the file, created by this import
                match = MatchInfo(name=name, rule=found.rule, line=target, can_create=can_create)
            else:
                self.depends_on.add(target)
                owner = self.owners.get(target)
                match = MatchInfo(
                    name=name,
                    rule=found.rule,
                    institution_id=target,
                    can_create=can_create,
                    can_merge=owner is not None
                    and can(self.actor, "institution.edit", owner)
                    and can(self.actor, "contact.edit", owner),
                )
            # Later rows that share this row's identifiers or name point at the same institution.
            self.index.add(dataclasses.replace(candidate, ref=target))
        return PreviewRow(
            line=line,
            cells=cells,
            status=RowStatus.DUPLICATE if match else RowStatus.VALID,
            name=display,
            values=values,
            contact=contact,
            match=match,
            raw=raw,
            raw_contact=raw_contact,
        )

    def result(self) -> _Analysis:
        assert len(self.done) == len(self.parsed.rows), "every row must have been analysed"
        preview = ImportPreview(
            columns=self.parsed.columns,
            mapping=list(self.mapping),
            rows=self.done,
            encoding=self.parsed.encoding,
            delimiter=self.parsed.delimiter,
        )
        return _Analysis(
            preview=preview,
            used=self.used,
            snapshot=self.snapshot,
            read_at=self.read_at,
            depends_on=frozenset(self.depends_on),
        )


def _analyse(session: Session, actor: Actor, parsed: CsvFile, mapping: Sequence[str | None]) -> _Analysis:
    analyser = _Analyser(session, actor, parsed, mapping)
    for _row in analyser.rows():
        pass
    return analyser.result()


# --------------------------------------------------------------------------------------------
# The analysis kept between the preview and the import


_ANALYSES: OrderedDict[tuple[Any, ...], _Analysis] = OrderedDict()
_ANALYSES_LOCK = threading.Lock()
KEPT_ANALYSES = 4  # the last analyses kept in memory (per process) ...
KEPT_ROWS = 60_000  # ... holding at most this many rows in all (one file of MAX_ROWS always fits) ...
KEPT_SECONDS = 30 * 60  # ... for at most this long (a preview left alone is not imported)
_MAX_CHANGED = 2_000  # more institutions changed since an analysis: analyse again rather than compare

#: Institutions written since a snapshot: by a transaction that the snapshot did not see as committed
#: (the row's xmin, 32 bits, placed in the current epoch: a wrapped one counts as changed, never the
#: reverse), or stamped after the analysis (changes of the analysing transaction itself).
_CHANGED_SINCE = sa.text("""
    SELECT i.id FROM institutions AS i,
        (SELECT CAST(:snapshot AS pg_snapshot) AS snap,
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS now8) AS s
    WHERE i.updated_at >= :since OR i.created_at >= :since OR NOT pg_visible_in_snapshot(
        (((s.now8 >> 32) << 32) + i.xmin::text::bigint
         - CASE WHEN ((s.now8 >> 32) << 32) + i.xmin::text::bigint > s.now8 THEN 4294967296 ELSE 0 END
        )::text::xid8, s.snap)
    LIMIT :limit""")


def _analysis_key(content: bytes, actor: Actor) -> tuple[Any, ...]:
    # Who analysed matters: whether a row may be merged depends on the actor's rights.
    return (hashlib.sha256(content).digest(), actor.id, actor.role, actor.team_id)


def _keep(key: tuple[Any, ...], analysis: _Analysis) -> None:
    if analysis.snapshot is None:
        return  # nothing to check a reuse against
    with _ANALYSES_LOCK:
        analysis.kept_at = time.monotonic()
        _ANALYSES[key] = analysis
        _ANALYSES.move_to_end(key)
        while len(_ANALYSES) > KEPT_ANALYSES or (
            len(_ANALYSES) > 1 and sum(len(a.preview.rows) for a in _ANALYSES.values()) > KEPT_ROWS
        ):
            _ANALYSES.popitem(last=False)


def _kept(key: tuple[Any, ...], mapping: Sequence[str | None] | None) -> _Analysis | None:
    with _ANALYSES_LOCK:
        analysis = _ANALYSES.get(key)
    if analysis is None or time.monotonic() - analysis.kept_at > KEPT_SECONDS:
        return None
    wanted = propose_mapping(analysis.preview.columns) if mapping is None else [t or None for t in mapping]
    return analysis if wanted == analysis.preview.mapping else None


def clear_analysis_cache() -> None:
    """Forget the kept analyses (tests, benchmarks)."""
    with _ANALYSES_LOCK:
        _ANALYSES.clear()


def _still_valid(session: Session, analysis: _Analysis) -> bool:
    """Whether the analysis still says what analysing the file now would say: no institution it depends
    on is gone or changed, and no institution written since it was made duplicates one of its rows
    (those, usually none or a few, are checked against every row with the duplicate rules)."""
    if analysis.snapshot is None or analysis.read_at is None or not is_postgresql(session):
        return False
    session.flush()
    connection = session.connection()
    changed = set(
        connection.execute(
            _CHANGED_SINCE, {"snapshot": analysis.snapshot, "since": analysis.read_at, "limit": _MAX_CHANGED + 1}
        ).scalars()
    )
    if len(changed) > _MAX_CHANGED or changed & analysis.depends_on:
        return False
    table = table_of(Institution).c
    if analysis.depends_on:
        present = connection.execute(
            sa.select(sa.func.count())
            .select_from(table_of(Institution))
            .where(
                table.id == sa.any_(sa.bindparam("ids", sorted(analysis.depends_on), type_=postgresql.ARRAY(sa.Uuid)))
            )
        ).scalar_one()
        if present != len(analysis.depends_on):
            return False
    if not changed:
        return True
    index = DuplicateIndex(
        Candidate(
            ref=row[0],
            name=row[1],
            postal_code=row[2],
            city=row[3],
            finess=row[4],
            siret=row[5],
            accounting_number=row[6],
            stored_key=row[7],
            stored_city_key=row[8],
        )
        for row in connection.execute(
            institutions.candidates_query().where(
                table.id == sa.any_(sa.bindparam("ids", sorted(changed), type_=postgresql.ARRAY(sa.Uuid)))
            )
        )
    )
    return not any(
        index.match(_candidate(row.line, row.values)) is not None
        for row in analysis.preview.rows
        if row.status is not RowStatus.ERROR
    )


def preview_import(
    session: Session, actor: Actor, content: bytes, mapping: Sequence[str | None] | None = None
) -> ImportPreview:
    """Every row with its cleaned values or its errors, and its duplicate match (nothing is written).

    `mapping` gives the target field of each column (None: ignored); by default the proposed one. The
    analysis is kept (in this process) for `run_import` of the same file, mapping and user, which uses
    it again if the database did not change in a way that alters it.
    """
    authorize(actor, "institution.import")
    parsed = read_csv(content)
    analysis = _analyse(session, actor, parsed, propose_mapping(parsed.columns) if mapping is None else mapping)
    _keep(_analysis_key(content, actor), analysis)
    return analysis.preview


def effective_action(row: PreviewRow, default: Action, overrides: Mapping[int, Action] | None = None) -> Action | None:
    """What will happen to a row: None for an invalid row (rejected), create for a new one; for a
    duplicate, its own choice, else the default when the match allows it, else skip (a row sharing
    a unique identifier is never created twice)."""
    if row.status is RowStatus.ERROR:
        return None
    if row.match is None:
        return Action.CREATE
    chosen = (overrides or {}).get(row.line)
    if chosen is not None:
        return Action(chosen)
    return default if row.match.allows(default) else Action.SKIP


# --------------------------------------------------------------------------------------------
# Execution


@dataclass(frozen=True)
class RejectedRow:
    line: int
    cells: list[str]
    errors: dict[str, str]  # target field → message id


@dataclass
class ImportReport:
    """What an import did. `merged` counts rows that filled something in or added a contact; a merge
    with nothing new to bring counts as skipped."""

    total: int = 0
    created: int = 0
    merged: int = 0
    skipped: int = 0
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    mapping: list[str | None] = field(default_factory=list)  # the target field of each column
    delimiter: str = ";"
    created_ids: list[uuid.UUID] = field(default_factory=list)
    analysis_reused: bool = False  # the preview's analysis was still valid and was not made again

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    def errors_of(self, row: RejectedRow) -> list[CellError]:
        """The row's errors with the column and the value each is about."""
        return cell_errors(row.errors, row.cells, self.columns, self.mapping)


@dataclass
class _ContactKey:
    first_name: str | None
    last_name: str
    email: str | None
    phone: str | None
    is_primary: bool = False


@dataclass
class _State:
    """An institution that rows merge into: its current values and contacts, kept up to date."""

    values: dict[str, Any]
    contacts: list[_ContactKey]


def _same_contact(a: _ContactKey, b: _ContactKey) -> bool:
    """Matched by email, or by name and phone (by name alone when nothing else tells them apart)."""
    if a.email and b.email and a.email.lower() == b.email.lower():
        return True
    if fold(f"{a.first_name or ''} {a.last_name}") != fold(f"{b.first_name or ''} {b.last_name}"):
        return False
    if a.email and b.email:
        return False
    if a.phone and b.phone:
        return a.phone == b.phone
    return True


def _contact_key(values: Mapping[str, Any]) -> _ContactKey:
    return _ContactKey(
        first_name=values.get("first_name"),
        last_name=values.get("last_name") or "",
        email=values.get("email"),
        phone=values.get("phone"),
        is_primary=bool(values.get("is_primary")),
    )


def _chunks(ids: Sequence[uuid.UUID]) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _load_states(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _State]:
    """The institutions that rows merge into, with profile, labels and contacts: a few queries in all."""
    states: dict[uuid.UUID, _State] = {}
    for chunk in _chunks(ids):
        found = session.exec(select(Institution).where(col(Institution.id).in_(chunk))).all()
        profiles = {
            p.institution_id: p
            for p in session.exec(select(MedicalProfile).where(col(MedicalProfile.institution_id).in_(chunk))).all()
        }
        for institution in found:
            values = {name: getattr(institution, name) for name in institutions.INSTITUTION_FIELDS}
            profile = profiles.get(institution.id)
            values.update({name: getattr(profile, name) if profile else None for name in institutions.PROFILE_FIELDS})
            values.update(tags=[], specialties=[])
            states[institution.id] = _State(values=values, contacts=[])
        label_names = {kind: name for name, kind in institutions.LABEL_FIELDS.items()}
        for institution_id, kind, value in session.exec(
            select(InstitutionLabel.institution_id, InstitutionLabel.kind, InstitutionLabel.value).where(
                col(InstitutionLabel.institution_id).in_(chunk)
            )
        ).all():
            states[institution_id].values[label_names[LabelKind(kind)]].append(value)
        for contact in session.exec(select(Contact).where(col(Contact.institution_id).in_(chunk))).all():
            states[contact.institution_id].contacts.append(
                _ContactKey(
                    contact.first_name,
                    contact.last_name,
                    contact.email,
                    contact.phone,
                    contact.is_primary and not contact.is_archived,
                )
            )
    return states


def _is_empty(name: str, value: Any) -> bool:
    # "other" is what an institution gets when nobody said its type.
    return fields.is_blank(value) or (name == "type" and value == InstitutionType.OTHER)


#: The columns written for a new institution and its profile (the others take their defaults).
_NEW_INSTITUTION_FIELDS = tuple(name for name in institutions.INSTITUTION_FIELDS if name in TARGETS)
_NEW_PROFILE_FIELDS = tuple(name for name in institutions.PROFILE_FIELDS if name in TARGETS)
_NEW_CONTACT_FIELDS = tuple(CONTACT_TARGETS.values())


def _blank_values() -> dict[str, Any]:
    """What a file without its column gives the fields that are never empty (a yes/no, a list): their
    cleaner's blank value, as a form left empty would."""
    blanks = {}
    for name in _NEW_INSTITUTION_FIELDS:
        try:
            value = institutions.CLEANERS[name](None)
        except ValueError:  # required: the row has it
            continue
        if value is not None:
            blanks[name] = value
    return blanks


_BLANK_VALUES = _blank_values()


def _insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL (an INSERT per row, even
    pipelined, or multi-row VALUES that the driver parses again each time, are several times slower),
    executemany elsewhere."""
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), list(rows))
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = list(table.columns)
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) FROM STDIN"
    # What SQLAlchemy would do for each column: the row's value, else the Python-side default.
    defaults = [column.default if isinstance(column.default, sa.ColumnDefault) else None for column in columns]
    json_columns = {index for index, column in enumerate(columns) if isinstance(column.type, sa.JSON)}
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = []
            for index, column in enumerate(columns):
                if column.name in row:
                    value = row[column.name]
                elif (default := defaults[index]) is not None:
                    value = default.arg(None) if default.is_callable else default.arg
                else:
                    value = None
                if isinstance(value, Enum):
                    value = value.value
                values.append(Json(value) if index in json_columns and value is not None else value)
            copy.write_row(values)


class _Writer:
    """Writes the batches of new rows (COPY on PostgreSQL, one executemany elsewhere), in the
    session's transaction.

    A worker thread writing a batch while the next one is prepared was measured (bench/import_bench.py:
    1,328 rows/s with it, 1,385 without, within the noise); it shared the session's connection across
    threads, so the writes stay on the importing thread."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def write(self, batch: Sequence[tuple[sa.Table, list[dict[str, Any]]]]) -> None:
        for table, rows in batch:
            _insert_rows(self.connection, table, rows)


class _Importer:
    """Applies the actions row by row in the caller's session.

    New institutions (the valid rows, the bulk of a file) are written here in batches, as multi-row
    inserts: through the services, one row costs a dozen statements and as many model validations,
    an order of magnitude below the throughput an import needs. They get what the services would
    give them: defaults, derived columns, primary contact, audit entries. Rows that touch existing
    records (merge, create anyway) go through the institution and contact services, once the
    pending batch is written.
    """

    def __init__(
        self, session: Session, actor: Actor, used: Mapping[tuple[str, str], uuid.UUID], report: ImportReport
    ) -> None:
        self.session = session
        self.actor = actor
        self.actor_id = actor.id if actor.id.int else None
        self.used = dict(used)  # a kept analysis serves again: never changed here
        self.report = report
        self.writer = _Writer(session.connection())
        self.created: dict[int, uuid.UUID] = {}  # line → the institution it created
        self.states: dict[uuid.UUID, _State] = {}
        self.loaded: set[uuid.UUID] = set()  # the institutions whose state was read (see `merge`)
        # Inserted table by table, parents first, at each flush.
        self.pending: dict[sa.Table, list[dict[str, Any]]] = {
            table_of(model): [] for model in (Institution, MedicalProfile, InstitutionLabel, Contact, AuditEntry)
        }

    def prepare(self, rows: Iterable[tuple[PreviewRow, Action | None]]) -> None:
        """Read at once the institutions that rows merge into (else read at their first merge)."""
        targets = sorted(
            {
                row.match.institution_id
                for row, action in rows
                if action is Action.MERGE and row.match and row.match.institution_id
            },
            key=str,
        )
        self.states.update(_load_states(self.session, targets))
        self.loaded.update(targets)

    def flush(self) -> None:
        """Hand the pending new institutions to the writer (written table by table, parents first)."""
        self.session.flush()
        batch = [(table, rows) for table, rows in self.pending.items() if rows]
        self.pending = {table: [] for table in self.pending}
        if batch:
            self.writer.write(batch)

    def sync(self) -> None:
        """Write what is pending (before the session is used again)."""
        self.flush()

    def _identifiers_taken(self, row: PreviewRow) -> bool:
        # The rules make this rare (a unique identifier in common makes a duplicate that cannot be
        # created); the row is then rejected rather than the whole import failing on the unique index.
        conflicts = {
            name: N_("Already used by another institution.")
            for name in IDENTIFIER_FIELDS
            if row.values.get(name) and (name, row.values[name]) in self.used
        }
        if conflicts:
            self.report.rejected_rows.append(RejectedRow(row.line, row.cells, conflicts))
        return bool(conflicts)

    def _created(
        self, row: PreviewRow, institution_id: uuid.UUID, values: Mapping[str, Any], contact: _ContactKey | None
    ) -> None:
        for name in IDENTIFIER_FIELDS:
            if row.values.get(name):
                self.used[(name, row.values[name])] = institution_id
        self.created[row.line] = institution_id
        state = {
            name: values.get(name)
            for name in (*institutions.INSTITUTION_FIELDS, *institutions.PROFILE_FIELDS, *institutions.LABEL_FIELDS)
        }
        self.states[institution_id] = _State(values=state, contacts=[contact] if contact else [])
        self.report.created += 1
        self.report.created_ids.append(institution_id)

    def _audit(
        self, entity_type: str, entity_id: uuid.UUID, institution_id: uuid.UUID, contact_name: str | None = None
    ) -> None:
        """As `audit.record` writes a creation."""
        self.pending[table_of(AuditEntry)].append(
            {
                **audit.entry_values(
                    self.actor,
                    entity_type=entity_type,
                    entity_id=entity_id,
                    institution_id=institution_id,
                    action="create",
                ),
                "id": uuid.uuid4(),
                "field": "contact" if contact_name else None,
                "old_value": None,
                "new_value": contact_name,
            }
        )

    def add_new(self, row: PreviewRow) -> None:
        """A valid row: the institution, its profile, labels, contact and audit entries, batched."""
        if self._identifiers_taken(row):
            return
        institution_id = uuid.uuid4()
        values = {
            **{name: row.values.get(name) for name in (*_NEW_INSTITUTION_FIELDS, *_NEW_PROFILE_FIELDS)},
            **{name: blank for name, blank in _BLANK_VALUES.items() if row.values.get(name) is None},
            "type": row.values.get("type") or InstitutionType.OTHER,
            "country": row.values.get("country") or "FR",
        }
        labels: dict[str, list[str]] = {name: row.values.get(name) or [] for name in institutions.LABEL_FIELDS}
        contact_names: list[str] = []
        key: _ContactKey | None = None
        self._audit("institution", institution_id, institution_id)
        if row.contact is not None:
            contact = {**{name: row.contact.get(name) for name in _NEW_CONTACT_FIELDS}, "is_primary": True}
            contact_id = uuid.uuid4()
            self.pending[table_of(Contact)].append(
                {
                    **contact,
                    **contacts.derived_columns(contact),
                    "id": contact_id,
                    "institution_id": institution_id,
                    "created_by": self.actor_id,
                    "updated_by": self.actor_id,
                }
            )
            full_name = f"{contact['first_name'] or ''} {contact['last_name']}"
            contact_names.append(full_name)
            self._audit("contact", contact_id, institution_id, full_name)
            key = _contact_key(contact)
        self.pending[table_of(Institution)].append(
            {
                **{name: values[name] for name in _NEW_INSTITUTION_FIELDS},
                **institutions.derived_columns(values, contact_names),
                "id": institution_id,
                "data_source": DataSource.IMPORT,
                "created_by": self.actor_id,
                "updated_by": self.actor_id,
            }
        )
        self.pending[table_of(MedicalProfile)].append(
            {"institution_id": institution_id, **{name: values[name] for name in _NEW_PROFILE_FIELDS}}
        )
        for name, kind in institutions.LABEL_FIELDS.items():
            self.pending[table_of(InstitutionLabel)].extend(
                {"institution_id": institution_id, "kind": kind, "value": label} for label in labels[name]
            )
        self._created(row, institution_id, values | labels, key)
        if len(self.pending[table_of(Institution)]) >= BATCH:
            self.flush()

    def create_anyway(self, row: PreviewRow) -> None:
        """A duplicate the user wants as a new institution: through the services, like a manual create."""
        if self._identifiers_taken(row):
            return
        self.sync()
        institution = institutions.create_institution(
            self.session, self.actor, row.raw, source=DataSource.IMPORT, allow_duplicate=True
        )
        key: _ContactKey | None = None
        if row.contact is not None:
            contacts.create_contact(self.session, self.actor, institution.id, {**row.raw_contact, "is_primary": True})
            key = _contact_key({**row.contact, "is_primary": True})
        self._created(
            row,
            institution.id,
            row.values | {name: getattr(institution, name) for name in institutions.INSTITUTION_FIELDS},
            key,
        )

    def merge(self, row: PreviewRow) -> None:
        assert row.match is not None
        target = row.match.institution_id or self.created.get(row.match.line or 0)
        if row.match.institution_id is not None and target not in self.loaded:  # rows analysed as imported
            self.sync()
            self.states.update(_load_states(self.session, [row.match.institution_id]))
            self.loaded.add(row.match.institution_id)
        state = self.states.get(target) if target else None
        if target is None or state is None:  # the earlier row it duplicates was not created, or it is gone
            self.report.skipped += 1
            return
        self.sync()
        fills = {
            name: row.raw[name]
            for name, value in row.values.items()
            if not _is_empty(name, value)
            and _is_empty(name, state.values.get(name))
            and not (name in IDENTIFIER_FIELDS and self.used.get((name, value), target) != target)
        }
        changed = False
        if fills:
            institution = institutions.get_institution(self.session, target)
            institutions.update_institution(
                self.session, self.actor, target, fills, expected_version=institution.version
            )
            for name in fills:
                state.values[name] = row.values[name]
                if name in IDENTIFIER_FIELDS:
                    self.used[(name, row.values[name])] = target
            changed = True
        if row.contact is not None:
            new = _contact_key(row.contact)
            if not any(_same_contact(new, known) for known in state.contacts):
                new.is_primary = not any(known.is_primary for known in state.contacts)
                contacts.create_contact(
                    self.session, self.actor, target, {**row.raw_contact, "is_primary": new.is_primary}
                )
                state.contacts.append(new)
                changed = True
        if changed:
            self.report.merged += 1
        else:
            self.report.skipped += 1

    def apply(self, row: PreviewRow, action: Action | None) -> None:
        if row.status is RowStatus.ERROR:
            self.report.rejected_rows.append(RejectedRow(row.line, row.cells, row.errors))
        elif row.status is RowStatus.VALID:
            self.add_new(row)
        elif action is Action.CREATE:
            self.create_anyway(row)
        elif action is Action.MERGE:
            self.merge(row)
        else:
            self.report.skipped += 1


def _check_overrides(rows: Sequence[PreviewRow], overrides: Mapping[int, Action]) -> None:
    by_line = {row.line: row for row in rows}
    errors: dict[str, str] = {}
    for line, action in overrides.items():
        row = by_line.get(line)
        if row is None or row.match is None:
            continue  # only duplicates have a choice; anything else is ignored
        if not row.match.allows(Action(action)):
            errors[f"line_{line}"] = (
                N_("This action is not possible for this row.")
                if action is not Action.CREATE
                else N_(
                    "This row shares a FINESS, SIRET or accounting number with another institution: "
                    "it cannot be created again."
                )
            )
    if errors:
        raise ValidationFailed(errors)


def run_import(
    session: Session,
    actor: Actor,
    content: bytes,
    mapping: Sequence[str | None] | None = None,
    *,
    default_action: Action = Action.SKIP,
    overrides: Mapping[int, Action] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    client: ClientInfo | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Import the file as previewed: valid rows created, duplicates skipped, merged or created as chosen
    (`overrides` maps a row's line to its action), invalid rows rejected with their reasons.

    Everything happens in the caller's unit of work: an error midway leaves the database unchanged.
    `on_progress(done, total)` is called every PROGRESS_EVERY rows (from the thread running the import).
    """
    authorize(actor, "institution.import")
    cache.mark_changed(session)  # the batched rows bypass audit.record, which would say it
    default_action = Action(default_action)
    overrides = {int(line): Action(action) for line, action in (overrides or {}).items()}
    key = _analysis_key(content, actor)
    kept = _kept(key, mapping)
    analyser: _Analyser | None = None
    if kept is not None and _still_valid(session, kept):
        analysis: _Analysis | None = kept
        columns, column_mapping, delimiter = kept.preview.columns, kept.preview.mapping, kept.preview.delimiter
        rows: Iterable[PreviewRow] = kept.preview.rows
        total = len(kept.preview.rows)
    else:
        parsed = read_csv(content)
        analyser = _Analyser(session, actor, parsed, propose_mapping(parsed.columns) if mapping is None else mapping)
        columns, column_mapping, delimiter = parsed.columns, list(analyser.mapping), parsed.delimiter
        total = len(parsed.rows)
        if overrides:  # checked against every row before anything is written
            for _row in analyser.rows():
                pass
            analysis = analyser.result()
            rows = analysis.preview.rows
        else:  # rows are written while the next ones are matched
            analysis, rows = None, analyser.rows()
    if analysis is not None:
        _check_overrides(analysis.preview.rows, overrides)
    report = ImportReport(
        total=total, columns=columns, mapping=column_mapping, delimiter=delimiter, analysis_reused=analyser is None
    )
    used = analysis.used if analysis is not None else analyser.used if analyser is not None else {}
    importer = _Importer(session, actor, used, report)
    if analysis is not None:
        importer.prepare([(row, effective_action(row, default_action, overrides)) for row in rows])
    if on_progress is not None:
        on_progress(0, total)
    for done, row in enumerate(rows, start=1):
        importer.apply(row, effective_action(row, default_action, overrides))
        if on_progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            on_progress(done, total)
    importer.sync()
    if analyser is not None:
        _keep(key, analysis or analyser.result())
    security_log.record(
        session,
        SecurityAction.IMPORT,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        client=client,
        file=file_name,
        rows=report.total,
        created=report.created,
        merged=report.merged,
        skipped=report.skipped,
        rejected=report.rejected,
        default_action=default_action.value,
    )
    return report


# --------------------------------------------------------------------------------------------
# Reasons and the rejected rows file


#: How an error reads: the file's column, the value it holds, and why it was refused.
_IN_CELL = N_('"{column}": the value "{value}" is refused. {reason}')
_IN_EMPTY_CELL = N_('"{column}": the cell is empty. {reason}')
_IN_FIELD = N_('"{column}": {reason}')  # a field that no column of the file feeds
_ON_LINE = N_("Line {line}, {error}")
_ON_ROW = N_("Line {line}: {reason}")
_UNKNOWN_VALUE = N_("Unknown value.")  # the cleaners' message for a value that is not one of a field's codes
_ACCEPTED = N_("Accepted values: {values}.")
#: The labels of the codes of the imported fields that have some (type, status, compliance).
_CODE_LABELS: dict[str, tuple[str, ...]] = {spec.name: tuple(spec.codes.values()) for spec in IMPORTED if spec.codes}
MAX_SHOWN_VALUE = 80  # characters of a refused value quoted in its error


@dataclass(frozen=True)
class CellError:
    """One reason a row was refused: the field, the file's column that feeds it and its value as written
    (None for an error about the whole row, or a field that no column feeds), and the message id."""

    field: str
    column: str | None
    value: str | None
    reason: str

    def why(self) -> str:
        """The reason in the current locale; for a value that is not one of its field's codes, with the
        values that are."""
        reason = gettext(self.reason)
        labels = _CODE_LABELS.get(self.field)
        if self.reason == _UNKNOWN_VALUE and labels:
            accepted = gettext(_ACCEPTED, values=", ".join(gettext(label) for label in labels))
            reason = f"{reason} {accepted}"
        return reason

    def describe(self, line: int | None = None) -> str:
        """The error in the current locale: "Line 12, "Postal code": the value "7500A" is refused. A French
        postal code has 5 digits." (without the line when `line` is None)."""
        reason = self.why()
        if self.field == ROW_ERROR:
            return reason if line is None else gettext(_ON_ROW, line=line, reason=reason)
        column = self.column if self.column is not None else gettext(TARGETS.get(self.field, self.field))
        value = " ".join((self.value or "").split())
        if len(value) > MAX_SHOWN_VALUE:
            value = value[: MAX_SHOWN_VALUE - 1] + "…"
        if self.column is None:
            error = gettext(_IN_FIELD, column=column, reason=reason)
        elif value:
            error = gettext(_IN_CELL, column=column, value=value, reason=reason)
        else:
            error = gettext(_IN_EMPTY_CELL, column=column, reason=reason)
        return error if line is None else gettext(_ON_LINE, line=line, error=error)


def cell_errors(
    errors: Mapping[str, str], cells: Sequence[str], columns: Sequence[str], mapping: Sequence[str | None]
) -> list[CellError]:
    """A row's errors (field → message id) with the column of the file each comes from and its value."""
    found: list[CellError] = []
    for name, reason in errors.items():
        index = next((i for i, target in enumerate(mapping) if target == name), None)
        if name == ROW_ERROR or index is None or index >= len(columns):
            found.append(CellError(name, None, None, reason))
        else:
            found.append(CellError(name, columns[index], cells[index] if index < len(cells) else "", reason))
    return found


def rejected_rows_csv(report: ImportReport, *, locale: str | None = None) -> bytes:
    """The rejected rows with their original columns and a translated reason column, in UTF-8 with a BOM,
    with the file's separator; cells a spreadsheet would run as formulas are neutralised."""
    with use_locale(locale):
        header = [*report.columns, gettext(N_("Reason"))]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=report.delimiter, lineterminator="\r\n")
        writer.writerow([neutralise(cell) for cell in header])
        for row in report.rejected_rows:
            cells = (row.cells + [""] * len(report.columns))[: len(report.columns)]
            why = "; ".join(error.describe(row.line) for error in report.errors_of(row))
            writer.writerow([neutralise(cell) for cell in [*cells, why]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
