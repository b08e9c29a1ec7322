"""CSV import of institutions (DOMAIN.md "CSV import"), on the real database.

The sample file and its README (/work/shared/data) state what the file holds: 209 data rows, three
duplicates of earlier rows, four invalid rows, two hostile names and a non-ASCII email."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm_app.institutions import contacts, exports, imports
from crm_app.institutions import service as institutions
from crm_app.institutions.duplicates import MatchRule
from crm_app.institutions.imports import Action, RowStatus
from crm_app.institutions.models import (
    Contact,
    DataSource,
    Institution,
    InstitutionLabel,
    InstitutionType,
    MedicalProfile,
)
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.i18n import gettext, use_locale
from crm_app.platform.models.audit import AuditEntry, SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.platform.tabular import ExportFormat
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_institution

SAMPLE = Path("/work/shared/data/institutions_fr_sample.csv")
SAMPLE_ROWS = 209  # 210 lines: the header and 209 institutions
# Lines in the file (the header is line 1) that the README describes.
INVALID = {
    6: {"bed_capacity": "Enter a whole number."},  # "beaucoup"
    34: {"type": "Unknown value."},  # "spaceport"
    60: {"name": "This field is required."},
    206: {"siret": "This SIRET number is not valid (check digit)."},
}
IN_FILE_DUPLICATES = {  # line → (line of the earlier row, rule)
    94: (49, MatchRule.FINESS),  # "Centre Hospitalier de Lille" after "CH de Lille"
    183: (97, MatchRule.ACCOUNTING_NUMBER),  # "Clinique Saint-Joseph" after "CLINIQUE SAINT-JOSEPH"
    205: (190, MatchRule.NAME_POSTAL_CODE),  # "Institut de Cancerologie Ajaccio", accents dropped
}
HOSTILE = {114: '=HYPERLINK("http://evil")', 203: "<script>alert('x')</script> Clinique"}
NON_ASCII_EMAIL_LINE = 179


@pytest.fixture(scope="module")
def sample() -> bytes:
    return SAMPLE.read_bytes()


@pytest.fixture
def manager(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.MANAGER, team=make_team(db)))


def _count(db: Session, model: Any) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def _csv(rows: list[list[str]], *, delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def _rejected(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


# --------------------------------------------------------------------------------------------
# Reading and mapping


def test_sample_file_is_read_with_its_encoding_separator_and_french_headers(
    db: Session, manager: Actor, sample: bytes
) -> None:
    analysis = imports.analyse_file(db, manager, sample)
    assert (analysis.encoding, analysis.delimiter, analysis.row_count) == ("utf-8-sig", ";", SAMPLE_ROWS)
    assert analysis.columns[0] == "Nom"  # no BOM left in the first header
    assert dict(zip(analysis.columns, analysis.mapping, strict=True)) == {
        "Nom": "name",
        "Type": "type",
        "FINESS": "finess",
        "SIRET": "siret",
        "N° compte": "accounting_number",
        "Adresse": "street",
        "Code postal": "postal_code",
        "Ville": "city",
        "Région": "region",
        "Téléphone": "phone",
        "Lits": "bed_capacity",
        "Salles d'opération": "surgical_rooms",
        "Spécialités": "specialties",
        "Prénom contact": "contact_first_name",
        "Nom contact": "contact_last_name",
        "Email contact": "contact_email",
        "Fonction contact": "contact_title",
        "CA annuel": "annual_revenue",
    }
    assert analysis.samples[0][:1] == ["Clinique du Parc Orléans"]


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("NOM", "name"),
        ("name", "name"),
        ("Numéro de compte", "accounting_number"),
        ("numero de compte", "accounting_number"),
        ("Account number", "accounting_number"),
        ("accounting_number", "accounting_number"),
        ("CODE POSTAL", "postal_code"),
        ("zip", "postal_code"),
        ("postal_code", "postal_code"),
        ("Salles d'operation", "surgical_rooms"),
        ("Operating rooms", "surgical_rooms"),
        ("bed_capacity", "bed_capacity"),
        ("Beds", "bed_capacity"),
        ("E-mail contact", "contact_email"),
        ("contact_last_name", "contact_last_name"),
        ("  Ville ", "city"),
        ("Site web", "website"),
        ("Pays", "country"),
        ("Groupe", "group_name"),
        ("group_name", "group_name"),
        ("Revenue", "annual_revenue"),
        ("Tags", "tags"),
        ("Adresse", "street"),
        ("street", "street"),
        ("Région", "region"),
        ("téléphone", "phone"),
        ("Spécialités", "specialties"),
        ("Couleur préférée", None),
    ],
)
def test_headers_are_recognised_without_accents_case_or_punctuation(header: str, target: str | None) -> None:
    assert imports.propose_mapping([header]) == [target]


def test_a_field_is_proposed_for_one_column_only() -> None:
    assert imports.propose_mapping(["Nom", "Name", "Ville"]) == ["name", None, "city"]


@pytest.mark.parametrize("mapping", [[None, "city"], ["name", "name"], ["name", "favourite_colour"], ["name"]])
def test_a_mapping_without_name_with_a_field_twice_or_unknown_is_refused(mapping: list[str | None]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        imports.check_mapping(["A", "B"], mapping)
    assert "mapping" in refused.value.field_errors


def test_files_over_twenty_megabytes_are_refused() -> None:
    content = b"Nom;Ville\r\n" + b"x" * (imports.MAX_BYTES - 11) + b"y"
    assert len(content) == imports.MAX_BYTES + 1
    with pytest.raises(ValidationFailed) as refused:
        imports.read_csv(content)
    assert refused.value.field_errors == {"file": "The file is larger than 20 MB."}
    assert refused.value.message == "The file is larger than 20 MB."


def test_files_over_fifty_thousand_rows_are_refused() -> None:
    at_limit = b"Nom\n" + b"a\n" * imports.MAX_ROWS
    assert len(imports.read_csv(at_limit).rows) == imports.MAX_ROWS
    with pytest.raises(ValidationFailed) as refused:
        imports.read_csv(at_limit + b"b\n")
    assert refused.value.field_errors == {"file": "The file has more than 50,000 rows."}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b" \r\n\r\n", "The file is empty."),
        (b"Nom;Ville\r\n", "The file has no data rows."),
        (b"Nom;Ville\r\n;\r\n", "The file has no data rows."),
        ("Nom\r\nClinique\r\n".encode("utf-16"), "This file could not be read as CSV."),
        (b"PK\x03\x04\x14\x00\x06\x00", "This file could not be read as CSV."),  # an XLSX file
        (b'Nom\r\n"' + b"x" * 200_000, "This file could not be read as CSV."),  # a quote never closed
    ],
)
def test_empty_or_unreadable_files_are_refused_with_a_message(content: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        imports.read_csv(content)
    assert refused.value.field_errors == {"file": message}


def test_latin_1_is_the_last_resort() -> None:
    # 0x81 has no character in Windows-1252.
    parsed = imports.read_csv("Nom;Ville\r\nCaf\u00e9 \x81;Br\u00fbl\u00e9\r\n".encode("latin-1"))
    assert parsed.encoding == "latin-1"
    assert parsed.rows[0][1] == ["Café \x81", "Brûlé"]


# --------------------------------------------------------------------------------------------
# Preview of the sample file


def test_sample_invalid_rows_are_rejected_with_the_stated_reasons(db: Session, manager: Actor, sample: bytes) -> None:
    preview = imports.preview_import(db, manager, sample)
    by_line = {row.line: row for row in preview.rows}
    assert len(preview.rows) == SAMPLE_ROWS
    for line, errors in INVALID.items():
        assert by_line[line].status is RowStatus.ERROR
        assert by_line[line].errors == errors


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            {
                6: "Ligne 6, « Lits » : la valeur « beaucoup » est refusée. Saisissez un nombre entier.",
                34: "Ligne 34, « Type » : la valeur « spaceport » est refusée. Valeur inconnue. Valeurs acceptées : "
                "Centre hospitalier universitaire (CHU), Centre hospitalier (CH), Clinique privée, Centre médical, "
                "Clinique spécialisée, Laboratoire, Pharmacie, Autre.",
                60: "Ligne 60, « Nom » : la cellule est vide. Ce champ est obligatoire.",
                206: "Ligne 206, « SIRET » : la valeur « 12345678901234 » est refusée. "
                "Ce numéro SIRET n'est pas valide (clé de contrôle).",
            },
        ),
        (
            "en",
            {
                6: 'Line 6, "Lits": the value "beaucoup" is refused. Enter a whole number.',
                34: 'Line 34, "Type": the value "spaceport" is refused. Unknown value. Accepted values: '
                "University hospital (CHU), Hospital (CH), Private clinic, Medical centre, Specialty clinic, "
                "Laboratory, Pharmacy, Other.",
                60: 'Line 60, "Nom": the cell is empty. This field is required.',
                206: 'Line 206, "SIRET": the value "12345678901234" is refused. '
                "This SIRET number is not valid (check digit).",
            },
        ),
    ],
)
def test_each_error_names_its_line_column_and_refused_value(
    db: Session, manager: Actor, sample: bytes, language: str, expected: dict[int, str]
) -> None:
    """An error names the file's column (its header, as the user wrote it), the value refused and why."""
    preview = imports.preview_import(db, manager, sample)
    report = imports.run_import(db, manager, sample)
    by_line = {row.line: row for row in preview.rows}
    with use_locale(language):
        for line, sentence in expected.items():
            assert [error.describe(line) for error in preview.errors_of(by_line[line])] == [sentence]
        assert {row.line: [e.describe(row.line) for e in report.errors_of(row)] for row in report.rejected_rows} == {
            line: [sentence] for line, sentence in expected.items()
        }
    postal = imports.preview_import(db, manager, _csv([["Nom", "CP"], ["Clinique A", "7500A"]]))
    [error] = postal.errors_of(postal.rows[0])
    assert (error.field, error.column, error.value) == ("postal_code", "CP", "7500A")
    for other, sentence in (
        ("fr", "Ligne 2, « CP » : la valeur « 7500A » est refusée. Un code postal français a 5 chiffres."),
        ("es", "Línea 2, «CP»: el valor «7500A» no se acepta."),
        ("de", "Zeile 2, „CP“: Der Wert „7500A“ wird nicht angenommen."),
    ):
        with use_locale(other):
            assert error.describe(2).startswith(sentence), error.describe(2)


def test_an_error_about_the_whole_row_or_a_field_without_column_names_the_line(db: Session, manager: Actor) -> None:
    content = _csv([["Nom", "Prénom contact"], ["Clinique A", "", "extra"], ["Clinique B", "Jean"]])
    preview = imports.preview_import(db, manager, content)
    with use_locale("en"):
        assert [e.describe(2) for e in preview.errors_of(preview.rows[0])] == [
            "Line 2: This row has more cells than the header."
        ]
        # the contact's last name has no column: the error names the field
        assert [e.describe(3) for e in preview.errors_of(preview.rows[1])] == [
            'Line 3, "Contact last name": This field is required.'
        ]
        long = "x" * 200
        beds = imports.preview_import(db, manager, _csv([["Nom", "Lits"], ["Clinique C", long]]))
        [error] = beds.errors_of(beds.rows[0])
        assert error.value == long and f'"{"x" * 79}…"' in error.describe()


def test_sample_duplicates_are_found_among_the_rows_of_the_file(db: Session, manager: Actor, sample: bytes) -> None:
    preview = imports.preview_import(db, manager, sample)
    found = {row.line: (row.match.line, row.match.rule) for row in preview.rows if row.match is not None}
    assert found == IN_FILE_DUPLICATES
    assert all(row.status is RowStatus.DUPLICATE for row in preview.rows if row.line in found)
    by_line = {row.line: row for row in preview.rows}
    assert by_line[183].match is not None and by_line[183].match.name == "CLINIQUE SAINT-JOSEPH"
    # A row sharing a unique identifier cannot be created twice; a name match can.
    assert by_line[94].match is not None and not by_line[94].match.can_create
    assert by_line[205].match is not None and by_line[205].match.can_create


def test_sample_hostile_rows_and_non_ascii_email_are_valid_and_kept_as_text(
    db: Session, manager: Actor, sample: bytes
) -> None:
    preview = imports.preview_import(db, manager, sample)
    by_line = {row.line: row for row in preview.rows}
    for line, name in HOSTILE.items():
        assert by_line[line].status is RowStatus.VALID
        assert by_line[line].name == name
    email_row = by_line[NON_ASCII_EMAIL_LINE]
    assert email_row.status is RowStatus.VALID
    assert email_row.contact is not None and email_row.contact["email"] == "zoé.lemaître@exemple-santé.fr"


# --------------------------------------------------------------------------------------------
# Importing the sample file


def test_sample_file_imports_with_the_counts_its_readme_states(db: Session, manager: Actor, sample: bytes) -> None:
    report = imports.run_import(db, manager, sample)
    assert (report.total, report.created, report.merged, report.skipped, report.rejected) == (209, 202, 0, 3, 4)
    assert {row.line for row in report.rejected_rows} == set(INVALID)


def test_sample_file_import_does_what_its_preview_says(db: Session, manager: Actor, sample: bytes) -> None:
    preview = imports.preview_import(db, manager, sample)
    errors = {row.line for row in preview.rows if row.status is RowStatus.ERROR}
    assert set(INVALID) <= errors
    report = imports.run_import(db, manager, sample)
    assert report.total == SAMPLE_ROWS
    assert report.created == preview.count(RowStatus.VALID) == SAMPLE_ROWS - len(IN_FILE_DUPLICATES) - len(errors)
    assert (report.merged, report.skipped) == (0, len(IN_FILE_DUPLICATES))
    assert {row.line for row in report.rejected_rows} == errors
    assert _count(db, Institution) == report.created
    assert _count(db, MedicalProfile) == report.created
    assert _count(db, Contact) == report.created  # every valid row has a contact
    sources = set(db.exec(select(Institution.data_source)).all())
    assert sources == {DataSource.IMPORT}
    hostile = {i.name for i in db.exec(select(Institution).where(col(Institution.name).in_(HOSTILE.values())))}
    assert hostile == set(HOSTILE.values())
    parc = db.exec(select(Institution).where(Institution.finess == "077527536")).one()  # line 2
    assert (parc.name, parc.type, parc.siret, parc.accounting_number) == (
        "Clinique du Parc Orléans",
        InstitutionType.PRIVATE_CLINIC,
        "13866235567525",
        "41100129",
    )
    assert (parc.postal_code, parc.phone, parc.annual_revenue) == ("45067", "+33 5 27 61 88 63", Decimal("611641.58"))
    profile = db.get(MedicalProfile, parc.id)
    assert profile is not None and (profile.bed_capacity, profile.surgical_rooms) == (120, 24)
    chu = db.exec(select(Institution).where(Institution.finess == "514276831")).one()  # line 3: "CHU"
    assert chu.type == InstitutionType.UNIVERSITY_HOSPITAL
    assert institutions.label_values(db, institutions.LabelKind.SPECIALTY)


def test_importing_the_same_file_twice_creates_nothing_new(db: Session, manager: Actor, sample: bytes) -> None:
    first = imports.run_import(db, manager, sample)
    before = _count(db, Institution), _count(db, Contact), _count(db, AuditEntry)
    second = imports.run_import(db, manager, sample)
    assert (second.created, second.merged) == (0, 0)
    assert second.skipped == SAMPLE_ROWS - first.rejected
    assert (_count(db, Institution), _count(db, Contact), _count(db, AuditEntry)) == before


def test_rows_without_a_place_or_with_noise_only_names_are_not_created_twice(db: Session, manager: Actor) -> None:
    rows = [
        ["nom", "code postal", "ville", "finess"],
        ["Clinique", "", "", ""],  # a name made of noise words, and no place
        ["Centre de dialyse Les Tilleuls", "", "", ""],  # no place
        ["CHU", "59000", "Lille", ""],
        ["Clinique", "", "Nantes", ""],
    ]  # same name, but a place: not the first row
    first = imports.run_import(db, manager, _csv(rows))
    assert (first.created, first.skipped, first.rejected) == (4, 0, 0)
    before = _count(db, Institution), _count(db, AuditEntry)
    second = imports.run_import(db, manager, _csv(rows))
    assert (second.created, second.merged, second.skipped) == (0, 0, 4)
    assert (_count(db, Institution), _count(db, AuditEntry)) == before
    rules = {row.line: row.match.rule for row in imports.preview_import(db, manager, _csv(rows)).rows if row.match}
    assert rules == {
        2: MatchRule.NAME_NO_PLACE,
        3: MatchRule.NAME_NO_PLACE,
        4: MatchRule.NAME_POSTAL_CODE,
        5: MatchRule.FUZZY_NAME_CITY,
    }


@pytest.mark.parametrize("locale", ["fr", "en", "es", "de"])
def test_an_export_of_the_list_is_read_back_by_the_import(db: Session, manager: Actor, locale: str) -> None:
    made: dict[str, dict[str, Any]] = {
        "CHU de Rennes": dict(
            type="university_hospital",
            postal_code="35033",
            city="Rennes",
            finess="350005179",
            bed_capacity=1800,
            surgical_rooms=40,
            tags=["UGAP", "Appel d'offres"],
        ),
        "Centre hospitalier de Vitré": dict(type="hospital", postal_code="35500", city="Vitré"),
        "Clinique de la Sagesse": dict(type="private_clinic", postal_code="35000", city="Rennes"),
        "Laboratoire Bio Ouest": dict(type="laboratory", city="Rennes", accounting_number="C0042"),
        "Centre médical du Blosne": dict(type="medical_center", postal_code="35200", city="Rennes"),
        "Clinique de la main": dict(type="specialty_clinic", postal_code="35000", city="Rennes"),
        "Pharmacie Centrale": dict(type="pharmacy", postal_code="35000", city="Rennes"),
        "Institut de formation": dict(type="other", postal_code="35000", city="Rennes"),
    }
    for name, values in made.items():
        make_institution(db, name=name, **values)
    with use_locale(locale):
        content = exports.export_institutions(db, manager, InstitutionQuery(), ExportFormat.CSV)
    preview = imports.preview_import(db, manager, content)
    assert dict(zip(preview.columns, preview.mapping, strict=True)) == dict(
        zip(
            content.decode("utf-8-sig").splitlines()[0].split(";"),
            [
                "name",
                "type",
                "finess",
                "siret",
                "accounting_number",
                "postal_code",
                "city",
                "region",
                None,
                None,
                None,
                "is_public_entity",
                "bed_capacity",
                "surgical_rooms",
                "tags",
                None,
            ],
            strict=True,
        )
    )
    assert {row.name: row.errors for row in preview.rows} == {name: {} for name in made}
    assert {row.name: row.values["type"] for row in preview.rows} == {name: v["type"] for name, v in made.items()}
    assert {row.name: row.values["tags"] for row in preview.rows}["CHU de Rennes"] == ["Appel d'offres", "UGAP"]
    report = imports.run_import(db, manager, content)
    assert (report.created, report.merged, report.skipped, report.rejected) == (0, 0, len(made), 0)


def test_merging_the_same_file_twice_changes_nothing_the_second_time(
    db: Session, manager: Actor, sample: bytes
) -> None:
    first = imports.run_import(db, manager, sample, default_action=Action.MERGE)
    assert first.merged == 1  # line 94 brings the SIRET and accounting number that line 49 lacked
    versions = dict(db.exec(select(Institution.id, Institution.version)).all())
    before = _count(db, Contact), _count(db, AuditEntry)
    second = imports.run_import(db, manager, sample, default_action=Action.MERGE)
    assert (second.created, second.merged, second.skipped) == (0, 0, SAMPLE_ROWS - first.rejected)
    db.expire_all()
    assert dict(db.exec(select(Institution.id, Institution.version)).all()) == versions
    assert (_count(db, Contact), _count(db, AuditEntry)) == before


def test_a_row_merged_into_an_earlier_row_fills_what_that_row_lacked(
    db: Session, manager: Actor, sample: bytes
) -> None:
    imports.run_import(db, manager, sample, default_action=Action.MERGE)
    lille = db.exec(select(Institution).where(Institution.finess == "565518172")).one()
    assert lille.name == "CH de Lille"  # the first row keeps its name
    assert (lille.siret, lille.accounting_number) == ("38083681334043", "41100120")
    assert (
        _count(db, Institution)
        == db.exec(select(func.count(func.distinct(Institution.finess)))).one()
        + db.exec(select(func.count()).where(col(Institution.finess).is_(None))).one()
    )


def test_a_failure_midway_leaves_the_database_as_it_was(
    clean_db: None, monkeypatch: pytest.MonkeyPatch, sample: bytes
) -> None:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.MANAGER))
    monkeypatch.setattr(imports, "BATCH", 10)  # several batches are written before the failure
    add_new = imports._Importer.add_new
    written_before_failure: list[int] = []

    def failing_add_new(self: Any, row: imports.PreviewRow) -> None:
        if self.report.created == 49:
            written_before_failure.append(_count(self.session, Institution))
            raise RuntimeError("disk full")
        add_new(self, row)

    monkeypatch.setattr(imports._Importer, "add_new", failing_add_new)
    with pytest.raises(RuntimeError, match="disk full"), unit_of_work() as session:
        imports.run_import(session, actor, sample)
    assert written_before_failure and written_before_failure[0] >= 40
    with unit_of_work() as session:
        assert _count(session, Institution) == _count(session, Contact) == _count(session, AuditEntry) == 0
        imports_logged = select(SecurityEvent).where(SecurityEvent.action == SecurityAction.IMPORT.value)
        assert session.exec(imports_logged).all() == []


def test_the_import_is_written_to_the_security_log(db: Session, manager: Actor, sample: bytes) -> None:
    report = imports.run_import(db, manager, sample, file_name="sample.csv")
    [event] = db.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.IMPORT.value)).all()
    assert event.user_id == manager.id and event.email == manager.email
    assert event.details["file"] == "sample.csv"
    assert (event.details["created"], event.details["skipped"], event.details["rejected"]) == (
        report.created,
        report.skipped,
        report.rejected,
    )


def test_progress_is_reported_while_importing(db: Session, manager: Actor, sample: bytes) -> None:
    calls: list[tuple[int, int]] = []
    imports.run_import(db, manager, sample, on_progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, SAMPLE_ROWS) and calls[-1] == (SAMPLE_ROWS, SAMPLE_ROWS)
    assert len(calls) >= SAMPLE_ROWS // imports.PROGRESS_EVERY
    assert [done for done, _total in calls] == sorted(done for done, _total in calls)


def test_imported_institutions_look_like_those_made_by_the_services(db: Session, manager: Actor) -> None:
    header = [
        "Nom",
        "Ville",
        "Code postal",
        "FINESS",
        "Groupe",
        "Tags",
        "Prénom contact",
        "Nom contact",
        "Email contact",
        "Fonction contact",
        "Lits",
        "Salles d'opération",
    ]
    values = [
        "Clinique de l'Étang",
        "Saint-Étienne",
        "42000",
        "420000014",
        "Groupe Santé",
        "vip, bloc",
        "Zoé",
        "Lemaître",
        "zoe@example.org",
        "Cadre de bloc",
        "85",
        "3",
    ]
    report = imports.run_import(db, manager, _csv([header, values]))
    [imported] = db.exec(select(Institution).where(col(Institution.id).in_(report.created_ids))).all()
    derived = (
        "name_key",
        "city_key",
        "match_key",
        "search_text",
        "profile_beds",
        "profile_rooms",
        "profile_compliance",
    )
    written = {column: getattr(imported, column) for column in derived}
    assert "lemaitre" in written["search_text"] and "420000014" in written["search_text"]
    assert (written["profile_beds"], written["profile_rooms"]) == (85, 3)
    institutions.refresh_derived(db, imported)  # what the service computes from the stored rows
    assert {column: getattr(imported, column) for column in derived} == written
    by_service = institutions.create_institution(
        db, manager, {"name": values[0], "city": values[1]}, allow_duplicate=True
    )
    reference = contacts.create_contact(
        db,
        manager,
        by_service.id,
        {
            "first_name": "Zoé",
            "last_name": "Lemaître",
            "email": "zoe@example.org",
            "title": "Cadre de bloc",
            "is_primary": True,
        },
    )
    for column in ("type", "country", "commercial_status", "version", "is_archived", "created_by", "updated_by"):
        assert getattr(imported, column) == getattr(by_service, column), column
    [contact] = db.exec(select(Contact).where(Contact.institution_id == imported.id)).all()
    for column in ("name_key", "search_text", "is_primary", "version", "email_opt_out", "created_by"):
        assert getattr(contact, column) == getattr(reference, column), column
    tags = db.exec(select(InstitutionLabel.value).where(InstitutionLabel.institution_id == imported.id)).all()
    assert sorted(tags) == ["bloc", "vip"]
    trail = [
        (e.entity_type, e.action, e.field, e.new_value, e.actor_id)
        for e in db.exec(select(AuditEntry).where(AuditEntry.institution_id == imported.id)).all()
    ]
    assert sorted(trail, key=str) == sorted(
        [
            ("institution", "create", None, None, manager.id),
            ("contact", "create", "contact", "Zoé Lemaître", manager.id),
        ],
        key=str,
    )


# --------------------------------------------------------------------------------------------
# Other files and choices


def test_windows_1252_comma_file_with_english_headers_and_labels(db: Session, manager: Actor) -> None:
    rows = [
        [
            "Name",
            "Type",
            "Address",
            "Zip",
            "City",
            "Country",
            "Beds",
            "Operating rooms",
            "Revenue",
            "Website",
            "Contact first name",
            "Contact last name",
            "Contact email",
            "Contact title",
            "Payment terms",
        ],
        [
            "Clinique Sainte-Thérèse",
            "Private clinic",
            "3 rue de l'Église",
            "91000",
            "Évry",
            "FR",
            "85",
            "6",
            "1,234.50",
            "www.ste-therese.fr",
            "Noël",
            "Bérard",
            "noel.berard@example.fr",
            "Directeur – achats",
            "45",
        ],
        [
            "CHU de Besançon",
            "University hospital",
            "",
            "25000",
            "Besançon",
            "",
            "1 200",
            "",
            "€ 2500",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    content = _csv(rows, delimiter=",", encoding="cp1252")
    analysis = imports.analyse_file(db, manager, content)
    assert (analysis.encoding, analysis.delimiter) == ("cp1252", ",")
    assert None not in analysis.mapping
    report = imports.run_import(db, manager, content)
    assert (report.created, report.rejected) == (2, 0)
    clinic = db.exec(select(Institution).where(Institution.name == "Clinique Sainte-Thérèse")).one()
    assert (clinic.type, clinic.city, clinic.street) == (InstitutionType.PRIVATE_CLINIC, "Évry", "3 rue de l'Église")
    assert (clinic.annual_revenue, clinic.website) == (Decimal("1234.50"), "https://www.ste-therese.fr")
    assert clinic.payment_terms_days == 45
    [contact] = db.exec(select(Contact).where(Contact.institution_id == clinic.id)).all()
    assert (contact.first_name, contact.last_name, contact.title) == ("Noël", "Bérard", "Directeur – achats")
    chu = db.exec(select(Institution).where(Institution.name == "CHU de Besançon")).one()
    assert (chu.type, chu.country, chu.annual_revenue) == (InstitutionType.UNIVERSITY_HOSPITAL, "FR", Decimal("2500"))
    assert db.get(MedicalProfile, chu.id).bed_capacity == 1200  # type: ignore[union-attr]
    assert db.exec(select(Contact).where(Contact.institution_id == chu.id)).all() == []


def test_merge_fills_empty_fields_and_adds_new_contacts_only(db: Session, manager: Actor) -> None:
    existing = institutions.create_institution(
        db, manager, {"name": "Clinique des Alpes", "finess": "380000016", "postal_code": "38000", "city": "Grenoble"}
    )
    contacts.create_contact(
        db,
        manager,
        existing.id,
        {"first_name": "Alice", "last_name": "Martin", "email": "alice@alpes.fr", "is_primary": True},
    )
    version = existing.version
    header = [
        "Nom",
        "FINESS",
        "Ville",
        "Téléphone",
        "Lits",
        "Spécialités",
        "Prénom contact",
        "Nom contact",
        "Email contact",
    ]
    content = _csv(
        [
            header,
            [
                "CLINIQUE DES ALPES",
                "380000016",
                "Échirolles",
                "04 76 00 00 00",
                "150",
                "cardiologie",
                "Bob",
                "Durand",
                "bob@alpes.fr",
            ],
            ["Clinique des Alpes", "380000016", "", "", "", "", "Alice", "Martin", "ALICE@alpes.fr"],
        ]
    )
    preview = imports.preview_import(db, manager, content)
    assert [(r.match.institution_id, r.match.rule) for r in preview.rows if r.match] == [
        (existing.id, MatchRule.FINESS)
    ] * 2
    report = imports.run_import(db, manager, content, default_action=Action.MERGE)
    assert (report.created, report.merged, report.skipped, report.rejected) == (0, 1, 1, 0)
    db.refresh(existing)
    assert (existing.name, existing.city, existing.phone) == ("Clinique des Alpes", "Grenoble", "+33 4 76 00 00 00")
    assert existing.version == version + 1
    assert db.get(MedicalProfile, existing.id).bed_capacity == 150  # type: ignore[union-attr]
    assert institutions.get_detail(db, manager, existing.id).specialties == ["cardiologie"]
    people = {
        (c.first_name, c.email, c.is_primary)
        for c in db.exec(select(Contact).where(Contact.institution_id == existing.id)).all()
    }
    assert people == {("Alice", "alice@alpes.fr", True), ("Bob", "bob@alpes.fr", False)}
    changed = set(
        db.exec(
            select(AuditEntry.field).where(AuditEntry.entity_id == existing.id, AuditEntry.action == "update")
        ).all()
    )
    assert changed == {"phone", "bed_capacity", "specialties"}


def test_a_contact_without_email_is_matched_by_name_and_phone(db: Session, manager: Actor) -> None:
    existing = institutions.create_institution(db, manager, {"name": "Laboratoire Pasteur", "siret": "13866235567525"})
    contacts.create_contact(
        db, manager, existing.id, {"first_name": "Jean", "last_name": "Roux", "phone": "01 42 34 56 78"}
    )
    header = ["Nom", "SIRET", "Prénom contact", "Nom contact", "Téléphone contact"]
    content = _csv(
        [
            header,
            ["Laboratoire Pasteur", "13866235567525", "jean", "ROUX", "+33 1 42 34 56 78"],
            ["Laboratoire Pasteur", "13866235567525", "Jean", "Roux", "06 12 34 56 78"],
        ]
    )
    report = imports.run_import(db, manager, content, default_action=Action.MERGE)
    assert (report.merged, report.skipped) == (1, 1)
    phones = sorted(c.phone or "" for c in db.exec(select(Contact).where(Contact.institution_id == existing.id)))
    assert phones == ["+33 1 42 34 56 78", "+33 6 12 34 56 78"]


def test_create_anyway_is_offered_for_name_matches_only(db: Session, manager: Actor) -> None:
    institutions.create_institution(
        db, manager, {"name": "Clinique du Parc", "postal_code": "45000", "city": "Orléans", "accounting_number": "C-1"}
    )
    header = ["Nom", "Code postal", "Ville", "N° compte"]
    content = _csv([header, ["Clinique du parc", "45000", "Orléans", ""], ["Autre nom", "", "", "C-1"]])
    preview = imports.preview_import(db, manager, content)
    assert [(row.line, row.match.rule) for row in preview.rows if row.match] == [
        (2, MatchRule.NAME_POSTAL_CODE),
        (3, MatchRule.ACCOUNTING_NUMBER),
    ]
    with pytest.raises(ValidationFailed):
        imports.run_import(db, manager, content, overrides={3: Action.CREATE})
    # "create" as the default applies where it can; the accounting number match is skipped.
    report = imports.run_import(db, manager, content, default_action=Action.CREATE)
    assert (report.created, report.skipped) == (1, 1)
    assert _count(db, Institution) == 2
    created = db.get(Institution, report.created_ids[0])
    assert created is not None and created.data_source == DataSource.IMPORT


def test_per_row_choice_overrides_the_default(db: Session, manager: Actor) -> None:
    institutions.create_institution(db, manager, {"name": "Clinique du Parc", "postal_code": "45000"})
    content = _csv(
        [
            ["Nom", "Code postal", "Téléphone"],
            ["Clinique du Parc", "45000", "02 38 00 00 00"],
            ["CLINIQUE DU PARC", "45000", ""],
        ]
    )
    report = imports.run_import(db, manager, content, default_action=Action.SKIP, overrides={2: Action.MERGE})
    assert (report.created, report.merged, report.skipped) == (0, 1, 1)


def test_a_duplicate_the_manager_may_not_edit_is_skipped_instead_of_merged(db: Session, manager: Actor) -> None:
    other_team_rep = make_user(db, role=Role.USER, team=make_team(db))
    owned = institutions.create_institution(
        db, actor_of(other_team_rep), {"name": "Clinique Bleue", "finess": "750000010"}
    )
    owned.assigned_user_id, owned.team_id = other_team_rep.id, other_team_rep.team_id
    db.flush()
    content = _csv([["Nom", "FINESS", "Téléphone"], ["Clinique Bleue", "750000010", "01 42 34 56 78"]])
    [row] = imports.preview_import(db, manager, content).rows
    assert row.match is not None and not row.match.can_merge
    report = imports.run_import(db, manager, content, default_action=Action.MERGE)
    assert (report.merged, report.skipped) == (0, 1)
    with pytest.raises(ValidationFailed):
        imports.run_import(db, manager, content, overrides={2: Action.MERGE})


def test_rows_with_more_cells_than_the_header_are_rejected(db: Session, manager: Actor) -> None:
    content = _csv([["Nom", "Ville"], ["Clinique A", "Lyon", "extra"], ["Clinique B", "Lyon", ""]])
    report = imports.run_import(db, manager, content)
    assert report.created == 1
    assert [(row.line, row.errors) for row in report.rejected_rows] == [
        (2, {"row": "This row has more cells than the header."})
    ]


# --------------------------------------------------------------------------------------------
# Rejected rows file


def test_rejected_rows_file_has_the_reasons_and_neutralised_formulas(db: Session, manager: Actor) -> None:
    header = ["Nom", "SIRET", "Ville", "Région", "Lits", "Prénom contact"]
    content = _csv(
        [
            header,
            ['=HYPERLINK("http://evil")', "12345678901234", "+Lyon", "-1", "@SUM(A1)", "Jean"],
            ["Clinique valide", "", "Lyon", "", "", ""],
        ]
    )
    report = imports.run_import(db, manager, content)
    assert (report.created, report.rejected) == (1, 1)
    data = imports.rejected_rows_csv(report, locale="fr")
    assert data.startswith("\ufeff".encode())
    rows = _rejected(data)
    with use_locale("fr"):
        assert rows[0] == [*header, gettext("Reason")]
    expected = [
        "Ligne 2, « SIRET » : la valeur « 12345678901234 » est refusée. "
        "Ce numéro SIRET n'est pas valide (clé de contrôle).",
        "Ligne 2, « Lits » : la valeur « @SUM(A1) » est refusée. Saisissez un nombre entier.",
        "Ligne 2, « Nom du contact » : Ce champ est obligatoire.",  # the field has no column in this file
    ]
    assert rows[1][:5] == ['\'=HYPERLINK("http://evil")', "12345678901234", "'+Lyon", "'-1", "'@SUM(A1)"]
    assert rows[1][5] == "Jean"
    assert sorted(rows[1][6].split("; ")) == sorted(expected)
    assert len(rows) == 2


def test_rejected_rows_file_keeps_the_separator_of_the_original(db: Session, manager: Actor) -> None:
    content = _csv([["Name", "Beds"], ["", "3"]], delimiter=",")
    report = imports.run_import(db, manager, content)
    data = imports.rejected_rows_csv(report, locale="en").decode("utf-8-sig")
    reason = '"Line 2, ""Name"": the cell is empty. This field is required."'
    assert data.splitlines() == ["Name,Beds,Reason", f",3,{reason}"]


# --------------------------------------------------------------------------------------------
# Rights


def test_a_sales_rep_may_not_import(db: Session, sample: bytes) -> None:
    rep = actor_of(make_user(db, role=Role.USER))
    for attempt in (
        lambda: imports.analyse_file(db, rep, sample),
        lambda: imports.preview_import(db, rep, sample),
        lambda: imports.run_import(db, rep, sample),
    ):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert refused.value.action == "institution.import"
    assert _count(db, Institution) == 0
