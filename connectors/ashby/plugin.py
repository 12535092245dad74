"""The Ashby connector's hook implementations."""

from __future__ import annotations

from typing import Sequence

from starlette.routing import BaseRoute

from core.exceptions import CredentialRejected
from core.hookspecs import hookimpl
from core.host import Host
from core.types import (
    AccountInfo,
    AssessmentUpdate,
    ConnectorContext,
    ConnectorInfo,
    CredentialSpec,
    Secret,
    SetupInstructions,
)

from . import payloads
from .client import DEFAULT_API_URL, AshbyClient
from .routes import build_routes

NAME = "ashby"
# Scope names as apiKey.info reports them; Ashby's documentation shows both spellings.
WRITE_SCOPES = frozenset({"candidates:write", "candidatesWrite"})


def api_url(context: ConnectorContext) -> str:
    """Return the Ashby API base URL: option ``api_url`` (``LANGOS_ASHBY_API_URL``), else Ashby's own."""
    return str(context.options.get("api_url") or DEFAULT_API_URL)


def client(context: ConnectorContext, credential: Secret) -> AshbyClient:
    return AshbyClient(context.http, api_url(context), credential, workspace_id=context.workspace_id)


@hookimpl
def langos_connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        display_name="Ashby",
        mount_path="/api/ats/webhook",
        credential=CredentialSpec(
            label="Ashby API key",
            help_text="Create a key in Ashby under Admin > API Keys with the permissions "
            "Candidates: Write and API Keys: Read, then paste it here.",
        ),
        description="Recruiters start Langos assessments from Ashby and see the score on the candidate's profile.",
    )


@hookimpl
def langos_connector_routes(host: Host) -> Sequence[BaseRoute]:
    return build_routes(host)


@hookimpl
async def langos_check_credential(context: ConnectorContext, credential: Secret) -> AccountInfo:
    results = await client(context, credential).call("apiKey.info", {})
    if not isinstance(results, dict):
        results = {}
    scopes = results.get("scopes") or []
    if not WRITE_SCOPES.intersection(scopes):
        raise CredentialRejected(
            "The Ashby API key lacks the Candidates: Write permission, which Langos needs to post "
            "results to candidate profiles. Edit the key in Ashby (Admin > API Keys), enable it, then connect again.",
            connector=NAME,
            code="missing_candidates_write",
        )
    title = str(results.get("title") or "Ashby API key")
    return AccountInfo(label=title, details={"scopes": list(scopes), "created_at": results.get("createdAt")})


@hookimpl
def langos_key_issued(connector: str, workspace_id: str, key_prefix: str, base_url: str) -> SetupInstructions:
    return SetupInstructions(
        base_url=base_url,
        steps=(
            "In Ashby, open Admin > Integrations and find Langos.",
            "Paste the Langos API key into the Langos API Key field and click the refresh icon to test it.",
            f"If Ashby asks for a base URL, use {base_url}.",
            "Click Update. Recruiters can now add Langos assessments to interview plans.",
        ),
    )


@hookimpl
async def langos_push_update(context: ConnectorContext, credential: Secret, update: AssessmentUpdate) -> None:
    await client(context, credential).call("assessment.update", payloads.update_body(update))
