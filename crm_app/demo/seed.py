"""Demo data for a first start and for trying the product (never in production)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlmodel import Session, select

from crm_app.accounts import teams as team_service
from crm_app.accounts import users
from crm_app.demo import pipeline as demo_pipeline
from crm_app.demo import sales as demo_sales
from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, InstitutionType
from crm_app.platform.identifiers import make_siret
from crm_app.platform.models.people import Role, Team, User
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.platform.text import fold

DEMO_PASSWORD = "opex-demo-2026"  # noqa: S105 - printed on purpose: demo accounts on a development machine
DEMO_ADMIN_EMAIL = "admin@opex-crm.demo"

_TEAMS = ("Île-de-France", "Grand Ouest", "Sud-Est")
_USERS = (
    (DEMO_ADMIN_EMAIL, "Camille Martin", Role.SUPER_ADMIN, None),
    ("directeur@opex-crm.demo", "Julien Bernard", Role.ADMIN, None),
    ("chef.idf@opex-crm.demo", "Sophie Laurent", Role.TEAM_ADMIN, "Île-de-France"),
    ("manager.ouest@opex-crm.demo", "Nicolas Petit", Role.MANAGER, "Grand Ouest"),
    ("commercial.idf@opex-crm.demo", "Léa Moreau", Role.USER, "Île-de-France"),
    ("commercial.ouest@opex-crm.demo", "Hugo Lefebvre", Role.USER, "Grand Ouest"),
    ("manager.sudest@opex-crm.demo", "Claire Fontaine", Role.MANAGER, "Sud-Est"),
    ("commercial.sudest@opex-crm.demo", "Thomas Roux", Role.USER, "Sud-Est"),
)


@dataclass(frozen=True)
class DemoSeed:
    created: bool
    admin_email: str = DEMO_ADMIN_EMAIL
    password: str = DEMO_PASSWORD


def seed_demo(session: Session) -> DemoSeed:
    """Create the demo teams, accounts, institutions, sales documents, opportunities and activities
    once; a second run changes nothing."""
    if session.exec(select(User.id).where(User.email == DEMO_ADMIN_EMAIL)).first() is not None:
        # a demo seeded before the sales documents, or before the pipeline, gains them
        demo_sales.seed_sales(session)
        demo_pipeline.seed_pipeline(session)
        return DemoSeed(created=False)
    teams = {}
    for name in _TEAMS:
        teams[name] = session.exec(select(Team).where(Team.name == name)).first() or team_service.create_team(
            session, SYSTEM_ACTOR, name
        )
    accounts: list[User] = []
    for email, full_name, role, team_name in _USERS:
        team_id = teams[team_name].id if team_name else None
        account = users.create_user(
            session,
            SYSTEM_ACTOR,
            email=email,
            full_name=full_name,
            role=role,
            password=None if accounts else DEMO_PASSWORD,
            team_id=team_id,
        )
        if accounts:  # one bcrypt hash of the public demo password serves every demo account
            account.password_hash = accounts[0].password_hash
        accounts.append(account)
    reps = [a for a in accounts if a.role in (Role.USER, Role.MANAGER, Role.TEAM_ADMIN)]
    _seed_institutions(session, reps, count=DEMO_INSTITUTIONS)
    demo_sales.seed_sales(session)
    demo_pipeline.seed_pipeline(session)
    return DemoSeed(created=True)


DEMO_INSTITUTIONS = 300
_CITIES = (  # city, postal code, region, weight
    ("Paris", "75013", "Île-de-France", 14),
    ("Lyon", "69003", "Auvergne-Rhône-Alpes", 7),
    ("Marseille", "13005", "Provence-Alpes-Côte d'Azur", 7),
    ("Toulouse", "31059", "Occitanie", 5),
    ("Nantes", "44093", "Pays de la Loire", 4),
    ("Bordeaux", "33076", "Nouvelle-Aquitaine", 4),
    ("Lille", "59037", "Hauts-de-France", 4),
    ("Rennes", "35033", "Bretagne", 3),
    ("Strasbourg", "67091", "Grand Est", 3),
    ("Montpellier", "34295", "Occitanie", 3),
    ("Nice", "06001", "Provence-Alpes-Côte d'Azur", 3),
    ("Grenoble", "38043", "Auvergne-Rhône-Alpes", 2),
    ("Dijon", "21079", "Bourgogne-Franche-Comté", 2),
    ("Angers", "49933", "Pays de la Loire", 2),
    ("Brest", "29609", "Bretagne", 2),
    ("Tours", "37044", "Centre-Val de Loire", 2),
    ("Rouen", "76031", "Normandie", 2),
    ("Reims", "51092", "Grand Est", 2),
    ("Caen", "14033", "Normandie", 2),
    ("Poitiers", "86021", "Nouvelle-Aquitaine", 1),
    ("Ajaccio", "20000", "Corse", 1),
)
_KINDS = (  # type, name pattern, beds range, weight
    (InstitutionType.UNIVERSITY_HOSPITAL, "CHU de {city}", (800, 2500), 1),
    (InstitutionType.HOSPITAL, "Centre hospitalier de {city}", (200, 900), 3),
    (InstitutionType.PRIVATE_CLINIC, "Clinique {saint} {city}", (40, 300), 6),
    (InstitutionType.SPECIALTY_CLINIC, "Institut {specialty} de {city}", (20, 200), 2),
    (InstitutionType.MEDICAL_CENTER, "Centre médical {saint}", (0, 30), 3),
    (InstitutionType.LABORATORY, "Laboratoire {saint} Biologie", (0, 0), 2),
    (InstitutionType.PHARMACY, "Pharmacie {saint}", (0, 0), 2),
)
_SAINTS = (
    "Saint-Louis",
    "Sainte-Anne",
    "Saint-Joseph",
    "Pasteur",
    "Saint-Martin",
    "du Parc",
    "des Cèdres",
    "Jean Mermoz",
    "Sainte-Marie",
    "Claude Bernard",
    "du Lac",
    "Bel-Air",
    "des Lilas",
    "Saint-Michel",
)
_SPECIALTIES = (
    "cardiologie",
    "oncologie",
    "orthopédie",
    "ophtalmologie",
    "radiologie",
    "anesthésie",
    "pédiatrie",
    "urologie",
    "gastro-entérologie",
    "neurologie",
)
_TAGS = ("appel d'offres", "grand compte", "UGAP", "prioritaire", "à relancer", "partenaire")
_FIRST = (
    "Marie",
    "Pierre",
    "Sophie",
    "Nicolas",
    "Isabelle",
    "Laurent",
    "Nathalie",
    "Julien",
    "Claire",
    "Thomas",
    "Hélène",
    "François",
    "Camille",
    "Antoine",
    "Élodie",
)
_LAST = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "Fournier",
    "Girard",
    "Bonnet",
)
_TITLES = (
    "Directeur des achats",
    "Ingénieur biomédical",
    "Cadre de bloc",
    "Pharmacien gérant",
    "Directrice des soins",
    "Responsable logistique",
    "Chef de service",
)


def _siret(rng: random.Random) -> str:
    """A random valid SIRET (its SIREN valid too)."""
    # 13 draws, one more than the SIRET needs: the rest of the demo keeps the same random values.
    body = "".join(str(rng.randint(0, 9)) for _ in range(13))
    return make_siret(body[:12])


def _phone(rng: random.Random) -> str:
    """A French landline in ranges that libphonenumber knows to be assigned."""
    return (
        f"0{rng.randint(1, 5)} {rng.randint(40, 59)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    )


def _seed_institutions(session: Session, reps: list[User], *, count: int) -> None:
    """A realistic French set: hospitals, clinics, labs in the big cities, with their buyers."""
    rng = random.Random(2026)  # the same demo every time
    used_names: set[str] = set()
    for index in range(count):
        city, postal_code, region, _weight = rng.choices(_CITIES, weights=[c[3] for c in _CITIES])[0]
        kind, pattern, (low, high), _kind_weight = rng.choices(_KINDS, weights=[k[3] for k in _KINDS])[0]
        name = pattern.format(city=city, saint=rng.choice(_SAINTS), specialty=rng.choice(_SPECIALTIES))
        if name in used_names:
            name = f"{name} {rng.choice(('Nord', 'Sud', 'Est', 'Ouest', 'Centre'))} {index}"
        used_names.add(name)
        rep = rng.choice(reps) if rng.random() < 0.8 else None
        department = "2A" if postal_code.startswith("20") else postal_code[:2]
        values = {
            "name": name,
            "type": kind,
            "postal_code": postal_code,
            "city": city,
            "region": region,
            "street": f"{rng.randint(1, 180)} {rng.choice(('rue', 'avenue', 'boulevard'))} "
            f"{rng.choice(('Pasteur', 'Victor Hugo', 'de la République', 'Jean Jaurès', 'Foch'))}",
            "finess": f"{department}{rng.randint(0, 9_999_999):07d}",
            "siret": _siret(rng),
            "accounting_number": f"C{410000 + index:06d}",
            "phone": _phone(rng),
            "commercial_status": rng.choices(list(CommercialStatus), weights=(6, 3, 1))[0],
            "assigned_user_id": rep.id if rep else None,
            "bed_capacity": rng.randint(low, high) if high else None,
            "surgical_rooms": rng.randint(2, 40)
            if kind in {InstitutionType.UNIVERSITY_HOSPITAL, InstitutionType.HOSPITAL, InstitutionType.PRIVATE_CLINIC}
            else None,
            "specialties": rng.sample(_SPECIALTIES, rng.randint(0, 3)),
            "tags": rng.sample(_TAGS, rng.choice((0, 0, 1, 1, 2))),
            "compliance_status": rng.choice(list(ComplianceStatus)),
        }
        institution = institutions.create_institution(session, SYSTEM_ACTOR, values, allow_duplicate=True)
        for position in range(rng.randint(1, 4)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            contacts.create_contact(
                session,
                SYSTEM_ACTOR,
                institution.id,
                {
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(_TITLES),
                    "email": f"{fold(first)}.{fold(last)}{index}@exemple-sante.fr".replace(" ", "-"),
                    "phone": _phone(rng),
                    "is_primary": position == 0,
                },
            )
