"""Meeting invitations by email: one message per newly invited person, in their language, with the
.ics attached, sent through the outbox to a real SMTP server, never twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from crm_app.accounts import users
from crm_app.activities import meetings
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.outbox import OutboxMessage
from tests.activity_factories import make_meeting, make_org
from tests.institution_factories import make_contact, make_institution
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture


def _invitations() -> list[OutboxMessage]:
    with unit_of_work() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.subject))).all())


def test_invited_people_get_the_invitation_with_its_ics_once(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        users.update_preferences(session, org.rep_a.actor, language="de")
        clinic = make_institution(session, name="Clinique des Lilas")
        buyer = make_contact(session, clinic, first_name="Chloé", last_name="Achat", email="chloe.achat@lilas.fr")
        silent = make_contact(session, clinic, last_name="Sanscourriel")
        meeting = make_meeting(
            session,
            org.manager_a.actor,
            title="Démonstration du bloc",
            location="Salle 2",
            institution_id=clinic.id,
            participant_user_ids=[org.rep_a.id],
            participant_contact_ids=[buyer.id, silent.id],
        )
        meeting_id, rep_email = meeting.id, org.rep_a.user.email
    queued = _invitations()
    assert len(queued) == 2  # the contact without an address cannot be invited by email
    assert smtp.send_pending() == {"sent": 2, "retry": 0, "failed": 0}
    received = {r.message["To"]: r.message for r in smtp_server.received}
    german = next(m for to, m in received.items() if rep_email in to)
    french = next(m for to, m in received.items() if "chloe.achat@lilas.fr" in to)
    assert german["Subject"] == "Einladung: Démonstration du bloc"
    assert french["Subject"] == "Invitation : Démonstration du bloc"
    body = french.get_body(("plain",))
    assert body is not None and "Marc Manager" in body.get_content()
    [attachment] = [part for part in french.iter_attachments()]
    assert attachment.get_content_type() == "text/calendar" and attachment.get_filename() == "invitation.ics"
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    ics = payload.decode()
    assert "METHOD:REQUEST" in ics and f"UID:{meeting_id}@opex-crm" in ics and "mailto:chloe.achat@lilas.fr" in ics

    with unit_of_work() as session:  # saved again with the same people: nobody is invited twice
        current = meetings.get_meeting(session, meeting_id)
        meetings.update_meeting(
            session, org.manager_a.actor, meeting_id, {"location": "Salle 3"}, expected_version=current.version
        )
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp_server.received) == 2


def test_a_person_added_later_is_invited_alone(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        meeting = make_meeting(session, org.manager_a.actor, participant_user_ids=[org.rep_a.id])
        meetings.update_meeting(
            session,
            org.manager_a.actor,
            meeting.id,
            {"participant_user_ids": [org.rep_a.id, org.rep_a2.id]},
            expected_version=meeting.version,
        )
        newcomer = org.rep_a2.user.email
    smtp.send_pending()
    assert [r.rcpt_tos for r in smtp_server.received].count([newcomer]) == 1
    assert len(smtp_server.received) == 2


def test_a_rolled_back_meeting_sends_nothing(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        org = make_org(session)
    try:
        with unit_of_work() as session:
            make_meeting(session, org.manager_a.actor, participant_user_ids=[org.rep_a.id])
            raise RuntimeError("the save failed")
    except RuntimeError:
        pass
    assert _invitations() == []


def test_people_without_a_language_get_the_organisation_s_language_and_time_zone(
    smtp_server: SMTPServer, clean_db: None
) -> None:
    from crm_app.platform import settings
    from crm_app.platform.models.people import Role
    from tests.factories import actor_of, make_user

    with unit_of_work() as session:
        boss = actor_of(make_user(session, role=Role.SUPER_ADMIN, email="boss@example.org", name="Bea Boss"))
        settings.update_section(
            session,
            boss,
            "organisation",
            {"name": "Medisud", "default_language": "es", "timezone": "America/Cayenne"},
            expected_version=0,
        )
    with unit_of_work() as session:
        org = make_org(session)
        clinic = make_institution(session, name="Clínica del Sur")
        buyer = make_contact(session, clinic, last_name="Compras", email="compras@sur.es")
        start = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)
        make_meeting(
            session,
            org.manager_a.actor,
            title="Demo",
            institution_id=clinic.id,
            starts_at=start,
            participant_contact_ids=[buyer.id],
        )
    smtp.send_pending()
    [received] = [r.message for r in smtp_server.received]
    assert received["Subject"] == "Invitación: Demo"
    body = received.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "9:00" in text and "Medisud" in text  # 12:00 UTC is 09:00 in Cayenne
