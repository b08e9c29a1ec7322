"""Settings from the environment and `.env` (names kept from the original deployment guide)."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from crm_app.platform.errors import ConfigError

MIN_SECRET_LENGTH = 32
SECRET_NAMES = ("JWT_SECRET", "JWT_REFRESH_SECRET", "STORAGE_SECRET")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """'15m', '7d', '3600' or 3600 → seconds (the original guide wrote `JWT_EXPIRES_IN=24h`)."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 900, 15m, 12h or 7d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


Duration = Annotated[int, BeforeValidator(parse_duration)]


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    app_env: AppEnv = AppEnv.DEVELOPMENT
    port: int = 8080
    host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces unless told otherwise
    base_url: str = ""
    data_dir: Path = Path("var")
    timezone: str = "Europe/Paris"
    log_level: str = "INFO"
    cors_origin: str = ""

    database_url: str = ""
    db_host: str = ""
    db_port: int = 5432
    db_name: str = "opex_crm"
    db_user: str = "opex_crm"
    db_password: str = ""

    jwt_secret: str = ""
    jwt_expires_in: Duration = 15 * 60
    jwt_refresh_secret: str = ""
    jwt_refresh_expires_in: Duration = 7 * 86400
    storage_secret: str = ""

    session_lifetime: Duration = 12 * 3600
    session_remember_lifetime: Duration = 30 * 86400
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    login_max_failures: int = 5
    login_ip_max_failures: int = 20
    login_window: Duration = 15 * 60
    login_lockout: Duration = 15 * 60
    #: Requests a minute to the REST API (/api/...), per client address and per bearer token; 0 turns
    #: the limit off (crm_app/platform/rate_limit.py).
    api_rate_limit_per_minute: int = Field(default=600, ge=0)

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_secure: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "OPEx CRM <no-reply@localhost>"

    plugin_directory: str = ""
    plugin_auto_enable: bool = False
    #: Let webhooks reach private, loopback and link-local addresses (an intranet receiver, the tests).
    webhooks_allow_private_networks: bool = False

    scheduler_enabled: bool = True

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def uses_sqlite(self) -> bool:
        return self.sqlalchemy_url.get_backend_name() == "sqlite"

    @property
    def sqlalchemy_url(self) -> URL:
        """The database URL: DATABASE_URL, else DB_HOST & co., else SQLite under DATA_DIR."""
        if self.database_url:
            raw = self.database_url
            try:
                url = make_url(raw)
            except ArgumentError:
                raise ConfigError(
                    "DATABASE_URL is not a valid database URL (expected e.g. postgresql://user:password@host:5432/name)"
                ) from None
            if url.drivername in {"postgres", "postgresql"}:
                url = url.set(drivername="postgresql+psycopg")
            if url.get_backend_name() not in {"postgresql", "sqlite"}:
                raise ConfigError(
                    f"DATABASE_URL uses '{url.get_backend_name()}': only postgresql and sqlite are supported"
                )
            return url
        if self.db_host:
            return make_url(
                f"postgresql+psycopg://{quote(self.db_user, safe='')}:{quote(self.db_password, safe='')}"
                f"@{self.db_host}:{self.db_port}/{quote(self.db_name, safe='')}"
            )
        return URL.create("sqlite", database=str((self.data_dir / "opex-crm.sqlite3").resolve()))

    def check(self) -> None:
        """Refuse to start on a configuration that cannot work; one line naming the cause."""
        if self.is_production:
            for name in SECRET_NAMES:
                value = getattr(self, name.lower())
                if not value:
                    raise ConfigError(
                        f"{name} is missing: production needs a secret of at least "
                        f"{MIN_SECRET_LENGTH} characters (opex-crm generate-secret)"
                    )
                if len(value) < MIN_SECRET_LENGTH:
                    raise ConfigError(
                        f"{name} is too short ({len(value)} characters): production needs at least "
                        f"{MIN_SECRET_LENGTH} (opex-crm generate-secret)"
                    )
            if len({self.jwt_secret, self.jwt_refresh_secret}) == 1:
                raise ConfigError("JWT_REFRESH_SECRET must differ from JWT_SECRET")
        _ = self.sqlalchemy_url

    def with_development_secrets(self) -> Settings:
        """Outside production, fill missing secrets with random ones kept under DATA_DIR.

        They survive restarts (sessions and tokens stay valid) without the operator having to
        invent anything for a first run.
        """
        if self.is_production:
            return self
        missing = [name for name in SECRET_NAMES if not getattr(self, name.lower())]
        if not missing:
            return self
        path = self.data_dir / "dev-secrets.env"
        known: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                known[key.strip()] = value.strip()
        for name in missing:
            known.setdefault(name, secrets.token_urlsafe(48))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in sorted(known.items())), encoding="utf-8")
        path.chmod(0o600)
        return self.model_copy(update={name.lower(): known[name] for name in missing})


def load_settings(**overrides: Any) -> Settings:
    """Read and check the settings; any problem becomes a one-line ConfigError."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        raise ConfigError(f"{name}: {error['msg']}") from None
    settings.check()
    return settings.with_development_secrets()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
