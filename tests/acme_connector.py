"""A throwaway second connector, "acme", built only on the public hook specs and ``core`` types.

Its ATS is simulated in memory: credentials starting with ``acme-good`` are accepted and
every pushed update is appended to ``PUSHED``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.exceptions import AuthenticationError, CredentialRejected
from core.hookspecs import hookimpl
from core.types import AccountInfo, AssessmentOrder, Candidate, ConnectorInfo, CredentialSpec, SetupInstructions

PUSHED: list[tuple[str, str]] = []


@hookimpl
def langos_connector_info():
    return ConnectorInfo(
        name="acme", display_name="Acme ATS", mount_path="/api/ats/acme", credential=CredentialSpec(label="Acme token")
    )


@hookimpl
def langos_connector_routes(host):
    async def tests(request: Request) -> JSONResponse:
        async with host.session() as session:
            try:
                caller = await host.authenticate_ats(session, request, "acme")
            except AuthenticationError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)
            types = await host.hooks.list_assessment_types(session=session, workspace_id=caller.workspace_id)
            await session.commit()
        return JSONResponse({"tests": [{"id": t.id, "title": t.name} for t in types]})

    async def order(request: Request) -> JSONResponse:
        body = await request.json()
        async with host.session() as session:
            caller = await host.authenticate_ats(session, request, "acme")
            started = await host.hooks.start_assessment(
                session=session,
                order=AssessmentOrder(
                    workspace_id=caller.workspace_id,
                    integration_id=caller.integration_id,
                    assessment_type_id=body["test_id"],
                    external_application_id=body["application"],
                    candidate=Candidate(external_id=body["application"], first_name="Grace", last_name="Hopper",
                                        email="grace@example.com"),
                ),
            )
            await session.commit()
        return JSONResponse({"id": started.assessment_id})

    return [Route("/tests", tests, methods=["GET"]), Route("/orders", order, methods=["POST"])]


@hookimpl
async def langos_check_credential(context, credential):
    if not credential.reveal().startswith("acme-good"):
        raise CredentialRejected("Acme rejected the token", connector="acme")
    return AccountInfo(label="Acme test account")


@hookimpl
def langos_key_issued(connector, workspace_id, key_prefix, base_url):
    return SetupInstructions(base_url=base_url, steps=("Paste the key into Acme.",))


@hookimpl
async def langos_push_update(context, credential, update):
    PUSHED.append((update.assessment_id, update.event))
