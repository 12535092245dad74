"""The application factory.

``create_app`` reads nothing from the outside world until it is called, and the lifespan
opens and closes everything the app holds: the database engine, one HTTP client per
connector and the delivery worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from pathlib import Path
from typing import AsyncIterator, Iterable

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .config import Settings, load_settings
from .db import upgrade_async
from .delivery import DeliveryWorker
from .host import Host
from .logs import ConnectorCallLogger
from .metrics import RequestMetrics, metrics_endpoint
from .plugins import build_plugin_manager
from .web import assessment_actions, audit_pages, auth, candidate, engine_api, errors, reports, settings_pages, team
from .web import assessment_types_pages
from .web import email_pages
from .web.security import RejectNulInUrl, RequestBodyLimit, SecurityHeaders, SkipUnderPrefixes

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def create_templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=environment)


def create_app(
    settings: Settings | None = None,
    *,
    extra_connectors: Iterable[tuple[str, object]] = (),
    migrate: bool = True,
    freeze_startup_objects: bool = False,
) -> Starlette:
    """Build the Langos app.

    :param settings: the settings; read from the environment and ``plugins.toml`` when omitted.
    :param extra_connectors: ``(name, plugin)`` pairs registered beside the discovered connectors.
    :param migrate: apply the database migrations when the app starts.
    :param freeze_startup_objects: once started, move every object alive to the garbage
        collector's permanent generation (``gc.freeze``), for a process that serves this one app.
    """
    settings = settings or load_settings()
    hooks = build_plugin_manager(settings, extra_connectors)
    host = Host(settings, hooks)
    templates = create_templates()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade_async(settings.database_url)
        await host.open()
        if freeze_startup_objects:
            # The modules, the ORM's tables and the compiled templates live as long as the
            # process. Frozen, they are left out of every later collection, which otherwise
            # walks all of them on each full collection while requests wait.
            gc.collect()
            gc.freeze()
        worker = DeliveryWorker(host)
        app.state.worker = worker
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop)) if settings.run_worker else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await host.close()

    routes: list[BaseRoute] = [
        Route("/", settings_pages.home, name="home"),
        Route("/healthz", settings_pages.healthz, name="healthz"),
        Route("/readyz", settings_pages.readyz, name="readyz"),
        Route("/metrics", metrics_endpoint, name="metrics"),
        Route("/favicon.ico", lambda request: RedirectResponse("/static/favicon.svg", status_code=301)),
        *auth.routes(),
        *settings_pages.routes(),
        *audit_pages.routes(),
        *team.routes(),
        *email_pages.routes(),
        *assessment_types_pages.routes(),
        *reports.routes(),
        *assessment_actions.routes(),
        *candidate.routes(),
        *engine_api.routes(max_body_bytes=settings.max_body_bytes),
        Mount("/static", app=StaticFiles(directory=TEMPLATES_DIR / "static"), name="static"),
    ]
    # Connector mounts go first because the router tries routes in order and ATS calls are
    # the busiest path. A host page under a connector's mount path is therefore unreachable.
    for name in hooks.connectors:
        info = hooks.info(name)
        routes.insert(
            0,
            Mount(
                info.mount_path,
                routes=hooks.routes(name, host),
                middleware=[
                    Middleware(ConnectorCallLogger, connector=name),
                    Middleware(RequestBodyLimit, max_bytes=settings.max_body_bytes),
                ],
                name=f"connector:{name}",
            )
        )

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, hsts=settings.public_url.startswith("https://")),
            Middleware(RejectNulInUrl),
            Middleware(RequestMetrics),
            Middleware(
                SkipUnderPrefixes,
                middleware=SessionMiddleware,
                prefixes=[hooks.info(name).mount_path for name in hooks.connectors],
                secret_key=host.secret_key,
                session_cookie="langos_session",
                max_age=settings.session_max_age,
                same_site="lax",
                https_only=settings.public_url.startswith("https://"),
            )
        ],
        exception_handlers=errors.handlers(),
        lifespan=lifespan,
    )
    app.state.host = host
    app.state.settings = settings
    app.state.templates = templates
    return app


def app_from_environment() -> Starlette:
    """Entry point for ``uvicorn --factory core.app:app_from_environment``."""
    return create_app(load_settings(), freeze_startup_objects=True)
