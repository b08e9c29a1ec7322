"""Fill a PostgreSQL database with a realistic French CRM: institutions, profiles, labels, contacts.

    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench \
        --institutions 100000 --contacts 300000 [--seed 42] [--replace]

Creates the database when needed and runs the migrations; creates teams and ~60 users through
the services (with a known super administrator, printed at the end), then bulk-loads the
institution tables with COPY. The derived columns (name_key, city_key, match_key, search_text and
the copies of the profile figures) are computed with the application's own functions, and a sample
is checked against the services afterwards, so the benchmark measures the data the application would have written.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

import psycopg
from france import (
    CERTIFICATIONS,
    CITIES,
    CONTACT_DEPARTMENTS,
    CONTACT_TITLES,
    DEPARTMENTS,
    EQUIPMENT,
    FIRST_NAMES,
    GROUPS,
    LAST_NAMES,
    NOTABLES,
    PHONE_ZONES,
    PLACES,
    QUARTERS,
    SAINTS,
    SPECIALTIES,
    STREET_NAMES,
    TAG_WEIGHTS,
    TAGS,
    TEAM_REGIONS,
    City,
)
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BENCH_EMAIL = "bench@opex-crm.bench"
BENCH_PASSWORD = "Mesure-Perf-2026"  # printed on purpose: a throwaway benchmark database
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench"
TABLES = ("institutions", "institution_medical_profiles", "institution_labels", "contacts")

# Shares of the types among institutions (France has ~21,000 pharmacies and ~4,000 laboratory
# sites for ~3,000 hospitals and clinics; a medical-device CRM holds fewer pharmacies than that).
TYPE_WEIGHTS: dict[str, float] = {
    "pharmacy": 30,
    "private_clinic": 18,
    "laboratory": 15,
    "medical_center": 14,
    "specialty_clinic": 8,
    "hospital": 7,
    "other": 7.4,
    "university_hospital": 0.6,
}
# Mean contacts per institution by type, scaled afterwards to the requested total.
CONTACTS_PER_TYPE: dict[str, float] = {
    "university_hospital": 12,
    "hospital": 7,
    "private_clinic": 4,
    "specialty_clinic": 3,
    "medical_center": 2.5,
    "laboratory": 2,
    "pharmacy": 1.5,
    "other": 2,
}
# Range of (beds, surgical rooms, endoscopy rooms, staff) by type; None: the field does not apply.
Span = tuple[int, int] | None
PROFILE_SPANS: dict[str, tuple[Span, Span, Span, Span]] = {
    "university_hospital": ((800, 3000), (20, 80), (5, 20), (3000, 15000)),
    "hospital": ((80, 1200), (4, 30), (1, 8), (300, 4000)),
    "private_clinic": ((40, 400), (3, 20), (1, 6), (80, 900)),
    "specialty_clinic": ((10, 200), (1, 12), (0, 4), (30, 400)),
    "medical_center": ((0, 0), (0, 2), (0, 1), (5, 60)),
    "laboratory": (None, None, None, (4, 120)),
    "pharmacy": (None, None, None, (2, 25)),
    "other": ((0, 120), (0, 2), None, (10, 150)),
}
SPECIALTY_COUNTS: dict[str, tuple[int, int]] = {
    "university_hospital": (6, 12),
    "hospital": (3, 8),
    "private_clinic": (2, 6),
    "specialty_clinic": (1, 2),
    "medical_center": (1, 4),
    "laboratory": (1, 2),
    "pharmacy": (0, 0),
    "other": (0, 2),
}
COMPLIANCE = ("compliant", "pending_review", "non_compliant", "expired", None)
COMPLIANCE_WEIGHTS = (55, 20, 8, 7, 10)
STATUSES = ("prospect", "client", "former_client")
SOURCES = ("import", "manual", "api")
OVERSEAS_MOBILES = {"+262": "692", "+596": "696", "+590": "690", "+594": "694"}
TEAM_SIZES = {"Île-de-France": 13, "Sud-Est": 11, "Nord-Est": 9, "Grand Ouest": 9, "Sud-Ouest": 9, "Outre-mer": 4}

INSTITUTION_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
    "name",
    "type",
    "finess",
    "siret",
    "accounting_number",
    "group_name",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "phone",
    "website",
    "commercial_status",
    "assigned_user_id",
    "team_id",
    "data_source",
    "annual_revenue",
    "is_archived",
    "name_key",
    "city_key",
    "match_key",
    "search_text",
    "profile_beds",
    "profile_rooms",
    "profile_compliance",
)
PROFILE_COLUMNS = (
    "institution_id",
    "bed_capacity",
    "surgical_rooms",
    "endoscopy_rooms",
    "staff_count",
    "departments",
    "equipment_types",
    "certifications",
    "compliance_status",
    "audit_date",
    "compliance_expiry",
)
LABEL_COLUMNS = ("institution_id", "kind", "value")
CONTACT_COLUMNS = (
    "id",
    "institution_id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
    "first_name",
    "last_name",
    "title",
    "department",
    "email",
    "phone",
    "mobile",
    "is_primary",
    "is_archived",
    "email_opt_out",
    "name_key",
    "search_text",
)

_COPIED = tuple(PROFILE_COLUMNS.index(name) for name in ("bed_capacity", "surgical_rooms", "compliance_status"))
_FIRST, _LAST, _ARCHIVED = (CONTACT_COLUMNS.index(name) for name in ("first_name", "last_name", "is_archived"))
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def psycopg_url(url: str) -> str:
    """A libpq URI from a SQLAlchemy-style URL (postgresql+psycopg://...)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def configure_environment(url: str) -> None:
    """The application's settings for an in-process use (before crm_app is imported)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    os.environ["APP_ENV"] = "development"
    os.environ["SCHEDULER_ENABLED"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Development secrets land under DATA_DIR: keep them out of the working tree.
    data_dir = tempfile.mkdtemp(prefix="opex-bench-")
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ["DATA_DIR"] = data_dir
    from crm_app.platform.config import reset_settings

    reset_settings()


def slug(text: str) -> str:
    from crm_app.platform.text import fold

    return _NOT_SLUG.sub("-", fold(text)).strip("-")


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check (SIRET)."""
    from stdnum import luhn

    return str(luhn.calc_check_digit(body))


# --------------------------------------------------------------------------------------------
# Database, migrations, users


def prepare_database(url: str, *, replace: bool) -> None:
    """Create the database (dropped first with --replace) and bring its schema to the head revision."""
    conninfo = psycopg_url(url)
    name = conninfo_to_dict(conninfo).get("dbname")
    if not name:
        sys.exit("the database URL names no database")
    with psycopg.connect(make_conninfo(conninfo, dbname="postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if exists and replace:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(str(name))))
            exists = False
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
            print(f"created database {name}")
    from crm_app import bootstrap
    from crm_app.operations import migrate

    bootstrap.wire()  # the settings sections: the migrations build the dashboard's totals in the organisation's zone
    migrate.upgrade()
    with psycopg.connect(conninfo) as connection:
        holds_data = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM institutions) OR EXISTS (SELECT 1 FROM users)"
        ).fetchone()
    if holds_data and holds_data[0]:
        sys.exit(f"the database {name} already holds data: pass --replace to drop and recreate it")


@dataclass
class Staff:
    """The users institutions are assigned to, per team."""

    admin_id: uuid.UUID
    team_ids: dict[str, uuid.UUID]
    sellers: dict[str, list[uuid.UUID]]
    seller_weights: dict[str, list[float]]
    key_accounts: list[uuid.UUID]  # national key-account managers, in no team
    managers: dict[str, uuid.UUID]
    count: int


def create_staff(rng: random.Random) -> Staff:
    """Teams and about 60 users, created through the services like an administrator would."""
    from crm_app.accounts import teams, users
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.people import Role
    from crm_app.platform.permissions import SYSTEM_ACTOR

    used: set[str] = set()

    def person() -> tuple[str, str]:
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{slug(first)}.{slug(last)}@opex-crm.bench"
            if email not in used:
                used.add(email)
                return f"{first} {last}", email

    with unit_of_work() as session:

        def add(full_name: str, email: str, role: Role, team_id: uuid.UUID | None = None) -> uuid.UUID:
            return users.create_user(
                session,
                SYSTEM_ACTOR,
                email=email,
                full_name=full_name,
                role=role,
                password=BENCH_PASSWORD,
                team_id=team_id,
            ).id

        admin_id = add("Bench Admin", BENCH_EMAIL, Role.SUPER_ADMIN)
        count = 1
        for _ in range(2):
            add(*person(), Role.ADMIN)
            count += 1
        key_accounts = [add(*person(), Role.MANAGER) for _ in range(2)]
        count += len(key_accounts)
        team_ids: dict[str, uuid.UUID] = {}
        sellers: dict[str, list[uuid.UUID]] = {}
        managers: dict[str, uuid.UUID] = {}
        for name, size in TEAM_SIZES.items():
            team_id = teams.create_team(session, SYSTEM_ACTOR, name).id
            team_ids[name] = team_id
            add(*person(), Role.TEAM_ADMIN, team_id)
            managers[name] = add(*person(), Role.MANAGER, team_id)
            reps = [add(*person(), Role.USER, team_id) for _ in range(size - 2)]
            sellers[name] = [managers[name], *reps]
            count += size
    weights = {name: [rng.lognormvariate(0, 0.5) for _ in ids] for name, ids in sellers.items()}
    return Staff(admin_id, team_ids, sellers, weights, key_accounts, managers, count)


# --------------------------------------------------------------------------------------------
# Rows


@dataclass
class Built:
    institution: tuple[Any, ...]
    profile: tuple[Any, ...]
    labels: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)


class Factory:
    """Builds one institution with its profile, labels and contacts at a time (deterministic per seed)."""

    def __init__(
        self, rng: random.Random, staff: Staff, types: Sequence[str], contact_counts: Sequence[int], *, now: datetime
    ) -> None:
        from crm_app.institutions.duplicates import match_key
        from crm_app.platform.text import fold

        self.fold, self.match_key = fold, match_key
        self.rng, self.staff, self.types, self.contact_counts, self.now = rng, staff, types, contact_counts, now
        count = len(types)
        # Unique identifiers drawn without replacement: FINESS 7 digits after the département,
        # SIRET 13 digits before the Luhn key, accounting numbers "411" + 6 digits (client accounts).
        self.finess = iter(rng.sample(range(10**7), count))
        self.siret = iter(rng.sample(range(10**12, 10**13), count))
        self.accounting = iter(rng.sample(range(10**6), count))
        self.cities = CITIES
        self.city_weights = list(accumulate(c.population for c in CITIES))
        self.chu_cities = [c for c in CITIES if c.has_chu]
        self.chu_weights = list(accumulate(c.population for c in self.chu_cities))
        self.team_of_region = {region: team for team, regions in TEAM_REGIONS.items() for region in regions}
        self.seller_cum = {team: list(accumulate(w)) for team, w in staff.seller_weights.items()}
        self.tag_cum = list(accumulate(TAG_WEIGHTS))
        self.compliance_cum = list(accumulate(COMPLIANCE_WEIGHTS))

    # -- small draws

    def _pick(self, choices: Sequence[Any], cum: Sequence[float]) -> Any:
        return self.rng.choices(choices, cum_weights=cum)[0]

    def _span(self, span: Span) -> int | None:
        return None if span is None else self.rng.randint(*span)

    def _phone(self, region: str, *, mobile: bool = False) -> str:
        """A number as the application stores it (international format, valid for libphonenumber: the
        first pairs avoid the ranges that are reserved or belong to the overseas departments)."""
        r = self.rng
        zone = PHONE_ZONES[region]
        tail = f"{r.randint(0, 99):02d} {r.randint(0, 99):02d}"
        if not zone.startswith("+33"):  # overseas: "+262 262 ..." fixed, "+262 692 ..." mobile
            code = zone.split()[0]
            lead = f"{code} {OVERSEAS_MOBILES[code]} {r.randint(10, 38)}" if mobile else f"{zone} {r.randint(30, 49)}"
            return f"{lead} {tail}"
        if mobile:
            lead = f"+33 6 {r.randint(40, 89)}" if r.random() < 0.7 else f"+33 7 {r.randint(50, 89)}"
        else:
            lead = f"{zone} {r.randint(20, 59)}"
        return f"{lead} {r.randint(0, 99):02d} {tail}"

    def _when(self, after: datetime) -> datetime:
        span = (self.now - after).total_seconds()
        return after + timedelta(seconds=self.rng.uniform(0, span))

    # -- institution

    def _name(self, kind: str, city: City) -> str:
        r, c = self.rng, city.name
        saint, notable, place = r.choice(SAINTS), r.choice(NOTABLES), r.choice(PLACES)
        quarter, surname = r.choice(QUARTERS), r.choice(LAST_NAMES)
        if kind == "university_hospital":
            return r.choice(
                (
                    f"CHU de {c}",
                    f"Centre Hospitalier Universitaire de {c}",
                    f"Hôpital {notable} - CHU de {c}",
                    f"Hôpital {saint} - CHU de {c}",
                    f"CHU de {c} - Site {quarter}",
                )
            )
        if kind == "hospital":
            return r.choice(
                (
                    f"Centre Hospitalier de {c}",
                    f"Hôpital {saint} de {c}",
                    f"Centre Hospitalier {notable}",
                    f"Hôpital {notable} {c}",
                    f"Centre Hospitalier Intercommunal {c} {quarter}",
                    f"Hôpital Local {place}",
                )
            )
        if kind == "private_clinic":
            return r.choice(
                (
                    f"Clinique {saint}",
                    f"Clinique {saint} {c}",
                    f"Polyclinique {saint} {c}",
                    f"Clinique {place} {c}",
                    f"Polyclinique {place}",
                    f"Hôpital Privé {saint} {c}",
                    f"Hôpital Privé {notable}",
                    f"Clinique {notable} {c}",
                )
            )
        if kind == "specialty_clinic":
            return r.choice(
                (
                    f"Institut de Cancérologie {c}",
                    f"Clinique Ophtalmologique {saint}",
                    f"Centre de Rééducation {saint} {c}",
                    f"Clinique de la Main {c}",
                    f"Centre de Dialyse {c} {quarter}",
                    f"Clinique Psychiatrique {place}",
                    f"Institut du Cœur {c}",
                    f"Clinique du Sport {c} {quarter}",
                )
            )
        if kind == "medical_center":
            return r.choice(
                (
                    f"Centre Médical {saint}",
                    f"Centre Médical {place} {c}",
                    f"Maison de Santé {c} {quarter}",
                    f"Centre de Santé {notable}",
                    f"Maison Médicale {place}",
                    f"Centre Médical {surname}",
                )
            )
        if kind == "laboratory":
            return r.choice(
                (
                    f"Laboratoire {surname} {c}",
                    f"Laboratoire d'Analyses Médicales {saint}",
                    f"Laboratoire de Biologie Médicale {c} {quarter}",
                    f"Labo {place} {c}",
                    f"Laboratoire {notable}",
                )
            )
        if kind == "pharmacy":
            return r.choice(
                (
                    f"Pharmacie {saint}",
                    f"Pharmacie {place}",
                    f"Pharmacie de la Mairie {c}",
                    f"Grande Pharmacie de {c}",
                    f"Pharmacie {surname}",
                    f"Pharmacie {notable}",
                    f"Pharmacie du Marché {c} {quarter}",
                    f"Pharmacie {surname}-{r.choice(LAST_NAMES)}",
                )
            )
        return r.choice(
            (
                f"EHPAD {saint}",
                f"EHPAD {place} {c}",
                f"Centre de Radiologie {c} {quarter}",
                f"Cabinet d'Imagerie {saint}",
                f"SSR {saint}",
                f"Centre de Dialyse {surname}",
                f"HAD {c}",
            )
        )

    def _group(self, kind: str, city: City) -> str | None:
        share = {
            "private_clinic": 0.45,
            "laboratory": 0.6,
            "pharmacy": 0.35,
            "hospital": 0.5,
            "university_hospital": 0.7,
            "specialty_clinic": 0.3,
            "medical_center": 0.1,
            "other": 0.4,
        }[kind]
        if self.rng.random() >= share:
            return None
        if kind == "university_hospital":
            special = {"Paris": "AP-HP", "Lyon": "Hospices Civils de Lyon", "Marseille": "AP-HM"}
            return special.get(city.name, f"GHT {city.region}")
        return self.rng.choice(GROUPS[kind]).format(region=city.region, city=city.name)

    def _placement(self, kind: str, region: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """(assigned user, team): ~80% assigned, a few to a team only, the rest unassigned."""
        r, staff = self.rng, self.staff
        if kind in ("university_hospital", "hospital") and r.random() < 0.25:
            return r.choice(staff.key_accounts), None
        team = self.team_of_region[region]
        draw = r.random()
        if draw < 0.77:
            return self._pick(staff.sellers[team], self.seller_cum[team]), staff.team_ids[team]
        if draw < 0.82:
            return None, staff.team_ids[team]
        return None, None

    def build(self, index: int) -> Built:
        r, fold = self.rng, self.fold
        kind = self.types[index]
        city = (
            self._pick(self.chu_cities, self.chu_weights)
            if kind == "university_hospital"
            else self._pick(self.cities, self.city_weights)
        )
        postal_code = r.choice(city.postal_codes)
        name = self._name(kind, city)
        institution_id = uuid.UUID(int=r.getrandbits(128), version=4)
        finess = (
            f"{city.department}{next(self.finess):07d}" if r.random() < (0.6 if kind == "other" else 0.92) else None
        )
        siret = None
        body = next(self.siret)
        if r.random() < 0.9 and not str(body).startswith("356000000"):  # La Poste uses another check
            siret = f"{body}{luhn_check_digit(str(body))}"
        status = r.choices(STATUSES, weights=(45, 45, 10) if kind == "university_hospital" else (60, 30, 10))[0]
        accounting = next(self.accounting)
        accounting_number = f"411{accounting:06d}" if status != "prospect" or r.random() < 0.5 else None
        assigned, team = self._placement(kind, city.region)
        source = r.choices(SOURCES, weights=(70, 25, 5))[0]
        created_by = assigned if source == "manual" and assigned else self.staff.admin_id
        created_at = self.now - timedelta(days=r.uniform(0, 3 * 365))
        updated_at = self._when(created_at) if r.random() < 0.6 else created_at
        version = 1 if updated_at == created_at else r.randint(2, 6)
        revenue_scale = {
            "university_hospital": 2_000_000,
            "hospital": 600_000,
            "private_clinic": 250_000,
            "specialty_clinic": 120_000,
            "laboratory": 60_000,
            "medical_center": 30_000,
            "pharmacy": 15_000,
            "other": 40_000,
        }[kind]
        revenue = (
            Decimal(round(r.uniform(0.05, 1) * revenue_scale, 2)).quantize(Decimal("0.01"))
            if status != "prospect"
            else None
        )
        group_name = self._group(kind, city)
        street = f"{r.randint(1, 250)} {r.choice(STREET_NAMES)}" if r.random() < 0.95 else None
        phone = self._phone(city.region) if r.random() < 0.9 else None
        website = f"https://www.{slug(name)[:40]}.fr" if r.random() < (0.15 if kind == "pharmacy" else 0.5) else None
        archived = r.random() < 0.02

        contacts = self._contacts(
            institution_id, name, city, count=self.contact_counts[index], created_at=created_at, owner=assigned
        )
        live_names = [f"{row[_FIRST] or ''} {row[_LAST]}" for row in contacts if not row[_ARCHIVED]]
        parts = [name, city.name, postal_code, finess, siret, accounting_number, group_name, *live_names]
        profile = self._profile(institution_id, kind)
        institution = (
            institution_id,
            created_at,
            updated_at,
            created_by,
            assigned or created_by,
            version,
            name,
            kind,
            finess,
            siret,
            accounting_number,
            group_name,
            street,
            postal_code,
            city.name,
            city.region,
            "FR",
            phone,
            website,
            status,
            assigned,
            team,
            source,
            revenue,
            archived,
            fold(name)[:200],
            fold(city.name)[:120],
            self.match_key(name)[:200],
            fold(" | ".join(p for p in parts if p)),
            *(profile[index] for index in _COPIED),
        )
        return Built(institution, profile, self._labels(institution_id, kind), contacts)

    def _profile(self, institution_id: uuid.UUID, kind: str) -> tuple[Any, ...]:
        r = self.rng
        beds, rooms, endoscopy, staff = (self._span(s) for s in PROFILE_SPANS[kind])
        if r.random() < 0.1:  # unknown capacity: not everybody fills the profile in
            beds = rooms = endoscopy = None
        big = kind in ("university_hospital", "hospital", "private_clinic")
        departments = r.sample(DEPARTMENTS, r.randint(3, 8) if big else r.randint(0, 2))
        equipment = r.sample(EQUIPMENT, r.randint(0, 5))
        if kind == "laboratory":
            certifications = ["ISO 15189", "COFRAC"]
        else:
            certifications = r.sample(CERTIFICATIONS, r.randint(1, 2) if big else r.randint(0, 1))
        compliance = self._pick(COMPLIANCE, self.compliance_cum)
        audit_date = expiry = None
        if compliance is not None:
            audit_date = (self.now - timedelta(days=r.randint(30, 4 * 365))).date()
            expiry = audit_date + timedelta(days=3 * 365)
            if compliance == "expired":
                expiry = min(expiry, self.now.date() - timedelta(days=r.randint(1, 300)))
        return (
            institution_id,
            beds,
            rooms,
            endoscopy,
            staff,
            json.dumps(departments, ensure_ascii=False),
            json.dumps(equipment, ensure_ascii=False),
            json.dumps(certifications, ensure_ascii=False),
            compliance,
            audit_date,
            expiry,
        )

    def _labels(self, institution_id: uuid.UUID, kind: str) -> list[tuple[Any, ...]]:
        r = self.rng
        tags: set[str] = set()
        wanted = r.choices((0, 1, 2, 3), weights=(40, 35, 18, 7))[0]
        while len(tags) < wanted:
            tags.add(self._pick(TAGS, self.tag_cum))
        low, high = SPECIALTY_COUNTS[kind]
        if kind == "laboratory":
            specialties = ["biologie médicale", *(["hématologie"] if r.random() < 0.3 else [])]
        elif kind == "other":
            specialties = r.sample(("gériatrie", "rééducation", "radiologie", "néphrologie"), r.randint(low, high))
        else:
            specialties = r.sample(SPECIALTIES[:23], r.randint(low, high))
        return [(institution_id, "tag", t) for t in sorted(tags)] + [
            (institution_id, "specialty", s) for s in specialties
        ]

    def _contacts(
        self,
        institution_id: uuid.UUID,
        name: str,
        city: City,
        *,
        count: int,
        created_at: datetime,
        owner: uuid.UUID | None,
    ) -> list[tuple[Any, ...]]:
        r, fold = self.rng, self.fold
        domain = slug(name)
        if slug(city.name) not in domain:
            domain = f"{domain}-{slug(city.name)}"
        domain = domain[:40].strip("-") + ".fr"
        used: set[str] = set()
        rows = []
        for position in range(count):
            first = r.choice(FIRST_NAMES) if r.random() < 0.97 else None
            last = r.choice(LAST_NAMES)
            title = r.choice(CONTACT_TITLES) if r.random() < 0.85 else None
            email = None
            if r.random() < 0.92:
                local = f"{slug(first)}.{slug(last)}" if first else slug(last)
                while local in used:
                    local = f"{local}{r.randint(1, 9)}"
                used.add(local)
                email = f"{local}@{domain}"
            archived = position > 0 and r.random() < 0.03
            created = self._when(created_at)
            updated = self._when(created) if r.random() < 0.3 else created
            author = owner or self.staff.admin_id
            rows.append(
                (
                    uuid.UUID(int=r.getrandbits(128), version=4),
                    institution_id,
                    created,
                    updated,
                    author,
                    author,
                    1 if updated == created else r.randint(2, 4),
                    first,
                    last,
                    title,
                    r.choice(CONTACT_DEPARTMENTS) if r.random() < 0.6 else None,
                    email,
                    self._phone(city.region) if r.random() < 0.6 else None,
                    self._phone(city.region, mobile=True) if r.random() < 0.4 else None,
                    position == 0,
                    archived,
                    r.random() < 0.04,
                    fold(f"{last} {first or ''}")[:200],
                    fold(" | ".join(p for p in (first, last, email, title) if p)),
                )
            )
        return rows


def plan(rng: random.Random, institutions: int, contacts: int) -> tuple[list[str], list[int]]:
    """Every institution's type, and contact counts that add up to exactly `contacts`."""
    kinds = list(TYPE_WEIGHTS)
    types = rng.choices(kinds, weights=list(TYPE_WEIGHTS.values()), k=institutions)
    expected = sum(CONTACTS_PER_TYPE[t] for t in types) or 1
    scale = contacts / expected
    counts = [max(0, round(CONTACTS_PER_TYPE[t] * scale * rng.uniform(0.4, 1.6))) for t in types]
    difference = contacts - sum(counts)
    while difference and institutions:
        index = rng.randrange(institutions)
        if difference > 0:
            counts[index] += 1
            difference -= 1
        elif counts[index] > 1:
            counts[index] -= 1
            difference += 1
    return types, counts


# --------------------------------------------------------------------------------------------
# Loading


def copy_rows(
    connection: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    written = 0
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def drop_secondary_indexes(connection: psycopg.Connection[Any]) -> list[str]:
    """Drop the indexes that no constraint needs (rebuilt after the load, much faster than kept up
    to date row by row); returns their definitions."""
    rows = connection.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = t.oid)
        ORDER BY 1""",
        (list(TABLES),),
    ).fetchall()
    for name, _definition in rows:
        connection.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return [definition for _name, definition in rows]


@dataclass
class LoadReport:
    rows: dict[str, int]
    load_seconds: float
    index_seconds: float


def load(url: str, factory: Factory, count: int, *, chunk: int = 5000) -> LoadReport:
    """COPY everything in one transaction (a failure leaves the tables empty)."""
    rows = dict.fromkeys(TABLES, 0)
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(url)) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        definitions = drop_secondary_indexes(connection)
        for start in range(0, count, chunk):
            batch = [factory.build(i) for i in range(start, min(count, start + chunk))]
            rows["institutions"] += copy_rows(
                connection, "institutions", INSTITUTION_COLUMNS, (b.institution for b in batch)
            )
            rows["institution_medical_profiles"] += copy_rows(
                connection, "institution_medical_profiles", PROFILE_COLUMNS, (b.profile for b in batch)
            )
            rows["institution_labels"] += copy_rows(
                connection, "institution_labels", LABEL_COLUMNS, (row for b in batch for row in b.labels)
            )
            rows["contacts"] += copy_rows(
                connection, "contacts", CONTACT_COLUMNS, (row for b in batch for row in b.contacts)
            )
            done = min(count, start + chunk)
            elapsed = time.perf_counter() - started
            print(
                f"\r  {done:>9,} institutions  {sum(rows.values()):>10,} rows  "
                f"{sum(rows.values()) / elapsed:>9,.0f} rows/s",
                end="",
                flush=True,
            )
        print()
        loaded = time.perf_counter()
        for definition in definitions:
            connection.execute(definition)
    return LoadReport(rows, loaded - started, time.perf_counter() - loaded)


VACUUMED_TABLES = (
    *TABLES,
    "users",
    "teams",
    "auth_sessions",
    "refresh_tokens",
    "login_attempts",
    "audit_entries",
    "security_events",
    "institution_search",
    "institution_label_order",
)


def vacuum_analyze(url: str) -> float:
    """Statistics for the planner and a fresh visibility map (index-only scans), as autovacuum would
    leave them on a live database (and it may be off on a test server)."""
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        # The nightly `search_order` job keeps the search table in name order; do it once here.
        connection.execute("CLUSTER institution_search USING ix_institution_search_order")
        for table in VACUUMED_TABLES:
            connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Checks against the application


def _comparable(column: str, value: str) -> Any:
    """search_text lists the contacts in whatever order PostgreSQL returns them (refresh_derived does
    not sort them, and COPY may place a row in an earlier page's free space): compare as a multiset."""
    return sorted(value.split(" | ")) if column == "search_text" else value


def verify(sample: int, seed: int) -> str:
    """Recompute the derived columns of a sample with the services and compare (nothing is saved)."""
    from sqlmodel import col, select

    from crm_app.institutions import contacts as contact_service
    from crm_app.institutions.models import Contact, Institution
    from crm_app.institutions.service import refresh_derived
    from crm_app.platform import identifiers
    from crm_app.platform.db import unit_of_work

    derived = (
        "name_key",
        "city_key",
        "match_key",
        "search_text",
        "profile_beds",
        "profile_rooms",
        "profile_compliance",
    )
    problems: list[str] = []
    checked_contacts = 0
    with unit_of_work() as session:
        ids = session.exec(select(Institution.id).order_by(col(Institution.id))).all()
        for institution_id in random.Random(seed).sample(list(ids), min(sample, len(ids))):
            institution = session.get(Institution, institution_id)
            assert institution is not None
            before = {name: getattr(institution, name) for name in derived}
            refresh_derived(session, institution)
            problems += [
                f"institution {institution_id} {name}: {before[name]!r} != {getattr(institution, name)!r}"
                for name in derived
                if _comparable(name, getattr(institution, name)) != _comparable(name, before[name])
            ]
            if institution.finess and identifiers.clean_finess(institution.finess) != institution.finess:
                problems.append(f"FINESS {institution.finess}")
            if institution.siret:
                identifiers.clean_siret(institution.siret)
            if institution.phone and identifiers.clean_phone(institution.phone) != institution.phone:
                problems.append(f"phone {institution.phone}")
            for contact in session.exec(select(Contact).where(Contact.institution_id == institution_id)).all():
                stored = (contact.name_key, contact.search_text)
                contact_service._refresh_keys(contact)
                if (contact.name_key, contact.search_text) != stored:
                    problems.append(f"contact {contact.id}: keys differ")
                for phone in (contact.phone, contact.mobile):
                    if phone and identifiers.clean_phone(phone) != phone:
                        problems.append(f"phone {phone}")
                checked_contacts += 1
        session.rollback()
    if problems:
        raise SystemExit("the generated rows differ from what the services compute:\n  " + "\n  ".join(problems[:20]))
    return (
        f"checked {min(sample, len(ids))} institutions and {checked_contacts} contacts against the services: "
        "derived columns, FINESS, SIRET and phones identical"
    )


def describe(url: str) -> list[str]:
    """A few distribution figures, to see at a glance what the benchmark runs on."""
    queries = {
        "types": "SELECT type, count(*) FROM institutions GROUP BY 1 ORDER BY 2 DESC",
        "top cities": "SELECT city, count(*) FROM institutions GROUP BY 1 ORDER BY 2 DESC LIMIT 6",
        "status": "SELECT commercial_status, count(*) FROM institutions GROUP BY 1 ORDER BY 2 DESC",
        "compliance": "SELECT coalesce(compliance_status, 'none'), count(*) FROM institution_medical_profiles "
        "GROUP BY 1 ORDER BY 2 DESC",
    }
    lines = []
    with psycopg.connect(psycopg_url(url)) as connection:
        for title, query in queries.items():
            parts = ", ".join(f"{k} {v:,}" for k, v in connection.execute(query).fetchall())
            lines.append(f"  {title}: {parts}")
        row = connection.execute("""
            SELECT count(*) FILTER (WHERE assigned_user_id IS NOT NULL), count(*) FILTER (WHERE team_id IS NOT NULL
                   AND assigned_user_id IS NULL), count(*) FILTER (WHERE is_archived), count(finess), count(siret),
                   count(accounting_number), count(*) FROM institutions""").fetchone()
        assert row is not None
        total = row[6] or 1
        lines.append(
            f"  assigned to a user {row[0] / total:.0%}, to a team only {row[1] / total:.0%}, "
            f"archived {row[2] / total:.1%}; FINESS {row[3] / total:.0%}, SIRET {row[4] / total:.0%}, "
            f"accounting number {row[5] / total:.0%}"
        )
        labels = connection.execute(
            "SELECT kind, count(*), count(DISTINCT value) FROM institution_labels GROUP BY 1 ORDER BY 1"
        ).fetchall()
        lines.append("  labels: " + ", ".join(f"{k} {n:,} rows ({d} values)" for k, n, d in labels))
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--institutions", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replace", action="store_true", help="drop and recreate the database when it exists")
    parser.add_argument(
        "--verify",
        type=int,
        default=300,
        metavar="N",
        help="institutions checked against the services afterwards (0: none)",
    )
    args = parser.parse_args(argv)

    configure_environment(args.database_url)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    prepare_database(args.database_url, replace=args.replace)
    staff = create_staff(rng)
    print(
        f"schema at head; {len(staff.team_ids)} teams and {staff.count} users created "
        f"({time.perf_counter() - started:.1f} s)"
    )
    types, counts = plan(rng, args.institutions, args.contacts)
    factory = Factory(rng, staff, types, counts, now=datetime.now(UTC))
    report = load(args.database_url, factory, args.institutions)
    total = sum(report.rows.values())
    print("loaded " + ", ".join(f"{table} {n:,}" for table, n in report.rows.items()))
    print(
        f"  COPY {total:,} rows in {report.load_seconds:.1f} s = {total / report.load_seconds:,.0f} rows/s "
        f"(generation included); indexes rebuilt in {report.index_seconds:.1f} s"
    )
    if args.verify:  # before VACUUM: the check's rolled-back updates leave dead rows behind
        print(verify(args.verify, args.seed))
    print(f"  VACUUM ANALYZE in {vacuum_analyze(args.database_url):.1f} s")
    print("\n".join(describe(args.database_url)))
    print(f"done in {time.perf_counter() - started:.0f} s; log in as {BENCH_EMAIL} / {BENCH_PASSWORD}")


if __name__ == "__main__":
    main()
