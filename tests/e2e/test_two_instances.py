"""Two instances of the CRM on one PostgreSQL database behind the shipped nginx config (HTTPS on
loopback): both answer, a browser sticks to its instance (page and websocket), a change made through
one instance rings the bell of a tab connected to the other, and a job that both try to run at once
runs once."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from crm_app.platform import outbox as mail
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_institution
from tests.nginx import require_nginx, running_nginx
from tests.servers import running_servers
from tests.smtp_server import SMTPServer

pytestmark = pytest.mark.e2e


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_two_instances_behind_nginx(browser: Browser, tmp_path: Path, clean_after: None) -> None:
    require_nginx()
    with unit_of_work() as session:
        team = make_team(session, "Bretagne")
        make_user(session, role=Role.TEAM_ADMIN, team=team, email="yann.le.goff@example.org", name="Yann Le Goff")
        rep = make_user(session, team=team, email="nolwenn.riou@example.org", name="Nolwenn Riou")
        institution_id = make_institution(session, name="Clinique de l'Odet", city="Quimper").id
    smtp = SMTPServer()
    smtp.delay = 3.0  # a slow SMTP server: whoever sends holds the job's lock for 3 s
    smtp_env = {"SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port), "SMTP_SECURE": "false"}
    with (
        smtp,
        running_servers(2, SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port)) as (first, second),
        running_nginx(tmp_path, [_port(first.url), _port(second.url)]) as nginx,
    ):
        ports = {_port(first.url), _port(second.url)}
        # Both answer through nginx; the route cookie decides which, always the same for one cookie.
        route_to: dict[int, str] = {}
        for n in range(64):
            status, headers, _ = nginx.request("/api/health", cookie=f"opex_route=probe-{n}")
            assert status == 200
            route_to.setdefault(int(headers["x-upstream"].rsplit(":", 1)[1]), f"probe-{n}")
            if set(route_to) == ports:
                break
        assert set(route_to) == ports
        for port, route in route_to.items():
            for _ in range(5):
                assert nginx.request("/api/health", cookie=f"opex_route={route}")[1]["x-upstream"].endswith(f":{port}")
        # A new browser gets a cookie that keeps it where its first request went.
        _, headers, _ = nginx.request("/login")
        cookie = next(
            value.split(";", 1)[0] for value in headers["set-cookie"].splitlines() if value.startswith("opex_route=")
        )
        for _ in range(5):
            assert nginx.request("/api/health", cookie=cookie)[1]["x-upstream"] == headers["x-upstream"]

        base = f"https://127.0.0.1:{nginx.https_port}"
        context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", ignore_https_errors=True)
        context.add_cookies([{"name": "opex_route", "value": route_to[_port(second.url)], "url": base}])
        page = context.new_page()
        page.goto(f"{base}/login")
        sign_in(page, "nolwenn.riou@example.org")
        bell = page.get_by_role("button", name=re.compile(r"^Notifications \(\d+\)$"))
        expect(bell).to_have_accessible_name("Notifications (0)")

        # The team admin assigns the institution through the REST API of the first instance.
        with httpx.Client(
            base_url=base,
            verify=False,  # noqa: S501 - self-signed test certificate
            timeout=10,
            cookies={"opex_route": route_to[_port(first.url)]},
        ) as api:
            login = api.post("/api/auth/login", json={"email": "yann.le.goff@example.org", "password": PASSWORD})
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            version = api.get(f"/api/institutions/{institution_id}", headers=auth).json()["version"]
            changed = api.patch(
                f"/api/institutions/{institution_id}",
                headers=auth,
                json={"assigned_user_id": str(rep.id), "version": version},
            )
            assert changed.status_code == 200, changed.text
            assert changed.headers["x-upstream"].endswith(f":{_port(first.url)}")
        # ... and the tab served by the second instance hears of it over its websocket, through nginx.
        expect(bell).to_have_accessible_name("Notifications (1)", timeout=5000)
        context.close()

        # A job both try at once runs once: one mail queued, two runs started together.
        with unit_of_work() as session:
            mail.enqueue(session, to="client@example.org", subject="Relance", text="Bonjour")
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "crm_app.cli", "jobs", "run", "mail_outbox"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**_env(), **smtp_env, "DATA_DIR": first.data_dir},
            )
            for _ in range(2)
        ]
        outcomes = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
        deadline = time.monotonic() + 10
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    assert len(smtp.received) == 1
    assert "mail_outbox: skipped" in outcomes, outcomes  # the advisory lock was held by the one sending
    assert set(outcomes) <= {"mail_outbox: ok", "mail_outbox: skipped"}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
