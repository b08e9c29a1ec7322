"""The systemd unit: hardened, migrates before start, and valid for systemd-analyze."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "opex-crm.service"
UNITS = ("opex-crm.service", "opex-crm@.service", "opex-crm-backup.service", "opex-crm-backup.timer")


def _section(unit: str = "opex-crm.service", section: str = "Service") -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(SYSTEMD / unit)
    return dict(parser[section])


def _service() -> dict[str, str]:
    return _section()


def test_unit_runs_migrations_then_the_server_as_a_dedicated_user() -> None:
    service = _service()
    assert service["ExecStartPre"].endswith("opex-crm db upgrade")
    assert service["ExecStart"].endswith("opex-crm serve --no-migrate")
    assert service["EnvironmentFile"] == "/etc/opex-crm/env"
    assert service["User"] == service["Group"] == "opex-crm"
    assert service["Restart"] == "on-failure"


def test_unit_is_hardened_with_only_the_data_directory_writable() -> None:
    service = _service()
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ReadWritePaths": "/var/lib/opex-crm",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert "DATA_DIR=/var/lib/opex-crm" in service["Environment"]


def test_stop_waits_longer_than_the_requests_in_flight_and_a_job_step() -> None:
    from crm_app.operations.shutdown import GRACEFUL_REQUESTS_SECONDS

    web = (SYSTEMD.parent / "crm_app" / "web.py").read_text()
    assert f"timeout_graceful_shutdown={GRACEFUL_REQUESTS_SECONDS}" in web
    for unit in ("opex-crm.service", "opex-crm@.service"):
        service = _section(unit)
        assert service["KillSignal"] == "SIGTERM"
        assert int(service["TimeoutStopSec"]) >= GRACEFUL_REQUESTS_SECONDS + 30, unit


def test_template_instances_take_their_port_and_migrate_one_at_a_time() -> None:
    service = _section("opex-crm@.service")
    assert service["ExecStart"].startswith("/usr/bin/env PORT=%i NICEGUI_STORAGE_PATH=/var/lib/opex-crm/nicegui-%i")
    assert service["ExecStart"].endswith("opex-crm serve --no-migrate")
    assert service["ExecStartPre"] == (
        "/usr/bin/flock /var/lib/opex-crm/migrate.lock /opt/opex-crm/.venv/bin/opex-crm db upgrade"
    )
    assert {k: service[k] for k in ("User", "ProtectSystem", "ReadWritePaths", "EnvironmentFile")} == {
        "User": "opex-crm",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/opex-crm",
        "EnvironmentFile": "/etc/opex-crm/env",
    }


def test_the_backup_runs_daily_at_two_as_the_service_user() -> None:
    timer = _section("opex-crm-backup.timer", "Timer")
    assert timer["OnCalendar"] == "*-*-* 02:00:00" and timer["Persistent"] == "true"
    assert timer["Unit"] == "opex-crm-backup.service"
    service = _section("opex-crm-backup.service")
    assert service["Type"] == "oneshot" and service["User"] == "opex-crm"
    assert service["ExecStart"] == (
        "/opt/opex-crm/.venv/bin/opex-crm backup --output /var/lib/opex-crm/backups --keep-days 14"
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("unit", [*UNITS[:1], "opex-crm@8081.service", *UNITS[2:]])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, unit: str) -> None:
    # verify checks that the commands exist: give it a root where the installed layout exists.
    executable = tmp_path / "opt/opex-crm/.venv/bin/opex-crm"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    for tool in ("usr/bin/env", "usr/bin/flock"):
        (tmp_path / tool).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f"/{tool}", tmp_path / tool)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    for name in UNITS:
        shutil.copy(SYSTEMD / name, tmp_path / "etc/systemd/system" / name)
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={tmp_path}", unit],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""
