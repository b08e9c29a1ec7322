"""GET /api/health."""

from __future__ import annotations

import httpx

from crm_app import __version__


async def test_health_reports_database_and_scheduler(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"] == __version__
    assert isinstance(body["database_latency_ms"], float)
    assert body["scheduler"]["state"] == "stopped"  # the test settings turn it off
    assert {"session_cleanup", "task_alerts", "retention", "mail_outbox"} <= {
        job["name"] for job in body["scheduler"]["jobs"]
    }
    assert body["live_events"] in {"listening", "reconnecting", "stopped"}
    assert body["mail_outbox"] == {"pending": 0, "failed": 0}
    assert "secret" not in response.text.lower() and "password" not in response.text.lower()
    assert len(response.headers["x-request-id"]) == 32
    echoed = await api.get("/api/health", headers={"X-Request-ID": "proxy-abc-123"})
    assert echoed.headers["x-request-id"] == "proxy-abc-123"


async def test_health_is_503_when_the_database_is_down(api: httpx.AsyncClient, settings_override) -> None:
    settings_override(database_url="postgresql://postgres@127.0.0.1:1/unreachable")
    response = await api.get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["status"] == "degraded"
