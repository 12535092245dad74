"""The running host's public API, handed to connectors through ``langos_connector_routes``.

A connector's route handlers use it to open a database session, authenticate the calling
ATS by its key and call the assessment hooks. ``Host`` holds what the lifespan opens (the
database engine, one HTTP client per connector) and closes it on shutdown.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import logging
from typing import AsyncIterator

import httpx
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from . import __version__
from .config import Settings
from .crypto import KeyHasher, Secret, Vault, load_or_create_encryption_keys, load_or_create_secret_key
from .db import alembic_config, create_engine, create_sessionmaker
from .exceptions import AuthenticationError, ConfigError
from .integrations import authenticate_key
from .mail import MailBackend, create_backend
from .models import Integration
from .plugins import Hooks
from .types import ConnectorContext

logger = logging.getLogger(__name__)

USER_AGENT = f"Langos-Integrations/{__version__}"
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
HTTP_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20)


@dataclasses.dataclass(frozen=True)
class AtsCaller:
    """The workspace and integration selected by the key an ATS called with."""

    workspace_id: str
    integration_id: str
    key_id: str
    key_prefix: str


def keys_from_request(request: Request) -> list[str]:
    """Return the candidate API keys in the Authorization header, most likely first.

    Accepts HTTP Basic with the key as the username (or as the password when the username
    is empty or not a key) and ``Bearer <key>``.
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return [value]
    if scheme.lower() != "basic" or not value:
        return []
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return []
    username, _, password = decoded.partition(":")
    return [candidate for candidate in (username, password) if candidate]


class Host:
    """What connectors may use of the running host."""

    def __init__(self, settings: Settings, hooks: Hooks) -> None:
        self.settings = settings
        self.hooks = hooks
        self.vault = Vault(load_or_create_encryption_keys(settings.encryption_keys, settings.data_dir))
        self.secret_key = load_or_create_secret_key(settings.secret_key, settings.data_dir)
        self.hasher = KeyHasher(self.secret_key)
        self.mail: MailBackend = create_backend(settings.mail)
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._http: dict[str, httpx.AsyncClient] = {}

    # Lifecycle

    async def open(self) -> None:
        self._engine = create_engine(self.settings.database_url)
        self._sessionmaker = create_sessionmaker(self._engine)
        for name in self.hooks.connectors:
            self._http[name] = httpx.AsyncClient(
                timeout=HTTP_TIMEOUT,
                limits=HTTP_LIMITS,
                headers={"User-Agent": f"{USER_AGENT} (connector {name})"},
                follow_redirects=False,
            )
        logger.info("host opened: database %s, connectors %s", self._engine.url.render_as_string(hide_password=True),
                    ", ".join(self.hooks.connectors) or "none")

    async def close(self) -> None:
        for client in self._http.values():
            await client.aclose()
        self._http.clear()
        if self._engine is not None:
            await self._engine.dispose()
        logger.info("host closed")

    # Database

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the host is not open; the app's lifespan opens it")
        return self._engine

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session; the caller commits, and an exception rolls back."""
        if self._sessionmaker is None:
            raise RuntimeError("the host is not open; the app's lifespan opens it")
        async with self._sessionmaker() as session:
            yield session

    async def schema_revision(self) -> str | None:
        """Return the Alembic revision the database is at."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    def expected_schema_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.settings.database_url)).get_current_head()

    # Connectors

    def connector_base_url(self, connector: str) -> str:
        return self.settings.public_url + self.hooks.info(connector).mount_path

    def connector_context(self, connector: str, workspace_id: str, integration_id: str | None) -> ConnectorContext:
        client = self._http.get(connector)
        if client is None:
            raise RuntimeError(f"no HTTP client for connector {connector!r}; is the host open?")
        return ConnectorContext(
            connector=connector,
            workspace_id=workspace_id,
            integration_id=integration_id,
            options=self.settings.connector(connector).options,
            http=client,
        )

    def credential(self, integration: Integration) -> Secret:
        if integration.credential_encrypted is None:
            raise ConfigError(f"integration {integration.id} has no stored credential; connect it again")
        return self.vault.decrypt(integration.credential_encrypted)

    async def authenticate_ats(self, session: AsyncSession, request: Request, connector: str) -> AtsCaller:
        """Return the caller selected by the request's key, or raise ``AuthenticationError``.

        The key must be an active ATS key of a connected integration of ``connector``.
        """
        candidates = keys_from_request(request)
        if not candidates:
            raise AuthenticationError("missing API key: send the Langos API key as the HTTP Basic username")

        for candidate in candidates:
            record = await authenticate_key(self, session, candidate, "ats")
            if record is None or record.integration_id is None:
                continue
            integration = await session.get(Integration, record.integration_id)
            if integration is None or integration.connector != connector or integration.status == "not_connected":
                continue
            request.state.workspace_id = record.workspace_id
            return AtsCaller(
                workspace_id=record.workspace_id,
                integration_id=record.integration_id,
                key_id=record.id,
                key_prefix=record.prefix,
            )
        raise AuthenticationError("invalid API key: the key is unknown, revoked or expired; issue a new one in Langos")
