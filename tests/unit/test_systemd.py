"""The systemd unit: hardened, migrates before start, and valid for systemd-analyze."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "opex-crm.service"


def _service() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(UNIT)
    return dict(parser["Service"])


def test_unit_runs_migrations_then_the_server_as_a_dedicated_user() -> None:
    service = _service()
    assert service["ExecStartPre"].endswith("opex-crm db upgrade")
    assert service["ExecStart"].endswith("opex-crm serve --no-migrate")
    assert service["EnvironmentFile"] == "/etc/opex-crm/env"
    assert service["User"] == service["Group"] == "opex-crm"
    assert service["Restart"] == "on-failure"


def test_unit_is_hardened_with_only_the_data_directory_writable() -> None:
    service = _service()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "ReadWritePaths": "/var/lib/opex-crm",
                       "CapabilityBoundingSet": ""}.items():
        assert service[key] == value, key
    assert "DATA_DIR=/var/lib/opex-crm" in service["Environment"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that the commands exist: give it a root where the installed layout exists.
    executable = tmp_path / "opt/opex-crm/.venv/bin/opex-crm"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system/opex-crm.service")
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={tmp_path}", "opex-crm.service"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""
