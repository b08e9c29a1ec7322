"""All tables; importing this package registers them on SQLModel.metadata (Alembic reads it)."""

from crm_app.institutions.models import (
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
from crm_app.platform.models.audit import AuditEntry, SecurityAction, SecurityEvent, Severity
from crm_app.platform.models.base import Tracked, UTCDateTime, utcnow
from crm_app.platform.models.people import AuthSession, LoginAttempt, RefreshToken, Role, SessionKind, Team, Theme, User
from crm_app.sales.models.invoices import (
    OPEN_INVOICE_STATUSES,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceReminder,
    InvoiceStatus,
    Payment,
    PaymentMethod,
)
from crm_app.sales.models.quotes import (
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

from crm_app.accounts.models import AccountAction, AccountToken, TokenPurpose
from crm_app.activities.models import (
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
from crm_app.platform.models.notifications import Notification, TaskAlert, TaskAlertKind
from crm_app.platform.models.outbox import MailStatus, OutboxAttachment, OutboxMessage
from crm_app.platform.models.settings import AppSetting

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
