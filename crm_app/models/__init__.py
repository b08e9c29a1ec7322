"""All tables; importing this package registers them on SQLModel.metadata (Alembic reads it)."""

from .audit import AuditEntry, SecurityAction, SecurityEvent, Severity
from .base import Tracked, UTCDateTime, utcnow
from .billing import (
    OPEN_INVOICE_STATUSES,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceReminder,
    InvoiceStatus,
    Payment,
    PaymentMethod,
)
from .institutions import (
    CommercialStatus,
    ComplianceStatus,
    Contact,
    DataSource,
    Institution,
    InstitutionLabel,
    InstitutionLabelOrder,
    InstitutionSearch,
    InstitutionType,
    LabelKind,
    MedicalProfile,
    SavedView,
)
from .sales import (
    CatalogItem,
    DiscountType,
    DocumentKind,
    DocumentSequence,
    Quote,
    QuoteLine,
    QuoteReminder,
    QuoteReminderKind,
    QuoteStatus,
    SequenceKind,
    StoredDocument,
)
from .users import AuthSession, LoginAttempt, RefreshToken, Role, SessionKind, Team, Theme, User

__all__ = [
    "AuditEntry",
    "AuthSession",
    "CommercialStatus",
    "ComplianceStatus",
    "Contact",
    "DataSource",
    "Institution",
    "InstitutionLabel",
    "InstitutionLabelOrder",
    "InstitutionSearch",
    "InstitutionType",
    "LabelKind",
    "LoginAttempt",
    "MedicalProfile",
    "RefreshToken",
    "Role",
    "SavedView",
    "SecurityAction",
    "SecurityEvent",
    "SessionKind",
    "Severity",
    "Team",
    "Theme",
    "Tracked",
    "UTCDateTime",
    "User",
    "utcnow",
]

from .accounts import AccountAction, AccountToken, TokenPurpose
from .activities import (
    Call,
    CallDirection,
    Comment,
    CommentTarget,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    Note,
    NoteShare,
    NoteVisibility,
    ParticipantResponse,
    Task,
    TaskPriority,
    TaskStatus,
)
from .mail import MailStatus, OutboxAttachment, OutboxMessage
from .notifications import Notification, TaskAlert, TaskAlertKind
from .settings import AppSetting

__all__ += [
    "Call",
    "CallDirection",
    "Comment",
    "CommentTarget",
    "Meeting",
    "MeetingParticipant",
    "MeetingStatus",
    "Note",
    "NoteShare",
    "NoteVisibility",
    "Notification",
    "ParticipantResponse",
    "Task",
    "TaskAlert",
    "TaskAlertKind",
    "TaskPriority",
    "TaskStatus",
]

__all__ += ["MailStatus", "OutboxAttachment", "OutboxMessage"]

__all__ += ["AccountAction", "AccountToken", "TokenPurpose"]

__all__ += ["AppSetting"]

__all__ += [
    "OPEN_INVOICE_STATUSES", "CatalogItem", "DiscountType", "DocumentKind", "DocumentSequence", "Invoice",
    "InvoiceKind", "InvoiceLine", "InvoiceReminder", "InvoiceStatus", "Payment", "PaymentMethod", "Quote",
    "QuoteLine", "QuoteReminder", "QuoteReminderKind", "QuoteStatus", "SequenceKind", "StoredDocument",
]
