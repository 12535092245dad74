"""Settings: environment variables and ``plugins.toml``.

Every setting has a default that runs the embedded setup (a SQLite file under
``var/``), so a fresh checkout starts with no configuration.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .exceptions import ConfigError

ENV_PREFIX = "LANGOS_"


@dataclasses.dataclass(frozen=True)
class ConnectorConfig:
    """One ``[connectors.NAME]`` table of ``plugins.toml``."""

    name: str
    enabled: bool = True
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MailSettings:
    backend: str = "log"
    sender: str = "Langos <no-reply@langos.localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    public_url: str
    plugins_file: Path | None
    connectors: Mapping[str, ConnectorConfig]
    encryption_keys: tuple[str, ...] | None = None
    secret_key: str | None = None
    mail: MailSettings = MailSettings()
    key_overlap_hours: float = 24.0
    auth_cache_seconds: float = 1.0
    rate_limit_per_minute: float = 1200.0
    session_max_age: int = 8 * 3600
    max_body_bytes: int = 64 * 1024
    delivery_poll_interval: float = 1.0
    delivery_max_attempts: int = 20
    delivery_retry_window_seconds: float = 24 * 3600
    delivery_lease_seconds: float = 60.0
    delivery_backoff_base: float = 2.0
    delivery_backoff_max: float = 300.0
    # hours before an invitation expires that the candidate is reminded; 0 turns reminders off
    reminder_hours: float = 24.0
    run_worker: bool = True
    log_level: str = "INFO"
    log_format: str = "text"
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def connector(self, name: str) -> ConnectorConfig:
        """Return the configuration of connector ``name``.

        Options come from its ``plugins.toml`` table, and an environment variable
        ``LANGOS_<NAME>_<OPTION>`` overrides option ``<option>``: ``LANGOS_ASHBY_API_URL``
        sets the Ashby connector's ``api_url``.
        """
        config = self.connectors.get(name, ConnectorConfig(name=name))
        prefix = f"{ENV_PREFIX}{name.upper()}_"
        overrides = {key[len(prefix):].lower(): value for key, value in self.environ.items() if key.startswith(prefix)}
        if not overrides:
            return config
        return dataclasses.replace(config, options={**config.options, **overrides})


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def _parse_number(name: str, raw: str, kind: type) -> Any:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}; set a plain number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def load_plugins_file(path: Path) -> dict[str, ConnectorConfig]:
    """Read ``plugins.toml``: one ``[connectors.NAME]`` table per connector."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None

    tables = data.get("connectors", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: [connectors] must be a table of tables, one per connector")

    connectors: dict[str, ConnectorConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: connectors.{name} must be a table, got {table!r}")
        options = dict(table)
        enabled = options.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{path}: connectors.{name}.enabled must be true or false, got {enabled!r}")
        connectors[name] = ConnectorConfig(name=name, enabled=enabled, options=options)
    return connectors


# The URL schemes accepted in LANGOS_DATABASE_URL, and the asyncio driver Langos uses for each.
_DATABASE_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def _database_url(url: str) -> str:
    """Return ``url`` with the driver Langos uses; a plain ``postgresql://`` URL gets asyncpg.

    The error names only the scheme, since the rest of the URL may contain a password.
    """
    scheme, separator, rest = url.partition("://")
    driver = _DATABASE_DRIVERS.get(scheme.lower()) if separator else None
    if driver is None:
        described = f"starts with {scheme + separator!r}" if separator else "has no scheme"
        raise ConfigError(
            f"LANGOS_DATABASE_URL {described}, which Langos does not support; use "
            "postgresql://USER@HOST:5432/DATABASE for PostgreSQL or sqlite:///PATH for a SQLite file"
        )
    try:
        parsed = make_url(f"{driver}://{rest}")
    except ArgumentError:
        raise ConfigError("LANGOS_DATABASE_URL is not a valid database URL; use the form shown in the README") from None
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq's sslmode is asyncpg's ssl, with the same values (disable, require, verify-full, ...).
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``environ`` (default: ``os.environ``), then apply ``overrides``."""
    env = os.environ if environ is None else environ

    def get(name: str, default: str | None = None) -> str | None:
        value = env.get(ENV_PREFIX + name)
        return default if value in (None, "") else value

    data_dir = Path(get("DATA_DIR", "var")).resolve()
    database_url = _database_url(get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'langos.db'}")

    plugins_raw = get("PLUGINS_FILE", "plugins.toml")
    plugins_file = Path(plugins_raw).resolve()
    if plugins_file.exists():
        connectors = load_plugins_file(plugins_file)
    elif get("PLUGINS_FILE") is not None:
        raise ConfigError(f"LANGOS_PLUGINS_FILE={plugins_raw!r} does not exist; point it at a plugins.toml")
    else:
        plugins_file, connectors = None, {}

    encryption_raw = get("ENCRYPTION_KEYS")
    encryption_keys = tuple(k.strip() for k in encryption_raw.split(",") if k.strip()) if encryption_raw else None

    mail = MailSettings(
        backend=get("MAIL_BACKEND", "log"),
        sender=get("MAIL_FROM", MailSettings.sender),
        smtp_host=get("SMTP_HOST", "127.0.0.1"),
        smtp_port=_parse_number("LANGOS_SMTP_PORT", get("SMTP_PORT", "25"), int),
        smtp_username=get("SMTP_USERNAME"),
        smtp_password=get("SMTP_PASSWORD"),
        smtp_starttls=_parse_bool("LANGOS_SMTP_STARTTLS", get("SMTP_STARTTLS", "false")),
    )
    if mail.backend not in {"log", "smtp"}:
        raise ConfigError(f"LANGOS_MAIL_BACKEND={mail.backend!r} is not supported; use log or smtp")

    log_format = (get("LOG_FORMAT", "text") or "text").lower()
    if log_format not in {"text", "json"}:
        raise ConfigError(f"LANGOS_LOG_FORMAT={log_format!r} is not supported; use text or json")

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        public_url=get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        plugins_file=plugins_file,
        connectors=connectors,
        encryption_keys=encryption_keys,
        secret_key=get("SECRET_KEY"),
        mail=mail,
        key_overlap_hours=_parse_number("LANGOS_KEY_OVERLAP_HOURS", get("KEY_OVERLAP_HOURS", "24"), float),
        auth_cache_seconds=_parse_number("LANGOS_AUTH_CACHE_SECONDS", get("AUTH_CACHE_SECONDS", "1"), float),
        rate_limit_per_minute=_parse_number("LANGOS_RATE_LIMIT_PER_MINUTE", get("RATE_LIMIT_PER_MINUTE", "1200"), float),
        max_body_bytes=_parse_number("LANGOS_MAX_BODY_BYTES", get("MAX_BODY_BYTES", "65536"), int),
        delivery_poll_interval=_parse_number(
            "LANGOS_DELIVERY_POLL_SECONDS", get("DELIVERY_POLL_SECONDS", "1.0"), float
        ),
        delivery_max_attempts=_parse_number("LANGOS_DELIVERY_MAX_ATTEMPTS", get("DELIVERY_MAX_ATTEMPTS", "20"), int),
        delivery_retry_window_seconds=_parse_number(
            "LANGOS_DELIVERY_RETRY_WINDOW_SECONDS", get("DELIVERY_RETRY_WINDOW_SECONDS", "86400"), float
        ),
        delivery_lease_seconds=_parse_number("LANGOS_DELIVERY_LEASE_SECONDS", get("DELIVERY_LEASE_SECONDS", "60"), float),
        delivery_backoff_base=_parse_number(
            "LANGOS_DELIVERY_BACKOFF_SECONDS", get("DELIVERY_BACKOFF_SECONDS", "2.0"), float
        ),
        reminder_hours=_parse_number("LANGOS_REMINDER_HOURS", get("REMINDER_HOURS", "24"), float),
        run_worker=_parse_bool("LANGOS_RUN_WORKER", get("RUN_WORKER", "true")),
        log_level=get("LOG_LEVEL", "INFO").upper(),
        log_format=get("LOG_FORMAT", "text").lower(),
        environ={key: value for key, value in env.items() if key.startswith(ENV_PREFIX)},
    )
    return dataclasses.replace(settings, **overrides) if overrides else settings
