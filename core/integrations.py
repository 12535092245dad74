"""Integrations: connecting a workspace to an ATS, and the keys the ATS uses to call Langos."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Secret
from .exceptions import NotFound, RequestValidationError
from .models import ApiKey, Integration, utcnow
from .types import AccountInfo, SetupInstructions

if TYPE_CHECKING:
    from .host import Host

logger = logging.getLogger(__name__)

# A key's last_used_at is written at most this often, so a busy key does not write on every call.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class IssuedKey:
    """A key just issued: ``key`` is shown once and never stored."""

    key: Secret
    record: ApiKey
    instructions: SetupInstructions | None = None


@dataclasses.dataclass(frozen=True)
class ConnectResult:
    account: AccountInfo
    issued: IssuedKey | None
    # True when a stored credential was replaced, False for a new connection
    replaced: bool = False


async def get_integration(session: AsyncSession, workspace_id: str, connector: str) -> Integration | None:
    return await session.scalar(
        select(Integration).where(Integration.workspace_id == workspace_id, Integration.connector == connector)
    )


async def get_or_create_integration(session: AsyncSession, workspace_id: str, connector: str) -> Integration:
    integration = await get_integration(session, workspace_id, connector)
    if integration is None:
        integration = Integration(workspace_id=workspace_id, connector=connector, status="not_connected")
        session.add(integration)
        await session.flush()
    return integration


async def active_keys(session: AsyncSession, integration_id: str, now: dt.datetime | None = None) -> list[ApiKey]:
    now = now or utcnow()
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.integration_id == integration_id, ApiKey.revoked_at.is_(None)).order_by(ApiKey.created_at)
    )
    return [row for row in rows if row.is_active(now)]


async def connect(
    host: Host, session: AsyncSession, *, workspace_id: str, connector: str, credential: Secret, actor: str
) -> ConnectResult:
    """Check ``credential`` with the ATS, store it encrypted, and issue a key when none is active.

    The credential is checked before anything is written, so a rejected credential leaves
    the integration as it was. Raises ``CredentialRejected`` or ``UpstreamUnavailable``.
    """
    if not credential.reveal().strip():
        raise RequestValidationError("The API key is empty. Paste the key you created in the ATS.", field="credential")
    credential = Secret(credential.reveal().strip())

    integration = await get_integration(session, workspace_id, connector)
    context = host.connector_context(connector, workspace_id, integration.id if integration else None)
    account = await host.hooks.check_credential(connector, context=context, credential=credential)

    replaced = integration is not None and integration.credential_encrypted is not None
    integration = integration or await get_or_create_integration(session, workspace_id, connector)
    integration.credential_encrypted = host.vault.encrypt(credential)
    integration.status = "connected"
    integration.account_label = account.label
    integration.error_message = None
    integration.connected_at = utcnow()

    issued = None
    if not await active_keys(session, integration.id):
        issued = await issue_key(host, session, integration, actor=actor)
    logger.info("workspace %s connected %s (account %r) by %s", workspace_id, connector, account.label, actor)
    return ConnectResult(account=account, issued=issued, replaced=replaced)


async def issue_key(host: Host, session: AsyncSession, integration: Integration, *, actor: str) -> IssuedKey:
    key = host.hasher.generate("ats")
    record = ApiKey(
        workspace_id=integration.workspace_id,
        integration_id=integration.id,
        kind="ats",
        prefix=host.hasher.prefix(key.reveal()),
        digest=host.hasher.digest(key.reveal()),
        created_by=actor,
    )
    session.add(record)
    await session.flush()

    instructions = host.hooks.key_issued(
        integration.connector,
        workspace_id=integration.workspace_id,
        key_prefix=record.prefix,
        base_url=host.connector_base_url(integration.connector),
    )
    logger.info("issued key %s for %s in workspace %s by %s", record.prefix, integration.connector, integration.workspace_id, actor)
    return IssuedKey(key=key, record=record, instructions=instructions)


async def rotate_key(
    host: Host, session: AsyncSession, integration: Integration, *, actor: str, overlap: dt.timedelta
) -> IssuedKey:
    """Issue a new key; the keys active until now keep working for ``overlap``, then expire."""
    if integration.status == "not_connected":
        raise RequestValidationError("Connect the integration before rotating its key.", field="connector")

    expires = utcnow() + overlap
    for old in await active_keys(session, integration.id):
        if old.expires_at is None or old.expires_at > expires:
            old.expires_at = expires
    issued = await issue_key(host, session, integration, actor=actor)
    host.key_cache.clear()
    logger.info("rotated keys of %s in workspace %s; old keys expire at %s", integration.connector, integration.workspace_id, expires.isoformat())
    return issued


async def revoke_key(session: AsyncSession, workspace_id: str, key_id: str, *, actor: str) -> tuple[ApiKey, bool]:
    """Revoke a key at once; return it and whether this call revoked it (False when it already was)."""
    key = await session.get(ApiKey, key_id)
    if key is None or key.workspace_id != workspace_id:
        raise NotFound(f"key {key_id!r} not found")
    if key.revoked_at is not None:
        return key, False
    key.revoked_at = utcnow()
    logger.info("revoked key %s in workspace %s by %s", key.prefix, workspace_id, actor)
    return key, True


async def disconnect(session: AsyncSession, integration: Integration, *, actor: str) -> None:
    """Forget the ATS credential and revoke every key of the integration."""
    now = utcnow()
    await session.execute(
        update(ApiKey).where(ApiKey.integration_id == integration.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
    )
    integration.status = "not_connected"
    integration.credential_encrypted = None
    integration.account_label = None
    integration.error_message = None
    integration.connected_at = None
    logger.info("workspace %s disconnected %s by %s", integration.workspace_id, integration.connector, actor)


async def authenticate_key(host: Host, session: AsyncSession, key: str, kind: str) -> ApiKey | None:
    """Return the active key record matching ``key``, or None."""
    if not key.startswith(f"lgs_{kind}_"):
        return None
    digest = host.hasher.digest(key)
    record = await session.scalar(select(ApiKey).where(ApiKey.digest == digest, ApiKey.kind == kind))
    now = utcnow()
    if record is None or not hmac.compare_digest(record.digest, digest) or not record.is_active(now):
        return None
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        record.last_used_at = now
    return record
