"""Bulk set-up for the scale-out tests and the benchmarks: a connected workspace with many
completed assessments whose updates wait in the outbox."""

from __future__ import annotations

import uuid

from core import integrations, seed
from core.crypto import Secret
from core.engine import Score, begin, complete
from core.host import Host
from core.models import Assessment
from core.types import AssessmentOrder, Candidate, CategoryScore

ASHBY_KEY = "ashby_demo_key_0123456789"


async def connected_workspace(host: Host, slug: str = "bulk") -> tuple[str, str]:
    """Create a workspace with the demo assessment types and connect Ashby; return its id and integration id."""
    async with host.session() as session:
        workspace = await seed.create_workspace(session, slug, slug)
        await seed.add_assessment_types(session, workspace, seed.DEMO_ASSESSMENT_TYPES)
        result = await integrations.connect(
            host, session, workspace_id=workspace.id, connector="ashby", credential=Secret(ASHBY_KEY), actor="bulk"
        )
        await session.commit()
        integration = await integrations.get_integration(session, workspace.id, "ashby")
    assert result.account.label
    return workspace.id, integration.id


async def completed_assessments(host: Host, workspace_id: str, integration_id: str, count: int, batch: int = 500) -> list[str]:
    """Create ``count`` assessments, each started and completed, so each queues two updates."""
    async with host.session() as session:
        summaries = await host.hooks.list_assessment_types(session=session, workspace_id=workspace_id)
    type_id = summaries[0].id
    ids: list[str] = []
    for start in range(0, count, batch):
        async with host.session() as session:
            for index in range(start, min(count, start + batch)):
                order = AssessmentOrder(
                    workspace_id=workspace_id,
                    integration_id=integration_id,
                    assessment_type_id=type_id,
                    external_application_id=str(uuid.uuid4()),
                    candidate=Candidate(external_id=str(uuid.uuid4()), first_name="Candidate", last_name=str(index),
                                        email=f"candidate{index}@example.com"),
                )
                started = await host.hooks.start_assessment(session=session, order=order)
                assessment = await session.get(Assessment, started.assessment_id)
                await begin(session, assessment)
                score = Score(overall=80.0, categories=(CategoryScore("Python", 80.0, 100.0),))
                await complete(session, assessment, score, source="bulk")
                ids.append(assessment.id)
            await session.commit()
    return ids
