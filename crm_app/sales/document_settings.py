"""What sales documents read from the settings: numbering prefixes, VAT rates, payment terms,
late-payment mentions, the company's branding, reminder rules and email templates.

The values are kept in the settings sections "documents", "branding", "reminders" and "templates"
(`crm_app.platform.settings`, edited on /admin/settings); anything not set there takes the defaults
below. Readers get typed, immutable views.
"""

from __future__ import annotations

import copy
import io
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PIL import Image, UnidentifiedImageError
from schwifty import BIC, IBAN
from schwifty.exceptions import InvalidChecksumDigits, InvalidCountryCode, SchwiftyException
from sqlmodel import Session

from crm_app.platform import settings
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.identifiers import clean_email, clean_siret, clean_vat_number, siren_of_vat_number
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.storage import path_of, read_file, write_file
from crm_app.sales.money import DEFAULT_VAT_RATES
from crm_app.sales.reminder_kinds import QUOTE_REMINDERS
from crm_app.sales.templates import TEMPLATE_KINDS, check_template

DEFAULT_INVOICE_LEVELS: tuple[int, ...] = (-7, 1, 15, 30)

DOCUMENT_DEFAULTS: dict[str, Any] = {
    "quote_prefix": "DEV",
    "order_prefix": "BC",
    "invoice_prefix": "FAC",
    "credit_note_prefix": "AV",
    "vat_rates": [str(rate) for rate in DEFAULT_VAT_RATES],
    "default_vat_rate": "20",
    "payment_terms_days": 30,
    "quote_validity_days": 30,
    # French law (Code de commerce L441-10): at least 3 × the legal interest rate; 10 % is usual.
    "late_penalty_rate": "10",
    "recovery_indemnity": "40",
    # the company opted to pay VAT on its services when invoiced ("option pour les débits", CGI 269-2-c)
    "vat_on_debits": False,
}
BRANDING_DEFAULTS: dict[str, Any] = {
    "legal_name": "",
    "address": "",
    "siret": "",
    "vat_number": "",
    "rcs": "",
    "share_capital": "",
    "phone": "",
    "email": "",
    "website": "",
    "accent_color": "#1565c0",
    "iban": "",
    "bic": "",
    "payment_instructions": "",
    "footer": "",
    "terms": "",
    "logo_path": "",
}
REMINDER_DEFAULTS: dict[str, Any] = {
    "quote_reminders": [spec.kind.value for spec in QUOTE_REMINDERS],
    "quote_followup_task": True,
    "invoice_levels": list(DEFAULT_INVOICE_LEVELS),
    "invoice_email_client": False,
}
#: One subject and one body per email template; empty: the built-in text in the recipient's language.
TEMPLATE_DEFAULTS: dict[str, Any] = {f"{kind}_{part}": "" for kind in TEMPLATE_KINDS for part in ("subject", "body")}
QUOTE_REMINDER_KINDS: tuple[str, ...] = tuple(spec.kind.value for spec in QUOTE_REMINDERS)
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_DIR = "branding"


@dataclass(frozen=True, slots=True)
class DocumentSettings:
    quote_prefix: str
    order_prefix: str
    invoice_prefix: str
    credit_note_prefix: str
    vat_rates: tuple[Decimal, ...]
    default_vat_rate: Decimal
    payment_terms_days: int
    quote_validity_days: int
    late_penalty_rate: Decimal  # percent per year, printed on invoices
    recovery_indemnity: Decimal  # the fixed indemnity for recovery costs (€40)
    vat_on_debits: bool = False  # printed on invoices and given in the e-invoice (BT-8)


@dataclass(frozen=True, slots=True)
class Branding:
    """The seller's identity and the look of the PDFs. `logo_path` is relative to DATA_DIR/files."""

    legal_name: str
    address: str  # several lines
    siret: str
    vat_number: str
    rcs: str
    share_capital: str
    phone: str
    email: str
    website: str
    accent_color: str  # #rrggbb
    iban: str
    bic: str
    payment_instructions: str
    footer: str
    terms: str
    logo_path: str


@dataclass(frozen=True, slots=True)
class ReminderRules:
    quote_reminders: frozenset[str]  # the QuoteReminderKind values that are on
    quote_followup_task: bool  # also create a follow-up task for the salesperson
    invoice_levels: tuple[int, ...]  # days relative to the due date, negative before it
    invoice_email_client: bool  # also email the client's billing contact at each level


def _section(name: str, defaults: dict[str, Any], session: Session | None) -> dict[str, Any]:
    stored = settings.effective(session).get(name, {})
    return {**defaults, **{key: value for key, value in stored.items() if key in defaults}}


def document_settings(session: Session | None = None) -> DocumentSettings:
    values = _section("documents", DOCUMENT_DEFAULTS, session)
    return DocumentSettings(
        quote_prefix=str(values["quote_prefix"]),
        order_prefix=str(values["order_prefix"]),
        invoice_prefix=str(values["invoice_prefix"]),
        credit_note_prefix=str(values["credit_note_prefix"]),
        vat_rates=tuple(Decimal(str(rate)) for rate in values["vat_rates"]),
        default_vat_rate=Decimal(str(values["default_vat_rate"])),
        payment_terms_days=int(values["payment_terms_days"]),
        quote_validity_days=int(values["quote_validity_days"]),
        late_penalty_rate=Decimal(str(values["late_penalty_rate"])),
        recovery_indemnity=Decimal(str(values["recovery_indemnity"])),
        vat_on_debits=bool(values["vat_on_debits"]),
    )


def branding(session: Session | None = None) -> Branding:
    values = _section("branding", BRANDING_DEFAULTS, session)
    return Branding(**{name: str(values[name] or "") for name in BRANDING_DEFAULTS})


def reminder_rules(session: Session | None = None) -> ReminderRules:
    values = _section("reminders", REMINDER_DEFAULTS, session)
    return ReminderRules(
        quote_reminders=frozenset(values["quote_reminders"]),
        quote_followup_task=bool(values["quote_followup_task"]),
        invoice_levels=tuple(sorted(int(level) for level in values["invoice_levels"])),
        invoice_email_client=bool(values["invoice_email_client"]),
    )


# --- validation of the settings sections "documents", "branding", "reminders", "templates" -----------
# Each check takes the raw value and returns (clean value, None) or (None, gettext id of the error).

Check = settings.Check
_TOO_LONG = N_("This text is too long.")


def _text(limit: int, *, one_line: bool = True) -> Check:
    def check(value: Any) -> tuple[Any, str | None]:
        text = "" if value is None else str(value).strip()
        if len(text) > limit:
            return None, _TOO_LONG
        if one_line and ("\n" in text or "\r" in text):
            return None, N_("Write this on one line.")
        return text, None

    return check


def _prefix(value: Any) -> tuple[Any, str | None]:
    text = str(value or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9-]{1,10}", text):
        return None, N_("Use 1 to 10 letters, digits or dashes.")
    return text, None


def _decimal(value: Any, low: Decimal, high: Decimal) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or not low <= number <= high or number.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return number


def _rate(value: Any) -> tuple[Any, str | None]:
    number = _decimal(value, Decimal(0), Decimal(100))
    if number is None:
        return None, N_("Enter a rate between 0 and 100, with at most 2 decimals.")
    return _plain(number), None


def _plain(number: Decimal) -> str:
    """One spelling per rate: "5.50" → "5.5", "20.00" → "20"."""
    return format(number.normalize(), "f")


def _vat_rates(value: Any) -> tuple[Any, str | None]:
    raw = value if isinstance(value, list | tuple) else str(value or "").replace(";", " ").split()
    if isinstance(value, str) and "," in value and ";" not in value:
        # "20, 10, 5.5" (a list) — a French "5,5" alone is one rate
        parts = [part.strip() for part in value.split(",")]
        raw = parts if all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts if p) and len(parts) > 1 else raw
    rates: list[str] = []
    for item in raw:
        if str(item).strip() == "":
            continue
        clean, error = _rate(item)
        if error:
            return None, N_("Each VAT rate is between 0 and 100, with at most 2 decimals.")
        if clean in rates:
            return None, N_("A VAT rate is listed twice.")
        rates.append(clean)
    if not rates:
        return None, N_("Give at least one VAT rate.")
    return rates, None


def _indemnity(value: Any) -> tuple[Any, str | None]:
    number = _decimal(value, Decimal(0), Decimal(10000))
    if number is None:
        return None, N_("Enter an amount between 0 and 10,000, with at most 2 decimals.")
    return _plain(number), None


def iban_is_valid(iban: str) -> bool:
    """ISO 13616, as schwifty checks it: the country's length and format, and the mod-97 check digits."""
    try:
        IBAN(iban)
    except SchwiftyException:
        return False
    return True


def _iban(value: Any) -> tuple[Any, str | None]:
    text = str(value or "")
    if not text.strip():
        return "", None
    try:
        return IBAN(text).compact, None
    except InvalidChecksumDigits:
        return None, N_("This IBAN is not valid (check its characters: the control key does not match).")
    except SchwiftyException:
        return None, N_("This IBAN is not valid (check its country code and its length).")


def _bic(value: Any) -> tuple[Any, str | None]:
    text = str(value or "")
    if not text.strip():
        return "", None
    try:
        # SWIFT's rule (4 letters for the bank), stricter than ISO 9362's letters or digits
        return BIC(text, enforce_swift_compliance=True).compact, None
    except InvalidCountryCode:
        return None, N_("This BIC's country code (its 5th and 6th letters) does not exist.")
    except SchwiftyException:
        return None, N_("A BIC has 8 or 11 characters: 4 letters (bank), 2 letters (country), then letters or digits.")


def _siret(value: Any) -> tuple[Any, str | None]:

    text = str(value or "").strip()
    if not text:
        return "", None
    try:
        return clean_siret(text, check_siren=True), None
    except ValueError:
        return None, N_("A SIRET has 14 digits and a valid check key.")


def _vat_number(value: Any) -> tuple[Any, str | None]:
    text = str(value or "").strip()
    if not text:
        return "", None
    try:
        return clean_vat_number(text), None
    except ValueError as error:
        return None, str(error)


def _email(value: Any) -> tuple[Any, str | None]:

    text = str(value or "").strip()
    if not text:
        return "", None
    try:
        return clean_email(text), None
    except ValueError:
        return None, N_("Enter a valid email address.")


def _colour(value: Any) -> tuple[Any, str | None]:
    text = str(value or "").strip().lower()
    if not re.fullmatch(r"#[0-9a-f]{6}", text):
        return None, N_("Choose a colour written as #rrggbb.")
    return text, None


def _logo_path(value: Any) -> tuple[Any, str | None]:

    text = str(value or "").strip()
    if not text:
        return "", None  # no logo
    try:
        exists = text.startswith(f"{LOGO_DIR}/") and path_of(text).is_file()
    except ValueError:
        exists = False
    if not exists:
        return None, N_("Upload the logo as a file.")
    return text, None


def _quote_reminders(value: Any) -> tuple[Any, str | None]:
    raw = value if isinstance(value, list | tuple | set | frozenset) else str(value or "").replace(",", " ").split()
    chosen = {str(item).strip().lower() for item in raw if str(item).strip()}
    if not chosen <= set(QUOTE_REMINDER_KINDS):
        return None, N_("Unknown value.")
    return [kind for kind in QUOTE_REMINDER_KINDS if kind in chosen], None


def _invoice_levels(value: Any) -> tuple[Any, str | None]:
    raw = value if isinstance(value, list | tuple) else str(value or "").replace(";", ",").replace(" ", ",").split(",")
    levels: list[int] = []
    for item in raw:
        if isinstance(item, bool):
            return None, N_("Each level is a whole number of days between -60 and 120.")
        text = str(item).strip()
        if not text:
            continue
        try:
            level = int(text)
        except ValueError:
            return None, N_("Each level is a whole number of days between -60 and 120.")
        if not -60 <= level <= 120:
            return None, N_("Each level is a whole number of days between -60 and 120.")
        if level in levels:
            return None, N_("A level is listed twice.")
        levels.append(level)
    return sorted(levels), None


def _template(limit: int, *, one_line: bool) -> Check:
    base = _text(limit, one_line=one_line)

    def check(value: Any) -> tuple[Any, str | None]:
        text, error = base(value)
        if error:
            return None, error
        problem = check_template(text)
        return (None, problem) if problem else (text, None)

    return check


def _check_documents(after: dict[str, Any], errors: dict[str, str]) -> None:
    if (
        "default_vat_rate" not in errors
        and "vat_rates" not in errors
        and Decimal(str(after["default_vat_rate"])) not in {Decimal(str(rate)) for rate in after["vat_rates"]}
    ):
        errors["default_vat_rate"] = N_("The default VAT rate must be one of the VAT rates.")


def _check_branding(after: dict[str, Any], errors: dict[str, str]) -> None:
    siren = siren_of_vat_number(str(after["vat_number"] or "")) if "vat_number" not in errors else None
    siret = str(after["siret"] or "") if "siret" not in errors else ""
    if siren and siret and siret[:9] != siren:
        errors["vat_number"] = N_(
            "This VAT number does not match the SIRET: its last 9 digits must be the SIRET's first 9 (the SIREN)."
        )


FIELD_CHECKS: dict[str, dict[str, Check]] = {
    "documents": {
        "quote_prefix": _prefix,
        "order_prefix": _prefix,
        "invoice_prefix": _prefix,
        "credit_note_prefix": _prefix,
        "vat_rates": _vat_rates,
        "default_vat_rate": _rate,
        "payment_terms_days": settings.whole_check(0, 365),
        "quote_validity_days": settings.whole_check(1, 365),
        "late_penalty_rate": _rate,
        "recovery_indemnity": _indemnity,
        "vat_on_debits": settings.flag_check,
    },
    "branding": {
        "legal_name": _text(200),
        "address": _text(500, one_line=False),
        "siret": _siret,
        "vat_number": _vat_number,
        "rcs": _text(120),
        "share_capital": _text(60),
        "phone": _text(40),
        "email": _email,
        "website": _text(250),
        "accent_color": _colour,
        "iban": _iban,
        "bic": _bic,
        "payment_instructions": _text(1000, one_line=False),
        "footer": _text(500, one_line=False),
        "terms": _text(30000, one_line=False),
        "logo_path": _logo_path,
    },
    "reminders": {
        "quote_reminders": _quote_reminders,
        "quote_followup_task": settings.flag_check,
        "invoice_levels": _invoice_levels,
        "invoice_email_client": settings.flag_check,
    },
    "templates": {
        name: _template(250, one_line=True) if name.endswith("_subject") else _template(10000, one_line=False)
        for name in TEMPLATE_DEFAULTS
    },
}


#: The right that shows and changes the sections of sales documents.
DOCUMENTS_RIGHT = "document_template.edit"

#: The settings sections of sales documents (`crm_app.bootstrap` registers them after the platform's).
SECTIONS = (
    settings.Section(
        "documents",
        N_("Sales documents"),
        DOCUMENTS_RIGHT,
        lambda env: copy.deepcopy(DOCUMENT_DEFAULTS),
        FIELD_CHECKS["documents"],
        _check_documents,
    ),
    settings.Section(
        "branding",
        N_("Company identity and branding"),
        DOCUMENTS_RIGHT,
        lambda env: copy.deepcopy(BRANDING_DEFAULTS),
        FIELD_CHECKS["branding"],
        _check_branding,
    ),
    settings.Section(
        "templates",
        N_("Email templates"),
        DOCUMENTS_RIGHT,
        lambda env: copy.deepcopy(TEMPLATE_DEFAULTS),
        FIELD_CHECKS["templates"],
    ),
    settings.Section(
        "reminders",
        N_("Reminders"),
        "reminder_rule.edit",
        lambda env: copy.deepcopy(REMINDER_DEFAULTS),
        FIELD_CHECKS["reminders"],
    ),
)


# --- the logo ------------------------------------------------------------------------------------------


def _image_kind(content: bytes) -> str | None:
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    return None


def upload_logo(
    session: Session, actor: Actor, filename: str, content: bytes, *, client: Any = None
) -> settings.SectionView:
    """Store a PNG or JPEG logo (≤ 2 MB, checked by its content, not its name) under
    DATA_DIR/files/branding/ and make it the documents' logo (a change of the "branding" section)."""

    authorize(actor, DOCUMENTS_RIGHT)
    if len(content) > LOGO_MAX_BYTES:
        raise ValidationFailed({"logo": N_("The logo is larger than 2 MB.")})
    kind = _image_kind(content)
    if kind is None:
        raise ValidationFailed({"logo": N_("The logo must be a PNG or JPEG image.")})
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.verify()  # a truncated or forged file fails here, before ReportLab meets it
            if image.format not in {"PNG", "JPEG"}:
                raise ValueError(image.format)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationFailed({"logo": N_("This image cannot be read; save it again as PNG or JPEG.")}) from None
    path = f"{LOGO_DIR}/logo-{uuid.uuid4().hex[:12]}.{kind}"  # a new name: stored PDFs keep their own bytes
    write_file(path, content)
    del filename  # kept in the signature for the log and the UI; the stored name never comes from it
    return settings.update_section(session, actor, "branding", {"logo_path": path}, client=client)


def logo_image(session: Session, actor: Actor) -> tuple[bytes, str] | None:
    """The current logo's bytes and media type, for the settings page's preview."""

    authorize(actor, DOCUMENTS_RIGHT)
    path = branding(session).logo_path
    if not path:
        return None
    try:
        content = read_file(path)
    except (OSError, ValueError):
        return None
    return content, "image/png" if path.endswith(".png") else "image/jpeg"
