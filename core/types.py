"""Values passed between the host and connectors through the hooks.

They are plain frozen dataclasses so that a connector depends on nothing but this module,
``core.hookspecs`` and the exceptions in ``core.exceptions``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Mapping

import httpx

from .crypto import Secret


@dataclasses.dataclass(frozen=True)
class CredentialSpec:
    """The credential an admin pastes to connect, shown as one field on the settings page."""

    label: str
    help_text: str = ""


@dataclasses.dataclass(frozen=True)
class ConnectorInfo:
    """A connector's description of itself: name, display name, mount path and credential."""

    name: str
    display_name: str
    mount_path: str
    credential: CredentialSpec
    description: str = ""


@dataclasses.dataclass(frozen=True)
class AccountInfo:
    """The account an ATS credential belongs to, as the ATS reported it when it was checked."""

    label: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SetupInstructions:
    """The steps for a freshly issued key, shown once beside the key."""

    base_url: str
    steps: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector needs to call its ATS for one workspace."""

    connector: str
    workspace_id: str
    integration_id: str | None
    options: Mapping[str, Any]
    http: httpx.AsyncClient


@dataclasses.dataclass(frozen=True)
class AssessmentTypeSummary:
    id: str
    name: str
    description: str


@dataclasses.dataclass(frozen=True)
class Candidate:
    external_id: str
    first_name: str
    last_name: str
    email: str
    profile_url: str | None = None


@dataclasses.dataclass(frozen=True)
class AssessmentOrder:
    """An ATS's request to start an assessment, in the host's terms."""

    workspace_id: str
    integration_id: str
    assessment_type_id: str
    external_application_id: str
    candidate: Candidate
    job_name: str | None = None
    external_job_id: str | None = None


@dataclasses.dataclass(frozen=True)
class StartedAssessment:
    assessment_id: str
    created: bool
    status: str


@dataclasses.dataclass(frozen=True)
class CategoryScore:
    name: str
    score: float
    max_score: float


@dataclasses.dataclass(frozen=True)
class AssessmentUpdate:
    """A change of an assessment's state that a connector pushes to its ATS.

    ``event`` is ``started``, ``completed`` or ``cancelled``. Scores are percentages
    (``max_score`` is 100) and are set only for ``completed``.
    """

    assessment_id: str
    event: str
    occurred_at: dt.datetime
    report_url: str
    score: float | None = None
    max_score: float | None = None
    category_scores: tuple[CategoryScore, ...] = ()
    duration_minutes: float | None = None
    cancelled_reason: str | None = None


__all__ = [
    "AccountInfo",
    "AssessmentOrder",
    "AssessmentTypeSummary",
    "AssessmentUpdate",
    "Candidate",
    "CategoryScore",
    "ConnectorContext",
    "ConnectorInfo",
    "CredentialSpec",
    "Secret",
    "SetupInstructions",
    "StartedAssessment",
]
