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
class OrderOptionChoice:
    key: str
    label: str


@dataclasses.dataclass(frozen=True)
class OrderOption:
    """A setting the person ordering an assessment may choose, such as the invitation's expiry.

    The engine defines the options and validates their values. A connector offers them in
    the ATS's own format (Ashby's ``assessment.customField.list``) and passes the values it
    receives in ``AssessmentOrder.options``.

    ``kind`` is ``number`` (an integer between ``minimum`` and ``maximum``) or ``choice``
    (one of ``choices``' keys).
    """

    id: str
    label: str
    kind: str
    required: bool = False
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[OrderOptionChoice, ...] = ()


@dataclasses.dataclass(frozen=True)
class AssessmentOrder:
    """An ATS's request to start an assessment, in the host's terms.

    ``options`` contains the values of the engine's order options exactly as the ATS sent
    them, keyed by ``OrderOption.id``. The engine validates them.
    """

    workspace_id: str
    integration_id: str
    assessment_type_id: str
    external_application_id: str
    candidate: Candidate
    job_name: str | None = None
    external_job_id: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


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

    ``event`` is one of:

    - ``invited``: the invitation email was sent; ``expires_at`` says until when it works.
    - ``invitation_failed``: the email could not be delivered; ``message`` says why.
    - ``started``: the candidate began.
    - ``completed``: scores are set (percentages, ``max_score`` is 100), and ``passed``
      and ``pass_mark`` when the assessment type has a pass mark.
    - ``cancelled``: ``cancelled_reason`` says who cancelled and why.
    - ``expired``: the candidate did not start before ``expires_at``; ``cancelled_reason``
      says so in words for the recruiter.
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
    passed: bool | None = None
    pass_mark: float | None = None
    expires_at: dt.datetime | None = None
    message: str | None = None


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
    "OrderOption",
    "OrderOptionChoice",
    "Secret",
    "SetupInstructions",
    "StartedAssessment",
]
