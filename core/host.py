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
import datetime as dt
import hmac
import logging
import time
from typing import AsyncIterator

import httpx
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from . import __version__
from .config import Settings
from .crypto import KeyHasher, Secret, Vault, load_or_create_encryption_keys, load_or_create_secret_key
from .db import alembic_config, create_engine, create_sessionmaker
from .exceptions import AuthenticationError, ConfigError, RateLimited
from .flights import Flights
from .integrations import LAST_USED_RESOLUTION
from .mail import MailBackend, create_backend
from .models import ApiKey, Integration, utcnow
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
    connector: str = ""
    expires_at: dt.datetime | None = None


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` timezone-aware; Core queries on SQLite return naive UTC datetimes."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


class KeyCache:
    """Recently authenticated ATS keys, by digest, each kept for ``ttl`` seconds."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, AtsCaller]] = {}

    def get(self, digest: str) -> AtsCaller | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored_at, caller = entry
        if time.monotonic() - stored_at > self.ttl or (caller.expires_at is not None and caller.expires_at <= utcnow()):
            self._entries.pop(digest, None)
            return None
        return caller

    def put(self, digest: str, caller: AtsCaller) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), caller)

    def clear(self) -> None:
        """Forget every cached key; called when this process revokes, rotates or disconnects keys."""
        self._entries.clear()


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


class RateLimiter:
    """A token bucket per key: ``per_minute`` calls a minute on average, bursts up to ``per_minute``.

    NOTE: buckets are kept per server process, so with N processes a key may make up to
    N times the limit.
    """

    def __init__(self, per_minute: float, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key_id: str) -> float:
        """Spend one call of ``key_id``; return 0, or the seconds to wait when the bucket is empty."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        tokens, updated = self._buckets.get(key_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key_id] = (tokens - 1, now)
        return 0.0


class Host:
    """The running host's API for connectors: sessions, key checks, hooks and HTTP clients."""

    def __init__(self, settings: Settings, hooks: Hooks) -> None:
        self.settings = settings
        self.hooks = hooks
        self.vault = Vault(load_or_create_encryption_keys(settings.encryption_keys, settings.data_dir))
        self.secret_key = load_or_create_secret_key(settings.secret_key, settings.data_dir)
        self.hasher = KeyHasher(self.secret_key)
        self.key_cache = KeyCache(settings.auth_cache_seconds)
        self._key_lookups = Flights()
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
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
        session = self._sessionmaker()
        try:
            yield session
        finally:
            # A session that never began a transaction has no connection checked out, so a call
            # answered from the caches skips the cost of closing it.
            if session.in_transaction() or session.identity_map:
                await session.close()

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

        The key must be an active ATS key of a connected integration of ``connector``, and
        within its rate limit (``RateLimited`` otherwise). A
        successful lookup is cached for ``auth_cache_seconds`` (1 s by default), so a key
        revoked in another process stops working within that time; this process drops its
        cached keys as soon as it revokes or rotates them.
        """
        candidates = keys_from_request(request)
        if not candidates:
            raise AuthenticationError("missing API key: send the Langos API key as the HTTP Basic username")

        for candidate in candidates:
            if not candidate.startswith("lgs_ats_"):
                continue
            digest = self.hasher.digest(candidate)
            caller = await self._caller_for_digest(session, digest)
            if caller is None:
                continue
            if caller.connector != connector:
                continue
            request.state.workspace_id = caller.workspace_id
            wait = self.rate_limiter.take(caller.key_id)
            if wait > 0:
                logger.warning("key %s of workspace %s is over its rate limit", caller.key_prefix, caller.workspace_id)
                raise RateLimited(
                    f"rate limit exceeded: this key may make {self.rate_limiter.capacity:g} calls a minute; "
                    f"retry after {wait:.1f} s",
                    retry_after=wait,
                )
            return caller
        raise AuthenticationError("invalid API key: the key is unknown, revoked or expired; issue a new one in Langos")

    async def _caller_for_digest(self, session: AsyncSession, digest: str) -> AtsCaller | None:
        """Return the caller of a key digest from the cache, or look it up and cache it.

        Concurrent requests with the same uncached key wait for one lookup, so a burst of calls
        after the cache entry expires makes one query instead of one per request. A request
        whose key the lookup rejected, or whose lookup failed, looks the key up again itself.
        """
        caller = self.key_cache.get(digest)
        if caller is None and await self._key_lookups.wait(digest):
            caller = self.key_cache.get(digest)
        if caller is not None:
            return caller

        with self._key_lookups.load(digest):
            caller = await self._lookup_ats_key(session, digest)
            if caller is not None:
                self.key_cache.put(digest, caller)
        return caller

    async def _lookup_ats_key(self, session: AsyncSession, digest: str) -> AtsCaller | None:
        row = (await session.execute(
            select(ApiKey.id, ApiKey.digest, ApiKey.workspace_id, ApiKey.integration_id, ApiKey.prefix, ApiKey.expires_at,
                   ApiKey.revoked_at, ApiKey.last_used_at, Integration.connector, Integration.status)
            .join(Integration, Integration.id == ApiKey.integration_id)
            .where(ApiKey.digest == digest, ApiKey.kind == "ats")
        )).first()
        now = utcnow()
        if row is None or not hmac.compare_digest(row.digest, digest):
            return None
        if row.revoked_at is not None or row.status == "not_connected":
            return None
        if row.expires_at is not None and as_utc(row.expires_at) <= now:
            return None
        if row.last_used_at is None or now - as_utc(row.last_used_at) > LAST_USED_RESOLUTION:
            await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        expires = as_utc(row.expires_at) if row.expires_at is not None else None
        return AtsCaller(
            workspace_id=row.workspace_id,
            integration_id=row.integration_id,
            key_id=row.id,
            key_prefix=row.prefix,
            connector=row.connector,
            expires_at=expires,
        )
