"""The factory that assembles the fake Ashby: its API, the ``/_fake`` controls and the recruiter page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from . import api, control, pages
from .langos import LangosClient
from .state import FakeAshbyState


def create_fake_ashby(
    *,
    api_keys: dict[str, list[str]] | None = None,
    langos_base_url: str | None = None,
    langos_api_key: str | None = None,
    langos_transport: httpx.AsyncBaseTransport | None = None,
    seed: int = 0,
) -> Starlette:
    """Build a Starlette app that plays Ashby for Langos in tests and in a local demo.

    :param api_keys: maps each Ashby API key to its scopes; None gives the demo key and the
        read-only key from ``seed.DEFAULT_API_KEYS``.
    :param langos_base_url: the base URL that Ashby joins with ``assessment.list`` and the
        other partner methods. The page and ``/_fake/langos/config`` can also set it.
    :param langos_api_key: the key that Langos issued, sent as the HTTP Basic username.
    :param langos_transport: an httpx transport for the calls to Langos, for example an
        ``httpx.ASGITransport`` around the Langos app in tests; None uses the network.
    :param seed: seed of the random generator behind ``failure_rate``.
    """
    state = FakeAshbyState(
        api_keys=api_keys, langos_base_url=langos_base_url, langos_api_key=langos_api_key, seed=seed
    )
    langos = LangosClient(state, langos_transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await langos.open()
        try:
            yield
        finally:
            await langos.aclose()

    app = Starlette(
        routes=[*api.routes, *control.routes, *pages.routes],
        exception_handlers={
            api.ApiError: api.api_error_response,
            control.ControlError: control.control_error_response,
        },
        lifespan=lifespan,
    )
    app.state.fake = state
    app.state.langos = langos
    app.state.templates = pages.build_templates()
    return app
