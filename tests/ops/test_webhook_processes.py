"""Two `opex-crm serve` processes on one database, both running webhook senders: every event committed
through either is delivered exactly once, woken within seconds (LISTEN/NOTIFY reaches the process that
did not commit), never twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.conftest import truncate_all
from tests.factories import PASSWORD, make_user
from tests.servers import running_servers
from tests.webhook_receiver import Receiver, receiver_fixture  # noqa: F401 - fixture

EVENTS = 12


def _token(base_url: str) -> dict[str, str]:
    response = httpx.post(f"{base_url}/api/auth/login", json={"email": "sam@example.org", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_two_server_processes_deliver_each_event_once(receiver: Receiver) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.SUPER_ADMIN, email="sam@example.org", name="Sam Super")
    try:
        with running_servers(2, WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true") as (first, second):
            headers = _token(first.url)
            created = httpx.post(
                f"{first.url}/api/webhooks", headers=headers, json={"url": receiver.url, "all_events": True}
            )
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]
            started = time.monotonic()
            for n in range(EVENTS):  # through both processes in turn
                server = (first, second)[n % 2]
                response = httpx.post(
                    f"{server.url}/api/institutions", headers=_token(server.url), json={"name": f"Clinique {n}"}
                )
                assert response.status_code == 201, response.text
            received = receiver.wait_for(EVENTS, timeout=15)
            assert time.monotonic() - started < 15
            time.sleep(2)  # a second sender would have sent its duplicate by now
            received = receiver.snapshot()
            deliveries = Counter(r.headers["x-opex-delivery"] for r in received)
            assert len(received) == EVENTS, (first.log(), second.log())
            assert set(deliveries.values()) == {1}
            assert all(r.signature_ok for r in received)
            # Each delivery sent by one process: the two logs together name each once.
            sent_by = [Path(server.log_path).read_text().count('"webhook delivered"') for server in (first, second)]
            assert sum(sent_by) == EVENTS, sent_by
            assert sorted(r.body["data"]["name"] for r in received) == sorted(f"Clinique {n}" for n in range(EVENTS))
    finally:
        truncate_all()
