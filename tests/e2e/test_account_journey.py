"""In Chromium, against a server process of its own that sends mail to a real SMTP server started by
the test: an administrator invites a sales rep from /admin/users; the rep follows the link read from
the received email, chooses a password (the live checklist turns green), logs in and cannot open
/admin/users; the administrator deactivates the rep, and the rep's tab goes to the login page at
its next action."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.account_links import link_path, text_of
from tests.e2e.conftest import _free_port, serve, sign_in
from tests.factories import PASSWORD, make_team, make_user
from tests.smtp_server import SMTPServer

pytestmark = pytest.mark.e2e

REP_EMAIL = "lea.moreau@example.org"
REP_PASSWORD = "Tilleuls-Limoges-87"
MAIL_TIMEOUT = 30.0  # the outbox is woken after the commit; the job also runs every minute
RULES = (
    "Au moins 10 caractères.",
    "Ne doit pas contenir l'adresse e-mail.",
    "Ne doit pas être un mot de passe courant.",
)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def mail_server_url(smtp: SMTPServer) -> Iterator[str]:
    """A server process of this test's own: its mail goes to `smtp`, its links point at itself."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(
        port=port,
        BASE_URL=url,
        SMTP_HOST=smtp.host,
        SMTP_PORT=str(smtp.port),
        SMTP_SECURE="false",
        SMTP_USER="",
        SMTP_PASSWORD="",
        SMTP_FROM="OPEx CRM <crm@opex.example>",
    ) as served:
        yield served


def _log_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    sign_in(page, email, password)
    expect(page.get_by_role("button", name=re.compile(r"^Notifications \(\d+\)$"))).to_be_visible()


def _wait_for_mail(smtp: SMTPServer, to: str) -> str:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        with smtp.lock:
            found = [received for received in smtp.received if to in received.rcpt_tos]
        if found:
            assert len(found) == 1, found
            return text_of(found[0].message)
        time.sleep(0.2)
    raise AssertionError(f"no email to {to} within {MAIL_TIMEOUT}s: {smtp.received}")


def _rule(page: Page, message: str, *, ok: bool) -> None:
    """The checklist line of a rule, with its icon: a green check when followed."""
    line = page.locator(".q-icon").locator("xpath=..").filter(has_text=message)
    icon = line.locator(".q-icon")
    if ok:
        expect(icon).to_have_text("check_circle")
        expect(icon).to_have_class(re.compile(r"\btext-positive\b"))
    else:
        expect(icon).to_have_text("radio_button_unchecked")
        expect(icon).not_to_have_class(re.compile(r"\btext-positive\b"))


def test_invite_set_password_log_in_and_be_deactivated(
    browser: Browser, smtp: SMTPServer, mail_server_url: str, clean_after: None
) -> None:
    url = mail_server_url
    with unit_of_work() as session:
        make_team(session, "Nouvelle-Aquitaine")
        make_user(session, role=Role.ADMIN, email="claire.martin@example.org", name="Claire Martin")
    admin, rep = (browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page() for _ in range(2))

    # The administrator invites Léa into her team.
    _log_in(admin, url, "claire.martin@example.org", PASSWORD)
    admin.goto(f"{url}/admin/users")
    admin.get_by_role("button", name="Inviter").click()
    invite = admin.get_by_role("dialog").filter(has_text="Inviter un utilisateur")
    invite.get_by_label("E-mail").fill(REP_EMAIL)
    invite.get_by_label("Nom").fill("Léa Moreau")
    invite.get_by_label("Équipe").click()
    admin.get_by_role("option", name="Nouvelle-Aquitaine").click()
    invite.get_by_role("button", name="Envoyer l'invitation").click()
    expect(admin.get_by_text(f"Invitation envoyée à {REP_EMAIL}.")).to_be_visible()
    row = admin.get_by_role("row").filter(has_text=REP_EMAIL)
    expect(row).to_contain_text("Invité")
    expect(row).to_contain_text("Nouvelle-Aquitaine")

    # The email arrives on the SMTP server; its link points at this server.
    text = _wait_for_mail(smtp, REP_EMAIL)
    path = link_path(text)
    assert f"{url}{path}" in text, text
    assert path.startswith("/invitation/")

    # Léa follows it in her own browser and chooses a password with the live checklist.
    rep.goto(f"{url}{path}")
    expect(rep.get_by_text("Bienvenue dans OPEx CRM")).to_be_visible()
    expect(rep.get_by_text(f"Compte : {REP_EMAIL}")).to_be_visible()
    for message in RULES:
        _rule(rep, message, ok=False)
    new_password = rep.get_by_label("Nouveau mot de passe")
    new_password.fill("Tilleul")  # too short
    _rule(rep, RULES[0], ok=False)
    _rule(rep, RULES[1], ok=True)
    new_password.fill("lea.moreau-87")  # holds the address
    _rule(rep, RULES[0], ok=True)
    _rule(rep, RULES[1], ok=False)
    new_password.fill(REP_PASSWORD)
    for message in RULES:
        _rule(rep, message, ok=True)
    rep.get_by_label("Répétez le mot de passe").fill(REP_PASSWORD)
    rep.get_by_role("button", name="Créer mon compte").click()
    expect(rep.get_by_text("Votre compte est prêt. Vous pouvez maintenant vous connecter.")).to_be_visible()
    rep.get_by_role("button", name="Se connecter").click()
    expect(rep).to_have_url(re.compile(r"/login"))

    # She logs in; /admin/users is not for her.
    _log_in(rep, url, REP_EMAIL, REP_PASSWORD)
    rep.goto(f"{url}/admin/users")
    expect(rep.get_by_text("Vous n'êtes pas autorisé à ouvrir cette page.")).to_be_visible()
    rep.goto(f"{url}/")
    expect(rep.get_by_role("button", name=re.compile(r"^Notifications \(\d+\)$"))).to_be_visible()

    # The administrator deactivates her.
    admin.reload()
    row = admin.get_by_role("row").filter(has_text=REP_EMAIL)
    expect(row).to_contain_text("Actif")
    row.get_by_role("button", name="Gérer").click()
    admin.get_by_role("dialog").filter(has_text="Léa Moreau").get_by_role("button", name="Désactiver").click()
    confirm = admin.get_by_role("dialog").filter(has_text="Désactiver Léa Moreau ?")
    confirm.get_by_role("button", name="Désactiver").click()
    expect(admin.get_by_text("Compte désactivé.")).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text=REP_EMAIL)).to_contain_text("Désactivé")

    # Léa's tab, untouched since, goes to the login page at her next action.
    rep.get_by_role("navigation", name="Navigation").get_by_role("link", name="Établissements").click()
    expect(rep).to_have_url(re.compile(r"/login"), timeout=10_000)
    expect(rep.get_by_role("button", name="Se connecter")).to_be_visible()
