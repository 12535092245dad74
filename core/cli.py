"""The ``langos`` command: run the server or the demo, and script what the settings page does.

Secrets are read from standard input (``langos connect`` reads the ATS key there) and an
issued Langos key is printed once to standard output; neither is ever logged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import json
import logging
import signal
import sys
from typing import AsyncIterator, Sequence

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, integrations, invitations, seed
from . import assessment_types
from .config import Settings, load_settings
from .crypto import Secret
from .db import check_connection, upgrade_async
from .delivery import DeliveryWorker, ReplayRejected, replay_delivery, resume_integration, retry_delivery
from .exceptions import LangosError, NotFound
from .host import Host
from .logs import configure_logging
from .models import ApiKey, Assessment, Delivery, DeliveryAttempt, Email, Integration, Workspace
from .plugins import build_plugin_manager

logger = logging.getLogger(__name__)


class CommandError(Exception):
    """A command failed in a way the user can fix; the message says how."""


@contextlib.asynccontextmanager
async def open_host(settings: Settings) -> AsyncIterator[Host]:
    await check_connection(settings.database_url)
    await upgrade_async(settings.database_url)
    host = Host(settings, build_plugin_manager(settings))
    await host.open()
    try:
        yield host
    finally:
        await host.close()


async def _workspace(host: Host, slug: str) -> Workspace:
    async with host.session() as session:
        workspace = await seed.get_workspace(session, slug)
    if workspace is None:
        raise CommandError(
            f"no workspace {slug!r} in {host.engine.url.render_as_string(hide_password=True)}; "
            f"set LANGOS_DATA_DIR (or LANGOS_DATABASE_URL) to the data of the Langos that has it, "
            f"or create it with `langos workspace {slug}`"
        )
    return workspace


def _check_connector(host: Host, connector: str) -> None:
    if connector not in host.hooks.connectors:
        installed = ", ".join(host.hooks.connectors) or "none"
        raise CommandError(f"connector {connector!r} is not installed or enabled; installed: {installed}")


def _read_secret(prompt: str) -> str:
    try:
        value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    except EOFError:
        value = ""
    if not value:
        raise CommandError(f"nothing was read for {prompt.rstrip(': ').lower()!r}; type it at the prompt or pipe it to standard input")
    return value


def _print_issued(issued: integrations.IssuedKey) -> None:
    print(f"Langos API key (shown once): {issued.key.reveal()}")
    if issued.instructions is not None:
        print(f"Base URL: {issued.instructions.base_url}")
        for number, step in enumerate(issued.instructions.steps, start=1):
            print(f"  {number}. {step}")


# Commands


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    await check_connection(settings.database_url)
    await upgrade_async(settings.database_url)
    print("the database schema is at the newest migration")


async def cmd_workspace_create(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host, host.session() as session:
        workspace = await seed.create_workspace(session, args.slug, args.name or args.slug)
        if args.demo_assessments:
            await seed.add_assessment_types(session, workspace, seed.DEMO_ASSESSMENT_TYPES)
        await session.commit()
    print(f"created workspace {workspace.slug} ({workspace.id})")


async def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_secret("Password: ")
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            user = await seed.create_admin(session, workspace, args.email, password, role=args.role)
            await session.commit()
    print(f"created {user.role} {user.email} in workspace {workspace.slug}")


async def cmd_connect(settings: Settings, args: argparse.Namespace) -> None:
    credential = _read_secret(f"{args.connector} API key: ")
    async with open_host(settings) as host:
        _check_connector(host, args.connector)
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            result = await integrations.connect(
                host, session, workspace_id=workspace.id, connector=args.connector,
                credential=Secret(credential), actor=args.actor,
            )
            audit.record(session, workspace_id=workspace.id, actor=args.actor,
                         action="credential_replaced" if result.replaced else "connect", target=args.connector,
                         detail={"account": result.account.label})
            await session.commit()
    print(f"connected {args.connector} for workspace {workspace.slug} (account: {result.account.label})")
    if result.issued is not None:
        _print_issued(result.issued)
    else:
        print("the existing Langos API keys stay active; issue another with `langos issue-key`")


async def _connected(host: Host, slug: str, connector: str):  # type: ignore[no-untyped-def]
    _check_connector(host, connector)
    workspace = await _workspace(host, slug)
    async with host.session() as session:
        integration = await integrations.get_integration(session, workspace.id, connector)
    if integration is None or integration.status == "not_connected":
        raise CommandError(f"{connector} is not connected in workspace {slug!r}; run `langos connect` first")
    return workspace, integration


async def cmd_keys_issue(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        _, integration = await _connected(host, args.workspace, args.connector)
        async with host.session() as session:
            integration = await session.merge(integration)
            if args.rotate:
                overlap = dt.timedelta(hours=settings.key_overlap_hours if args.overlap_hours is None else args.overlap_hours)
                issued = await integrations.rotate_key(host, session, integration, actor=args.actor, overlap=overlap)
            else:
                issued = await integrations.issue_key(host, session, integration, actor=args.actor)
            audit.record(session, workspace_id=integration.workspace_id, actor=args.actor,
                         action="key_rotated" if args.rotate else "key_issued", target=args.connector,
                         detail={"key_prefix": issued.record.prefix})
            await session.commit()
    _print_issued(issued)
    if args.rotate:
        overlap = settings.key_overlap_hours if args.overlap_hours is None else args.overlap_hours
        print(f"the previous keys stop working in {overlap:g} hours")


async def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        _, integration = await _connected(host, args.workspace, args.connector)
        async with host.session() as session:
            keys = list(await session.scalars(select(ApiKey).where(ApiKey.integration_id == integration.id).order_by(ApiKey.created_at)))
    now = dt.datetime.now(dt.timezone.utc)
    if not keys:
        print("no keys")
    for key in keys:
        if key.is_active(now):
            state = "active"
        elif key.revoked_at is not None:
            state = "revoked"
        else:
            state = "expired"
        expires = key.expires_at.isoformat(timespec="seconds") if key.expires_at else "-"
        last_used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        print(f"{key.id}  {key.prefix}…  {state:8}  created {key.created_at.isoformat(timespec='seconds')} by {key.created_by}  "
              f"last used {last_used}  expires {expires}")


async def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            try:
                key, revoked = await integrations.revoke_key(session, workspace.id, args.key_id, actor=args.actor)
            except NotFound:
                raise CommandError(
                    f"no key with id {args.key_id!r} in workspace {args.workspace!r}; "
                    "pass the id (first column) that `langos keys` prints, not the key's prefix"
                ) from None
            if revoked:
                audit.record(session, workspace_id=workspace.id, actor=args.actor, action="key_revoked",
                             detail={"key_prefix": key.prefix})
            await session.commit()
    print(f"revoked {key.prefix}…" if revoked else f"{key.prefix}… was already revoked")


async def cmd_disconnect(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        _, integration = await _connected(host, args.workspace, args.connector)
        async with host.session() as session:
            integration = await session.merge(integration)
            await integrations.disconnect(session, integration, actor=args.actor)
            audit.record(session, workspace_id=integration.workspace_id, actor=args.actor, action="disconnect",
                         target=args.connector)
            await session.commit()
    print(f"disconnected {args.connector}; its keys were revoked")


async def cmd_integrations_list(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        rows = []
        async with host.session() as session:
            for name in host.hooks.connectors:
                integration = await integrations.get_integration(session, workspace.id, name)
                keys = await integrations.active_keys(session, integration.id) if integration else []
                rows.append({
                    "connector": name,
                    "status": integration.status if integration else "not_connected",
                    "account": integration.account_label if integration else None,
                    "error": integration.error_message if integration else None,
                    "active_keys": [key.prefix for key in keys],
                    "base_url": host.connector_base_url(name),
                })
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['connector']:12} {row['status']:14} account={row['account'] or '-'}  keys={','.join(row['active_keys']) or '-'}  "
              f"base_url={row['base_url']}" + (f"  error={row['error']}" if row["error"] else ""))


async def cmd_assessment_types(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            usages = await assessment_types.list_types(session, workspace.id)
            rows = [
                {
                    "id": usage.assessment_type.id,
                    "name": usage.assessment_type.name,
                    "status": "active" if usage.assessment_type.active else "retired",
                    "questions": sum(len(category.questions) for category in usage.assessment_type.categories),
                    "time_limit_minutes": usage.assessment_type.time_limit_minutes,
                    "pass_mark": usage.assessment_type.pass_mark,
                    "expiry_days": usage.assessment_type.expiry_days,
                    "assessments": usage.assessments,
                    "open_assessments": usage.open_assessments,
                }
                for usage in usages
            ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        pass_mark = "-" if row["pass_mark"] is None else f"{row['pass_mark']:g}%"
        print(f"{row['id']}  {row['status']:8} {row['questions']:3} questions  {row['time_limit_minutes']:4} min  "
              f"pass={pass_mark:5} expires={row['expiry_days']}d  assessments={row['assessments']} "
              f"({row['open_assessments']} open)  {row['name']}")


async def cmd_deliveries_list(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            query = select(Delivery).where(Delivery.workspace_id == workspace.id).order_by(Delivery.created_at.desc()).limit(args.limit)
            if args.status:
                query = query.where(Delivery.status == args.status)
            deliveries = list(await session.scalars(query))
            if not deliveries:
                print("no deliveries" + (f" with status {args.status}" if args.status else ""))
            attempts: dict[str, list[DeliveryAttempt]] = {}
            if args.attempts:
                rows = await session.scalars(
                    select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_([d.id for d in deliveries]))
                    .order_by(DeliveryAttempt.attempted_at)
                )
                for attempt in rows:
                    attempts.setdefault(attempt.delivery_id, []).append(attempt)
    for item in deliveries:
        status = "dead-lettered" if item.status == "failed" else item.status
        next_attempt = f"  next={item.next_attempt_at.isoformat(timespec='seconds')}" if item.status == "pending" else ""
        print(f"{item.id}  {item.created_at.isoformat(timespec='seconds')}  {item.connector:8} {item.event:10} {status:13} "
              f"attempts={item.attempts}  assessment={item.assessment_id}{next_attempt}"
              + (f"  error={item.last_error}" if item.last_error else ""))
        for attempt in attempts.get(item.id, []):
            print(f"    {attempt.attempted_at.isoformat(timespec='seconds')}  {attempt.outcome:9} http={attempt.status_code or '-'}  "
                  f"{attempt.duration_ms:.0f} ms  {attempt.summary}")


async def cmd_replay(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            try:
                replay = await replay_delivery(session, workspace.id, args.delivery_id)
            except ReplayRejected as exc:
                raise CommandError(str(exc)) from None
            if replay is None:
                raise CommandError(f"no delivery {args.delivery_id!r} in workspace {args.workspace!r}")
            await session.commit()
    print(f"queued the update again as delivery {replay.id}")


async def cmd_resume(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        _, integration = await _connected(host, args.workspace, args.connector)
        async with host.session() as session:
            integration = await session.merge(integration)
            await resume_integration(session, integration)
            audit.record(session, workspace_id=integration.workspace_id, actor="cli", action="deliveries_resumed",
                         target=args.connector)
            await session.commit()
    print(f"{args.connector} deliveries resumed")


async def cmd_deliveries_retry(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            delivery = await retry_delivery(session, workspace.id, args.delivery_id)
            if delivery is None:
                raise CommandError(f"no delivery {args.delivery_id!r} in workspace {args.workspace!r}")
            await session.commit()
    print(f"delivery {args.delivery_id} is {delivery.status}")


async def _assessment(session: AsyncSession, args: argparse.Namespace) -> Assessment:
    """Return the assessment named on the command line, in ``--workspace`` when it is given."""
    assessment = await session.get(Assessment, args.assessment_id)
    if assessment is None:
        raise CommandError(f"no assessment {args.assessment_id!r}; pass the id from its report's address, /reports/ID")
    if args.workspace is not None:
        workspace = await seed.get_workspace(session, args.workspace)
        if workspace is None or workspace.id != assessment.workspace_id:
            raise CommandError(f"no assessment {args.assessment_id!r} in workspace {args.workspace!r}")
    return assessment


async def cmd_resend(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host, host.session() as session:
        assessment = await _assessment(session, args)
        await invitations.resend(session, assessment, public_url=settings.public_url, actor=args.actor)
        audit.record(session, workspace_id=assessment.workspace_id, actor=args.actor, action="invitation_resent",
                     target=assessment.id)
        await session.commit()
    print(f"sent the invitation of assessment {assessment.id} again to {assessment.candidate_email}; "
          "the link in earlier emails no longer works")


async def cmd_extend(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host, host.session() as session:
        assessment = await _assessment(session, args)
        extension = await invitations.extend(
            session, assessment, args.days, public_url=settings.public_url, actor=args.actor
        )
        audit.record(session, workspace_id=assessment.workspace_id, actor=args.actor, action="invitation_extended",
                     target=assessment.id,
                     detail={"days": args.days, "expires_at": extension.expires_at.isoformat(),
                             "reopened": extension.reopened})
        await session.commit()
    until = extension.expires_at.isoformat(timespec="minutes")
    if extension.reopened:
        print(f"reopened assessment {assessment.id} until {until} and sent a new invitation; "
              "the link in earlier emails no longer works")
    else:
        print(f"the invitation of assessment {assessment.id} now expires at {until}")


async def cmd_cancel(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host, host.session() as session:
        assessment = await _assessment(session, args)
        await invitations.cancel(session, assessment, reason=args.reason, actor=args.actor)
        audit.record(session, workspace_id=assessment.workspace_id, actor=args.actor, action="assessment_cancelled",
                     target=assessment.id, detail={"reason": invitations.parse_reason(args.reason)})
        await session.commit()
    print(f"cancelled assessment {assessment.id}; the ATS receives the reason")


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        worker = DeliveryWorker(host, concurrency=args.concurrency)
        if args.once:
            await worker.drain()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)


async def cmd_emails(settings: Settings, args: argparse.Namespace) -> None:
    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            emails = list(await session.scalars(
                select(Email).where(Email.workspace_id == workspace.id).order_by(Email.created_at.desc()).limit(args.limit)
            ))
    if not emails:
        print("no emails")
    for message in emails:
        print(f"--- {message.created_at.isoformat(timespec='seconds')}  {message.kind} to {message.recipient}  [{message.status}]")
        if message.last_error:
            print(f"Last error: {message.last_error}")
        print(f"Subject: {message.subject}\n\n{message.body_text}")


async def cmd_engine_key(settings: Settings, args: argparse.Namespace) -> None:
    from .web.engine_api import issue_engine_key

    async with open_host(settings) as host:
        workspace = await _workspace(host, args.workspace)
        async with host.session() as session:
            key, _record = await issue_engine_key(host, session, workspace.id, args.actor)
            await session.commit()
    print(f"engine API key (shown once): {key.reveal()}")


async def cmd_generate_encryption_key(settings: Settings, args: argparse.Namespace) -> None:
    print(Fernet.generate_key().decode())


async def cmd_rotate_encryption_key(settings: Settings, args: argparse.Namespace) -> None:
    """Re-encrypt every stored ATS credential with the first of the configured encryption keys."""
    async with open_host(settings) as host, host.session() as session:
        rows = list(await session.scalars(select(Integration).where(Integration.credential_encrypted.is_not(None))))
        for integration in rows:
            integration.credential_encrypted = host.vault.rotate(integration.credential_encrypted)
            audit.record(session, workspace_id=integration.workspace_id, actor="cli", action="encryption_key_rotated",
                         target=integration.connector)
        await session.commit()
    print(f"re-encrypted {len(rows)} credential(s) with the first key; older keys can now be removed")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app

    # A database that cannot be reached gets a one-line error here, not a traceback from the app's start-up.
    asyncio.run(check_connection(settings.database_url))
    log_level = settings.log_level.lower()
    if args.workers > 1:
        # Each worker process builds its own app from the environment.
        uvicorn.run("core.app:app_from_environment", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=log_level, access_log=not args.no_access_log)
    else:
        uvicorn.run(create_app(settings, freeze_startup_objects=True), host=args.host, port=args.port,
                    log_level=log_level, access_log=not args.no_access_log)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from .demo import run_demo

    asyncio.run(run_demo(args.host, args.port, args.ashby_port, data_dir=args.data_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="langos", description="Langos Integrations: the ATS connector host.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def workspace_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--workspace", required=True, help="the workspace's slug")

    def connector_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--connector", default="ashby", help="the connector's name (default: ashby)")

    def actor_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--actor", default="cli", help="who to record as having made the change (default: cli)")

    demo = add("demo", cmd_demo, "Run Langos on SQLite with a demo workspace, plus a fake Ashby, on loopback.")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="Langos port (default: 8000)")
    demo.add_argument("--ashby-port", type=int, default=8001, help="fake Ashby port (default: 8001)")
    demo.add_argument("--data-dir", default="var/demo", help="folder for the demo database and keys (default: var/demo)")

    serve = add("serve", cmd_serve, "Run the Langos server with uvicorn, configured from the environment.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="uvicorn worker processes (default: 1); more than one needs PostgreSQL")
    serve.add_argument("--no-access-log", action="store_true",
                       help="leave out uvicorn's line per request; connector calls are still logged")

    add("migrate", cmd_migrate, "Apply the database migrations.")

    worker = add("worker", cmd_worker, "Run a delivery worker on its own (the server runs one unless LANGOS_RUN_WORKER=false).")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.add_argument("--concurrency", type=int, default=16, help="assessments pushed at the same time (default: 16)")

    ws = add("workspace", cmd_workspace_create, "Create a workspace: langos workspace SLUG [--name NAME].")
    ws.add_argument("slug", help="short name used in sign-in and the CLI: lowercase letters, digits and dashes")
    ws.add_argument("--name", help="display name (default: the slug)")
    ws.add_argument("--demo-assessments", action="store_true", help="add the demo assessment types")

    admin = add("admin", cmd_admin_create, "Create a workspace admin; the password is read from standard input.")
    workspace_arg(admin)
    admin.add_argument("--email", required=True, help="the admin's email address, used to sign in")
    admin.add_argument("--role", default="admin", choices=seed.ROLES, help="admin may change integrations; viewer may read reports")

    connect = add("connect", cmd_connect, "Check an ATS key read from standard input, store it encrypted, and print a new Langos API key once.")
    workspace_arg(connect)
    connector_arg(connect)
    actor_arg(connect)

    disconnect = add("disconnect", cmd_disconnect, "Forget the ATS key and revoke every Langos API key of the integration.")
    workspace_arg(disconnect)
    connector_arg(disconnect)
    actor_arg(disconnect)

    integrations_cmd = add("integrations", cmd_integrations_list, "List the workspace's integrations and their state.")
    workspace_arg(integrations_cmd)
    integrations_cmd.add_argument("--json", action="store_true", help="print JSON")

    types_cmd = add("assessment-types", cmd_assessment_types,
                    "List the workspace's assessment types, active and retired, with their assessment counts.")
    workspace_arg(types_cmd)
    types_cmd.add_argument("--json", action="store_true", help="print JSON")

    keys_issue = add("issue-key", cmd_keys_issue, "Issue another Langos API key (printed once); --rotate expires the others after the overlap.")
    workspace_arg(keys_issue)
    connector_arg(keys_issue)
    actor_arg(keys_issue)
    keys_issue.add_argument("--rotate", action="store_true", help="let the current keys expire after the overlap")
    keys_issue.add_argument("--overlap-hours", type=float, help="hours the current keys keep working (default: LANGOS_KEY_OVERLAP_HOURS)")

    keys_list = add("keys", cmd_keys_list, "List the Langos API keys of an integration.")
    workspace_arg(keys_list)
    connector_arg(keys_list)

    revoke = add("revoke-key", cmd_keys_revoke, "Revoke a Langos API key at once.")
    workspace_arg(revoke)
    actor_arg(revoke)
    revoke.add_argument("key_id", help="the key's id, from `langos keys`")

    deliveries = add("deliveries", cmd_deliveries_list, "List the updates queued for or sent to the ATS.")
    workspace_arg(deliveries)
    deliveries.add_argument("--status", choices=["pending", "delivered", "skipped", "failed"],
                            help="only this status (failed means dead-lettered)")
    deliveries.add_argument("--limit", type=int, default=50, help="at most this many rows (default: 50)")
    deliveries.add_argument("--attempts", action="store_true", help="also list every attempt of each delivery")

    retry = add("retry-delivery", cmd_deliveries_retry, "Queue a dead-lettered update again.")
    workspace_arg(retry)
    retry.add_argument("delivery_id", help="the delivery's id, from `langos deliveries`")

    replay = add("replay-delivery", cmd_replay, "Send the newest delivered update of an assessment again.")
    workspace_arg(replay)
    replay.add_argument("delivery_id", help="the delivery's id, from `langos deliveries`")

    resume = add("resume", cmd_resume, "Clear Needs attention on an integration so its waiting updates go out.")
    workspace_arg(resume)
    connector_arg(resume)

    assessment_workspace_help = "the workspace's slug; when given, the assessment must belong to it"

    resend = add("resend", cmd_resend, "Send an unstarted invitation again with a new link; earlier links stop working.")
    resend.add_argument("assessment_id", help="the assessment's id, from its report's address /reports/ID")
    resend.add_argument("--workspace", help=assessment_workspace_help)
    actor_arg(resend)

    extend = add("extend", cmd_extend,
                 "Move an invitation's expiry later; an expired invitation is reopened and sent again.")
    extend.add_argument("assessment_id", help="the assessment's id, from its report's address /reports/ID")
    extend.add_argument("--days", type=int, required=True,
                        help="days to add, 1 to 90, counted from now or from the current expiry, whichever is later")
    extend.add_argument("--workspace", help=assessment_workspace_help)
    actor_arg(extend)

    cancel = add("cancel", cmd_cancel, "Cancel an invited or started assessment; the ATS receives the reason.")
    cancel.add_argument("assessment_id", help="the assessment's id, from its report's address /reports/ID")
    cancel.add_argument("--reason", required=True, help="why the assessment is cancelled; the ATS shows it to the recruiter")
    cancel.add_argument("--workspace", help=assessment_workspace_help)
    actor_arg(cancel)

    emails = add("emails", cmd_emails, "Show the newest emails (the log mail backend keeps them in the database).")
    workspace_arg(emails)
    emails.add_argument("--limit", type=int, default=5, help="at most this many (default: 5)")

    engine_key = add("engine-key", cmd_engine_key, "Issue a key for the assessment engine API (printed once).")
    workspace_arg(engine_key)
    actor_arg(engine_key)

    add("generate-encryption-key", cmd_generate_encryption_key, "Print a new key for LANGOS_ENCRYPTION_KEYS.")
    add("rotate-encryption-key", cmd_rotate_encryption_key,
        "Re-encrypt stored ATS credentials with the first key of LANGOS_ENCRYPTION_KEYS (or encryption.keys); "
        "list the new key first and keep the old ones listed until this has run.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        # Scripting commands print their result; only the long-running ones log at the configured level.
        long_running = args.command in {"serve", "demo", "worker"}
        configure_logging(settings.log_level if long_running else "WARNING", settings.log_format)
        result = args.handler(settings, args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except (CommandError, LangosError) as exc:
        print(f"langos {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"langos {args.command}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except DBAPIError as exc:
        # The driver's message only: the statement and its parameters may contain secrets.
        print(f"langos {args.command}: the database failed: {exc.orig}. Check LANGOS_DATABASE_URL "
              "and that the database server is running.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
