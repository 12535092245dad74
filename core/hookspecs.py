"""The hook specifications: the whole contract between the host and its plugins.

Two families of hooks live here.

*Connector hooks* are implemented by each ATS connector. The host calls them for one
connector at a time, so a call reaches exactly the connector it is meant for even when
several are installed.

*Assessment hooks* are implemented by the assessment engine. The host ships a built-in
engine as an ordinary plugin (``core.engine``) registered with ``trylast``, so another
plugin can take over by implementing the same hooks. Connector routes call them through
``Host.hooks``.

Each hook may be a plain function or a coroutine function; the host awaits the result
when it is awaitable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Sequence

import pluggy

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.routing import BaseRoute

    from .host import Host
    from .types import (
        AccountInfo,
        AssessmentOrder,
        AssessmentTypeSummary,
        AssessmentUpdate,
        ConnectorContext,
        ConnectorInfo,
        OrderOption,
        Secret,
        SetupInstructions,
        StartedAssessment,
    )

PROJECT_NAME = "langos"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- Describing a connector -------------------------------------------------------------


@hookspec
def langos_connector_info() -> ConnectorInfo:
    """Describe the connector: its name, display name, mount path and the credential it needs.

    Called once per connector at startup. ``ConnectorInfo.name`` must equal the name the
    connector is registered under (its entry point or its ``plugins.toml`` table).

    :return: the connector's description.
    """


@hookspec
def langos_connector_routes(host: Host) -> Sequence[BaseRoute]:
    """Contribute the connector's inbound routes.

    The host mounts the routes under ``ConnectorInfo.mount_path`` and logs one line per
    call. Handlers reach the database, key checks and assessment hooks through ``host``.

    :param host: the running host's public API.
    :return: Starlette routes, with paths relative to the mount path.
    """


# -- Credential setup and key issuance ---------------------------------------------------


@hookspec
def langos_check_credential(context: ConnectorContext, credential: Secret) -> Awaitable[AccountInfo] | AccountInfo:
    """Check an ATS credential with the ATS and return the account it belongs to.

    Called when an admin connects or replaces the credential; nothing is stored unless it
    returns. Must not log the credential.

    :param context: the connector's options and HTTP client for this workspace.
    :param credential: the credential exactly as the admin pasted it.
    :return: the account the credential belongs to.
    :raises CredentialRejected: the ATS rejected the credential or it lacks a permission;
        the message is shown to the admin.
    :raises UpstreamUnavailable: the ATS could not be reached or failed.
    """


@hookspec
def langos_key_issued(connector: str, workspace_id: str, key_prefix: str, base_url: str) -> SetupInstructions:
    """Tell the admin what to do with a Langos API key the host has just issued.

    The host generates and stores the key; the connector only explains where it and the
    base URL go in the ATS. The key itself is not passed, so it cannot leak from here.

    :param connector: the connector the key was issued for.
    :param workspace_id: the workspace the key selects.
    :param key_prefix: the visible start of the key.
    :param base_url: the absolute URL of the connector's mount path.
    :return: the steps shown beside the key.
    """


# -- Result push -------------------------------------------------------------------------


@hookspec
def langos_push_update(
    context: ConnectorContext, credential: Secret, update: AssessmentUpdate
) -> Awaitable[None] | None:
    """Push a change of an assessment's state to the ATS.

    The host's delivery worker calls it for each pending update, in order per assessment,
    and retries with backoff when it raises a retryable error.

    :param context: the connector's options and HTTP client for this workspace.
    :param credential: the workspace's decrypted ATS credential.
    :param update: what changed.
    :raises UpstreamUnavailable: the ATS failed in a way that retrying can fix.
    :raises CredentialRejected: the ATS rejected the credential; the integration is
        marked as needing attention.
    :raises UpstreamError: the ATS rejected the update for another reason.
    """


# -- Assessments (the engine) ------------------------------------------------------------


@hookspec(firstresult=True)
def langos_list_assessment_types(
    session: AsyncSession, workspace_id: str
) -> Awaitable[list[AssessmentTypeSummary]] | list[AssessmentTypeSummary]:
    """List the assessment types a workspace offers to its ATS.

    :param session: the database session; the caller commits.
    :param workspace_id: the workspace selected by the ATS key.
    :return: the active assessment types, oldest first.
    """


@hookspec(firstresult=True)
def langos_list_order_options(
    session: AsyncSession, workspace_id: str
) -> Awaitable[list[OrderOption]] | list[OrderOption]:
    """List the settings a person ordering an assessment may choose.

    A connector offers them in its ATS (Ashby shows them when a recruiter starts an
    assessment) and passes the chosen values in ``AssessmentOrder.options``.

    :param session: the database session; the caller commits.
    :param workspace_id: the workspace selected by the ATS key.
    :return: the options, in the order the ATS should show them.
    """


@hookspec(firstresult=True)
def langos_start_assessment(
    session: AsyncSession, order: AssessmentOrder
) -> Awaitable[StartedAssessment] | StartedAssessment:
    """Create an assessment for an ATS order and invite the candidate.

    Idempotent on (integration, application, assessment type): a repeated order returns
    the existing assessment with ``created=False``, unless that assessment was cancelled,
    in which case a new one is created. Slow work (the email) is queued, not done here.

    :param session: the database session; the caller commits. When the session has no
        transaction in progress, an implementation may store a new order in a transaction
        of its own and commit it before it returns. The built-in engine does so to write
        concurrent new orders together. In both cases the assessment is stored once the
        caller's commit returns.
    :param order: the validated order.
    :return: the assessment's id and state.
    :raises RequestValidationError: the assessment type is unknown or retired, or an
        option value is invalid; ``field`` names the option as ``options.<id>``.
    """


@hookspec(firstresult=True)
def langos_cancel_assessment(
    session: AsyncSession, workspace_id: str, assessment_id: str
) -> Awaitable[str] | str:
    """Cancel an assessment so the candidate can no longer take it.

    Idempotent: cancelling a cancelled assessment succeeds again. A completed assessment
    keeps its result.

    :param session: the database session; the caller commits.
    :param workspace_id: the workspace selected by the ATS key.
    :param assessment_id: the assessment to cancel.
    :return: the assessment's status after the call.
    :raises NotFound: no such assessment in this workspace.
    """
