"""Configuration: production refuses weak secrets and bad URLs with one line naming the cause."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_app.platform.config import Settings, load_settings, parse_duration
from crm_app.platform.errors import ConfigError

STRONG = "s" * 40


def _production(**overrides: str) -> dict[str, str]:
    values = {"app_env": "production", "jwt_secret": STRONG, "jwt_refresh_secret": "r" * 40, "storage_secret": "t" * 40}
    values.update(overrides)
    return values


@pytest.mark.parametrize("name", ["JWT_SECRET", "JWT_REFRESH_SECRET", "STORAGE_SECRET"])
def test_production_without_a_secret_names_the_missing_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} is missing"):
        load_settings(**_production(**{name.lower(): ""}))


@pytest.mark.parametrize("name", ["JWT_SECRET", "JWT_REFRESH_SECRET", "STORAGE_SECRET"])
def test_production_with_a_short_secret_names_it(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} is too short \\(31 characters\\)"):
        load_settings(**_production(**{name.lower(): "x" * 31}))


def test_production_accepts_strong_secrets() -> None:
    settings = load_settings(**_production())
    assert settings.is_production


def test_development_generates_secrets_once_and_keeps_them(tmp_path: Path) -> None:
    first = load_settings(
        app_env="development", data_dir=tmp_path, jwt_secret="", jwt_refresh_secret="", storage_secret=""
    )
    second = load_settings(
        app_env="development", data_dir=tmp_path, jwt_secret="", jwt_refresh_secret="", storage_secret=""
    )
    assert len(first.jwt_secret) >= 32
    assert first.jwt_secret == second.jwt_secret
    assert first.jwt_secret != first.jwt_refresh_secret
    assert (tmp_path / "dev-secrets.env").stat().st_mode & 0o077 == 0


def test_database_url_forms() -> None:
    assert Settings(database_url="postgresql://u:p@db:5433/crm").sqlalchemy_url.drivername == "postgresql+psycopg"
    url = Settings(
        database_url="", db_host="db.local", db_user="crm", db_password="p@ss:word", db_name="opex"
    ).sqlalchemy_url
    assert (url.host, url.username, url.password, url.database) == ("db.local", "crm", "p@ss:word", "opex")
    embedded = Settings(database_url="", db_host="", data_dir=Path("/srv/crm")).sqlalchemy_url
    assert embedded.get_backend_name() == "sqlite"
    assert embedded.database == "/srv/crm/opex-crm.sqlite3"


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db", "://"])
def test_bad_database_url_is_one_clear_line(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL") as raised:
        load_settings(database_url=url)
    assert "\n" not in str(raised.value)


def test_durations_in_the_original_guide_format() -> None:
    assert parse_duration("15m") == 900
    assert parse_duration("24h") == 86400
    assert parse_duration("7d") == 604800
    assert parse_duration("3600") == 3600
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_bad_value_in_environment_is_reported_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"^JWT_EXPIRES_IN"):
        load_settings(jwt_expires_in="soon")


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_serve_in_production_with_missing_secret_stops_with_one_line() -> None:
    result = _cli("serve", APP_ENV="production", JWT_SECRET="")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "opex-crm: configuration error: JWT_SECRET is missing: production needs a secret of at least 32 "
        "characters (opex-crm generate-secret)"
    ]


def test_bad_database_url_on_the_command_line_is_one_line_not_a_traceback() -> None:
    result = _cli("db", "current", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("opex-crm: cannot reach the database postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "Traceback" not in result.stderr


def test_env_example_documents_every_setting() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    documented = {
        line.split("=", 1)[0] for line in example.read_text().splitlines() if line and not line.startswith("#")
    }
    assert documented == {name.upper() for name in Settings.model_fields}


def test_env_example_values_are_accepted(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = {
        key.lower(): value
        for key, _, value in (
            line.partition("=") for line in example.read_text().splitlines() if line and line[0] != "#"
        )
    }
    values["data_dir"] = str(tmp_path)
    settings = load_settings(**values)
    assert settings.uses_sqlite and settings.jwt_expires_in == 900
