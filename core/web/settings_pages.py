"""Settings > Integrations: connect an ATS, manage the keys it calls Langos with, watch deliveries."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import audit, integrations
from ..crypto import Secret
from ..delivery import ReplayRejected, replay_delivery, resume_integration, retry_delivery
from ..exceptions import ConfigError, CredentialRejected, NotFound, RequestValidationError, UpstreamError, UpstreamUnavailable
from ..integrations import IssuedKey
from ..models import AdminUser, ApiKey, Delivery, DeliveryAttempt, Integration, utcnow
from ..types import SetupInstructions
from .common import check_csrf, current_user, flash, get_host, login_redirect, read_form, redirect, render

logger = logging.getLogger(__name__)

STATUS_LABELS = {"not_connected": "Not connected", "connected": "Connected", "error": "Needs attention"}
RECENT_DELIVERIES = 10
DELIVERIES_PAGE_SIZE = 50
DELIVERY_STATUSES = ("pending", "delivered", "skipped", "failed")


async def home(request: Request) -> Response:
    return redirect("/settings/integrations")


async def healthz(request: Request) -> Response:
    """Liveness: the process is up and serving requests."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database responds and its schema is at the newest migration."""
    host = get_host(request)
    try:
        revision = await host.schema_revision()
    except Exception as exc:
        logger.warning("readiness check failed: database error %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": f"error: {type(exc).__name__}"}, status_code=503)
    expected = host.expected_schema_revision()
    if revision != expected:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "schema": revision, "expected_schema": expected}, status_code=503
        )
    return JSONResponse({"status": "ready", "database": "ok", "schema": revision})


async def _connector_rows(request: Request, session: AsyncSession, user: AdminUser) -> list[dict[str, Any]]:
    host = get_host(request)
    now = utcnow()
    rows = []
    for name in host.hooks.connectors:
        info = host.hooks.info(name)
        integration = await integrations.get_integration(session, user.workspace_id, name)
        keys: list[ApiKey] = []
        deliveries: list[Delivery] = []
        counts: dict[str, int] = {}
        if integration is not None:
            keys = list(
                await session.scalars(
                    select(ApiKey)
                    .where(ApiKey.integration_id == integration.id, ApiKey.revoked_at.is_(None))
                    .order_by(ApiKey.created_at.desc())
                )
            )
            keys = [key for key in keys if key.is_active(now)]
            deliveries = list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.integration_id == integration.id)
                    .order_by(Delivery.created_at.desc())
                    .limit(RECENT_DELIVERIES)
                )
            )
            counts = dict(
                (await session.execute(
                    select(Delivery.status, func.count())
                    .where(Delivery.integration_id == integration.id)
                    .group_by(Delivery.status)
                )).all()
            )
        status = integration.status if integration else "not_connected"
        rows.append(
            {
                "name": name,
                "info": info,
                "integration": integration,
                "status": status,
                "status_label": STATUS_LABELS.get(status, status),
                "api_keys": keys,
                "deliveries": deliveries,
                "counts": counts,
                "base_url": host.connector_base_url(name),
            }
        )
    return rows


async def _page(
    request: Request,
    session: AsyncSession,
    user: AdminUser,
    *,
    issued: IssuedKey | None = None,
    issued_for: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "connectors": await _connector_rows(request, session, user),
        "issued": issued,
        "issued_for": issued_for,
        "errors": errors or {},
        "overlap_hours": get_host(request).settings.key_overlap_hours,
    }
    return render(request, "settings/integrations.html", context, status_code=status_code)


ISSUED_SESSION_KEY = "issued_key"


def _keep_issued(request: Request, connector: str, issued: IssuedKey) -> None:
    """Keep a new key for the next page view only, encrypted, since the session cookie is only signed."""
    instructions = issued.instructions
    request.session[ISSUED_SESSION_KEY] = {
        "connector": connector,
        "key": get_host(request).vault.encrypt(issued.key),
        "base_url": instructions.base_url if instructions else "",
        "steps": list(instructions.steps) if instructions else [],
    }


def _pop_issued(request: Request) -> tuple[IssuedKey | None, str | None]:
    stored = request.session.pop(ISSUED_SESSION_KEY, None)
    if not stored:
        return None, None
    try:
        key = get_host(request).vault.decrypt(stored["key"])
    except (ConfigError, KeyError, TypeError):
        return None, None
    instructions = SetupInstructions(base_url=stored.get("base_url", ""), steps=tuple(stored.get("steps", [])))
    return IssuedKey(key=key, record=None, instructions=instructions), stored.get("connector")  # type: ignore[arg-type]


async def integrations_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        issued, issued_for = _pop_issued(request)
        return await _page(request, session, user, issued=issued, issued_for=issued_for)


async def _admin_form(request: Request, session: AsyncSession) -> tuple[AdminUser, Any, str]:
    """Return the signed-in admin, the posted form and the connector, or raise HTTPException."""
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to change integrations.")
    if user.role != "admin":
        raise HTTPException(403, "Only workspace admins can change integrations.")
    form = await read_form(request)
    if not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Reload the page and try again.")
    connector = request.path_params["connector"]
    if connector not in get_host(request).hooks.connectors:
        raise HTTPException(404, f"No connector named {connector!r} is installed.")
    return user, form, connector


async def connect(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        user, form, connector = await _admin_form(request, session)
        credential = Secret(str(form.get("credential", "")))
        try:
            result = await integrations.connect(
                host, session, workspace_id=user.workspace_id, connector=connector, credential=credential, actor=user.email
            )
        except (RequestValidationError, CredentialRejected) as exc:
            logger.info("connect %s in workspace %s rejected: %s", connector, user.workspace_id, exc)
            return await _error_page(request, session, connector, str(exc), 400)
        except UpstreamUnavailable as exc:
            logger.warning("connect %s in workspace %s failed: %s", connector, user.workspace_id, exc)
            message = f"Langos could not check the key because the ATS did not respond ({exc.message}). Try again in a few minutes."
            return await _error_page(request, session, connector, message, 502)
        except UpstreamError as exc:
            logger.warning("connect %s in workspace %s failed: %s", connector, user.workspace_id, exc)
            return await _error_page(request, session, connector, exc.message, 502)
        _audit(request, session, user, "credential_replaced" if result.replaced else "connect", connector,
               {"account": result.account.label, **({"key_prefix": result.issued.record.prefix} if result.issued else {})})
        await session.commit()

        display = host.hooks.info(connector).display_name
        flash(request, f"Connected to {display} (account: {result.account.label}).", "success")
        if result.issued is not None:
            _keep_issued(request, connector, result.issued)
        return redirect("/settings/integrations")


def _audit(request: Request, session: AsyncSession, user: AdminUser, action: str, target: str,
           detail: dict[str, Any] | None = None) -> None:
    audit.record(session, workspace_id=user.workspace_id, actor=user.email, action=action, target=target,
                 client_address=request.client.host if request.client else None, detail=detail)


async def _error_page(request: Request, session: AsyncSession, connector: str, message: str, status_code: int) -> Response:
    """Roll back whatever the failed action wrote and show the page with ``message``."""
    await session.rollback()
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to change integrations.")
    return await _page(request, session, user, errors={connector: message}, status_code=status_code)


async def _integration(session: AsyncSession, user: AdminUser, connector: str) -> Integration:
    integration = await integrations.get_integration(session, user.workspace_id, connector)
    if integration is None or integration.status == "not_connected":
        raise HTTPException(409, "Connect the integration first.")
    return integration


async def rotate(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        user, _form, connector = await _admin_form(request, session)
        integration = await _integration(session, user, connector)
        overlap = dt.timedelta(hours=host.settings.key_overlap_hours)
        issued = await integrations.rotate_key(host, session, integration, actor=user.email, overlap=overlap)
        _audit(request, session, user, "key_rotated", connector, {"key_prefix": issued.record.prefix})
        await session.commit()
        flash(request, f"Issued a new key. The previous keys keep working for {host.settings.key_overlap_hours:g} hours.", "success")
        _keep_issued(request, connector, issued)
        return redirect("/settings/integrations")


async def issue(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        user, _form, connector = await _admin_form(request, session)
        integration = await _integration(session, user, connector)
        issued = await integrations.issue_key(host, session, integration, actor=user.email)
        _audit(request, session, user, "key_issued", connector, {"key_prefix": issued.record.prefix})
        await session.commit()
        _keep_issued(request, connector, issued)
        return redirect("/settings/integrations")


async def revoke(request: Request) -> Response:
    async with get_host(request).session() as session:
        user, _form, connector = await _admin_form(request, session)
        try:
            key, revoked = await integrations.revoke_key(session, user.workspace_id, request.path_params["key_id"], actor=user.email)
        except NotFound:
            raise HTTPException(404, "That key does not exist.") from None
        if revoked:
            _audit(request, session, user, "key_revoked", connector, {"key_prefix": key.prefix})
        await session.commit()
        get_host(request).key_cache.clear()
        flash(request, f"Revoked the key {key.prefix}…; calls with it are rejected from now on.", "success")
    return redirect("/settings/integrations")


async def disconnect(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        user, _form, connector = await _admin_form(request, session)
        integration = await _integration(session, user, connector)
        await integrations.disconnect(session, integration, actor=user.email)
        _audit(request, session, user, "disconnect", connector)
        await session.commit()
        host.key_cache.clear()
        flash(request, f"Disconnected {host.hooks.info(connector).display_name}. Its keys were revoked.", "success")
    return redirect("/settings/integrations")


async def retry(request: Request) -> Response:
    async with get_host(request).session() as session:
        user, _form, connector = await _admin_form(request, session)
        delivery = await retry_delivery(session, user.workspace_id, request.path_params["delivery_id"])
        if delivery is None:
            raise HTTPException(404, "That delivery does not exist.")
        _audit(request, session, user, "delivery_retried", connector, {"delivery_id": delivery.id})
        await session.commit()
        flash(request, "The update was queued again.", "success")
    return redirect(_back(request, connector))


async def replay(request: Request) -> Response:
    async with get_host(request).session() as session:
        user, _form, connector = await _admin_form(request, session)
        try:
            replayed = await replay_delivery(session, user.workspace_id, request.path_params["delivery_id"])
        except ReplayRejected as exc:
            flash(request, str(exc), "error")
            return redirect(_back(request, connector))
        if replayed is None:
            raise HTTPException(404, "That delivery does not exist.")
        _audit(request, session, user, "delivery_replayed", connector, {"delivery_id": replayed.id})
        await session.commit()
        flash(request, "The update was queued to be sent again.", "success")
    return redirect(_back(request, connector))


async def resume(request: Request) -> Response:
    async with get_host(request).session() as session:
        user, _form, connector = await _admin_form(request, session)
        integration = await _integration(session, user, connector)
        await resume_integration(session, integration)
        _audit(request, session, user, "deliveries_resumed", connector)
        await session.commit()
        flash(request, "Deliveries resumed; the waiting updates go out now.", "success")
    return redirect(_back(request, connector))


def _back(request: Request, connector: str) -> str:
    """Return the page the form was posted from: the Deliveries page or the integrations page."""
    referer = request.headers.get("referer", "")
    if f"/settings/integrations/{connector}/deliveries" in referer:
        return f"/settings/integrations/{connector}/deliveries"
    return "/settings/integrations"


async def deliveries_page(request: Request) -> Response:
    host = get_host(request)
    connector = request.path_params["connector"]
    if connector not in host.hooks.connectors:
        raise HTTPException(404, f"No connector named {connector!r} is installed.")
    status = request.query_params.get("status") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise HTTPException(400, f"status {status!r} is not one of {', '.join(DELIVERY_STATUSES)}.")
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1

    async with host.session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        integration = await integrations.get_integration(session, user.workspace_id, connector)
        rows: list[Delivery] = []
        attempts: dict[str, list[DeliveryAttempt]] = {}
        total = 0
        if integration is not None:
            query = select(Delivery).where(Delivery.integration_id == integration.id)
            if status:
                query = query.where(Delivery.status == status)
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = list(await session.scalars(
                query.order_by(Delivery.created_at.desc(), Delivery.sequence.desc())
                .offset((page - 1) * DELIVERIES_PAGE_SIZE).limit(DELIVERIES_PAGE_SIZE)
            ))
            for attempt in await session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_([row.id for row in rows]))
                .order_by(DeliveryAttempt.attempted_at)
            ):
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
        newest_delivered = _newest_delivered(rows)
        context = {
            "info": host.hooks.info(connector),
            "connector": connector,
            "integration": integration,
            "deliveries": rows,
            "attempts": attempts,
            "newest_delivered": newest_delivered,
            "status": status,
            "statuses": DELIVERY_STATUSES,
            "page": page,
            "pages": max(1, -(-total // DELIVERIES_PAGE_SIZE)),
            "total": total,
        }
        return render(request, "settings/deliveries.html", context)


def _newest_delivered(rows: list[Delivery]) -> set[str]:
    """Return the ids of the rows that are their assessment's newest delivered update on this page."""
    newest: dict[str, Delivery] = {}
    for row in rows:
        if row.status == "delivered" and (row.assessment_id not in newest or row.sequence > newest[row.assessment_id].sequence):
            newest[row.assessment_id] = row
    return {row.id for row in newest.values()}


def routes() -> list[Route]:
    prefix = "/settings/integrations"
    return [
        Route(prefix, integrations_page, methods=["GET"], name="integrations"),
        Route(prefix + "/{connector}/connect", connect, methods=["POST"]),
        Route(prefix + "/{connector}/keys", issue, methods=["POST"]),
        Route(prefix + "/{connector}/rotate", rotate, methods=["POST"]),
        Route(prefix + "/{connector}/keys/{key_id}/revoke", revoke, methods=["POST"]),
        Route(prefix + "/{connector}/disconnect", disconnect, methods=["POST"]),
        Route(prefix + "/{connector}/resume", resume, methods=["POST"]),
        Route(prefix + "/{connector}/deliveries", deliveries_page, methods=["GET"], name="deliveries"),
        Route(prefix + "/{connector}/deliveries/{delivery_id}/retry", retry, methods=["POST"]),
        Route(prefix + "/{connector}/deliveries/{delivery_id}/replay", replay, methods=["POST"]),
    ]
