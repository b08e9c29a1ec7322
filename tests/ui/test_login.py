"""Login, lockout, logout and the return to the page first asked for."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User
from sqlmodel import select

from crm_app.accounts.models import AuthSession
from crm_app.platform.db import unit_of_work
from tests.ui.conftest import log_in


async def test_a_page_without_session_redirects_to_login_with_its_path(ui_user: User) -> None:
    response = await ui_user.http_client.get("/profile?tab=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?redirect_to=/profile%3Ftab%3Dx"
    await ui_user.open("/profile")
    await ui_user.should_see("Se connecter")


async def test_login_lands_on_the_dashboard(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account())
    await ui_user.should_see("Bienvenue, Claire Dupont")
    await ui_user.should_see("C'est votre première connexion.")


async def test_login_returns_to_the_page_first_asked_for(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=/profile")
    await ui_user.should_see("Enregistrer")
    await ui_user.should_see("claire@example.org")


async def test_redirect_to_another_site_is_ignored(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=//evil.example.com/phish")
    await ui_user.should_see("Bienvenue, Claire Dupont")


async def test_wrong_password_gives_a_generic_error(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    await log_in(ui_user, email, password="not the password")
    await ui_user.should_see("E-mail ou mot de passe incorrect.")
    await ui_user.should_not_see("Bienvenue")
    await log_in(ui_user, "nobody@example.org", password="not the password")
    await ui_user.should_see("E-mail ou mot de passe incorrect.")
    await ui_user.should_not_see("Bienvenue")


async def test_empty_form_asks_for_both_fields(ui_user: User) -> None:
    await ui_user.open("/login")
    ui_user.find(marker="login").click()
    await ui_user.should_see("Saisissez votre e-mail et votre mot de passe.")


async def test_five_failures_lock_the_account(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    for attempt in range(4):
        await log_in(ui_user, email, password=f"wrong password {attempt}")
        await ui_user.should_see("E-mail ou mot de passe incorrect.")
    await log_in(ui_user, email, password="wrong password 5")
    await ui_user.should_see("Trop de tentatives échouées. Réessayez dans 15 minutes.")
    await log_in(ui_user, email)
    await ui_user.should_see("Trop de tentatives échouées. Réessayez dans 15 minutes.")
    await ui_user.should_not_see("Bienvenue")


async def test_logout_ends_the_session_on_the_server(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account())
    await ui_user.should_see("Bienvenue, Claire Dupont")
    ui_user.find(marker="user-menu").click()  # builds its menu
    ui_user.find(marker="logout").click()
    await ui_user.should_see("Se connecter")
    with unit_of_work() as session:
        [stored] = session.exec(select(AuthSession)).all()
        assert stored.revoked_at is not None
    response = await ui_user.http_client.get("/", follow_redirects=False)
    assert response.status_code == 303


async def test_signed_in_user_opening_login_goes_to_the_app(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account())
    await ui_user.should_see("Bienvenue, Claire Dupont")
    response = await ui_user.http_client.get("/login?redirect_to=/profile", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
