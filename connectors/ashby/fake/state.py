"""The in-memory state of one fake Ashby: keys, recorded calls, injected failures and demo data.

Handlers run on one event loop and never await between reading and writing the state,
so no lock is needed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import deque
from typing import Any

from .seed import DEFAULT_API_KEYS, DEFAULT_KEY_TITLES, Candidate, seed_candidates

KEY_CREATED_AT = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)


def utc_now() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


def _to_json(record: Any) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    for name, value in data.items():
        if isinstance(value, dt.datetime):
            data[name] = value.isoformat()
    return data


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """An Ashby API key with its title and permission scopes. The repr leaves out the key itself."""

    key: str = dataclasses.field(repr=False)
    title: str
    scopes: tuple[str, ...]
    created_at: dt.datetime = KEY_CREATED_AT


@dataclasses.dataclass(frozen=True)
class ApiKeyCheck:
    """One ``apiKey.info`` call. ``key_title`` is None when the key was missing or unknown.

    ``error`` is the message of the error response, or None when the call succeeded.
    """

    received_at: dt.datetime
    status: int
    key_title: str | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return _to_json(self)


@dataclasses.dataclass(frozen=True)
class UpdateRecord:
    """One ``assessment.update`` body as received, with whether the fake accepted it.

    ``source`` is ``"assessment.update"`` for a call to that endpoint and
    ``"assessment.start reply"`` for the ``update_request`` inside a start reply.
    """

    assessment_id: str | None
    body: Any
    received_at: dt.datetime
    accepted: bool
    error: str | None
    source: str = "assessment.update"

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return _to_json(self)


@dataclasses.dataclass(frozen=True)
class InjectedFailure:
    """An error response that the next ``assessment.update`` call gets instead of being processed."""

    status: int
    retry_after: float | None = None


@dataclasses.dataclass(frozen=True)
class LangosCall:
    """One call from the fake to Langos. ``status`` is None when no response arrived."""

    endpoint: str
    url: str
    request_body: Any
    sent_at: dt.datetime
    status: int | None
    response_body: Any
    error: str | None
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return _to_json(self)


@dataclasses.dataclass
class StartedAssessment:
    """An assessment that Langos started for a candidate, by the ``assessment_id`` it returned."""

    assessment_id: str
    candidate_id: str | None
    assessment_type_id: str
    assessment_type_name: str | None
    started_at: dt.datetime
    cancelled_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return _to_json(self)


@dataclasses.dataclass
class AssessmentView:
    """Ashby's view of one assessment, merged from its accepted updates.

    The data-point fields contain the data point objects as Langos sent them.
    ``metadata`` maps each identifier to its newest data point.
    """

    assessment_id: str
    timestamp: int
    status: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    profile_url: dict[str, Any] | None = None
    cancelled_reason: dict[str, Any] | None = None
    metadata: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    applied_updates: int = 0

    def apply(self, body: dict[str, Any]) -> None:
        """Merge one valid update body into the view.

        A status sent without ``cancelled_reason`` after a cancellation reopens the
        assessment, as Langos does when an admin extends an expired invitation.
        NOTE: whether Ashby itself reopens a cancelled assessment this way is unconfirmed.
        """
        self.timestamp = body["timestamp"]
        self.applied_updates += 1
        self.status = body.get("assessment_status", self.status)
        self.result = body.get("assessment_result", self.result)
        self.profile_url = body.get("assessment_profile_url", self.profile_url)
        if "assessment_status" in body and "cancelled_reason" not in body:
            self.cancelled_reason = None
        self.cancelled_reason = body.get("cancelled_reason", self.cancelled_reason)
        for point in body.get("metadata", []):
            self.metadata[point["identifier"]] = point

    def to_json(self) -> dict[str, Any]:
        """Return the view as a JSON-ready dict."""
        return dataclasses.asdict(self)


class FakeAshbyState:
    """Everything one fake Ashby instance stores, reachable as ``app.state.fake``.

    Tests read the recorded calls (``updates``, ``api_key_checks``, ``langos_calls``) and
    steer the fake with ``inject_failures`` and ``failure_rate``. The recruiter pages use
    the Langos connection, the candidates and the started assessments.
    """

    def __init__(
        self,
        *,
        api_keys: dict[str, list[str]] | None = None,
        langos_base_url: str | None = None,
        langos_api_key: str | None = None,
        seed: int = 0,
    ) -> None:
        self.api_keys = _build_api_keys(api_keys)
        self.updates: list[UpdateRecord] = []
        self.api_key_checks: list[ApiKeyCheck] = []

        self.random = random.Random(seed)
        self._failure_rate = 0.0
        self._pending_failures: deque[InjectedFailure] = deque()

        self.langos_base_url = langos_base_url
        self.langos_api_key = langos_api_key
        self.langos_calls: list[LangosCall] = []
        self.assessment_types: list[dict[str, Any]] = []
        self.plan_assessment_type_id: str | None = None
        # Ashby switches custom fields on for a partner on request. When they are on, the
        # key test also loads them with assessment.customField.list, and Start Assessment
        # shows them and sends their values in additional_fields.
        self.custom_fields_enabled = False
        self.custom_fields: list[dict[str, Any]] = []

        self.candidates: list[Candidate] = seed_candidates()
        self.started: list[StartedAssessment] = []
        self.start_errors: dict[str, str] = {}
        # The Start Assessment form values of each candidate whose last start failed, by
        # candidate id, so the form shown with the error keeps what the recruiter entered.
        self.start_drafts: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        return (
            f"<FakeAshbyState keys={len(self.api_keys)} updates={len(self.updates)} "
            f"langos_calls={len(self.langos_calls)} started={len(self.started)}>"
        )

    # Ashby API side

    def find_api_key(self, key: str) -> ApiKey | None:
        """Return the API key record for ``key``, or None when the fake does not know it."""
        return self.api_keys.get(key)

    def record_update(
        self, body: Any, *, error: str | None, source: str = "assessment.update"
    ) -> UpdateRecord:
        """Store an update body as accepted when ``error`` is None, otherwise as rejected."""
        assessment_id = body.get("assessment_id") if isinstance(body, dict) else None
        record = UpdateRecord(
            assessment_id=assessment_id if isinstance(assessment_id, str) else None,
            body=body,
            received_at=utc_now(),
            accepted=error is None,
            error=error,
            source=source,
        )
        self.updates.append(record)
        return record

    def updates_for(self, assessment_id: str) -> list[UpdateRecord]:
        """Return the recorded updates of one assessment, oldest first."""
        return [record for record in self.updates if record.assessment_id == assessment_id]

    def latest_by_assessment(self) -> dict[str, AssessmentView]:
        """Merge the accepted updates of each assessment into what Ashby would show.

        Updates are applied in the order they arrived. One whose timestamp is not newer
        than the last applied update of the same assessment is skipped, so a late retry
        cannot overwrite a newer status. Within an applied update, each data point that
        is present replaces the stored one, and metadata items merge by identifier.
        """
        views: dict[str, AssessmentView] = {}
        for record in self.updates:
            if not record.accepted or record.assessment_id is None:
                continue

            view = views.get(record.assessment_id)
            if view is None:
                view = views[record.assessment_id] = AssessmentView(record.assessment_id, timestamp=0)
            if record.body["timestamp"] > view.timestamp:
                view.apply(record.body)
        return views

    # Failure injection

    @property
    def failure_rate(self) -> float:
        """Share of ``assessment.update`` calls, from 0 to 1, that fail at random with 500 or 429."""
        return self._failure_rate

    @failure_rate.setter
    def failure_rate(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"failure_rate must be a number from 0 to 1, got {rate!r}")
        self._failure_rate = float(rate)

    def inject_failures(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        """Make the next ``count`` calls to ``assessment.update`` fail with HTTP ``status``.

        Failures queue behind ones injected earlier. ``retry_after`` (seconds) is sent as
        the ``Retry-After`` header on 429 responses only.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an integer of 0 or more, got {count!r}")
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status from 400 to 599, got {status!r}")
        if retry_after is not None and (
            isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)) or retry_after < 0
        ):
            raise ValueError(f"retry_after must be a number of seconds of 0 or more, got {retry_after!r}")

        self._pending_failures.extend([InjectedFailure(status, retry_after)] * count)

    @property
    def pending_failures(self) -> int:
        """Number of injected failures not yet used up."""
        return len(self._pending_failures)

    def reset_failures(self) -> None:
        """Drop the queued failures and set ``failure_rate`` back to 0."""
        self._pending_failures.clear()
        self._failure_rate = 0.0

    def next_failure(self) -> InjectedFailure | None:
        """Return the failure that the current ``assessment.update`` call gets, or None.

        Queued failures come first. Random ones, drawn by ``failure_rate``, are a 500 or
        a 429 without ``Retry-After`` with equal chance.
        """
        if self._pending_failures:
            return self._pending_failures.popleft()
        if self._failure_rate and self.random.random() < self._failure_rate:
            return InjectedFailure(self.random.choice((500, 429)))
        return None

    # Recruiter side

    def configure_langos(self, base_url: str | None, api_key: str | None) -> None:
        """Set the Langos base URL and the Langos-issued API key that Ashby sends to Langos."""
        self.langos_base_url = base_url or None
        self.langos_api_key = api_key or None

    @property
    def langos_configured(self) -> bool:
        """Whether both the Langos base URL and API key are set."""
        return bool(self.langos_base_url and self.langos_api_key)

    def find_candidate(self, reference: str | int) -> Candidate | None:
        """Return the candidate with this Ashby id, or at this list index, or None."""
        if isinstance(reference, int) and not isinstance(reference, bool):
            return self.candidates[reference] if 0 <= reference < len(self.candidates) else None
        if isinstance(reference, str) and reference.isdigit():
            return self.find_candidate(int(reference))

        for candidate in self.candidates:
            if candidate.ashby_id == reference:
                return candidate
        return None

    def find_assessment_type(self, assessment_type_id: str) -> dict[str, Any] | None:
        """Return the assessment type from the last ``assessment.list`` reply, or None."""
        for assessment_type in self.assessment_types:
            if assessment_type.get("assessment_type_id") == assessment_type_id:
                return assessment_type
        return None

    def record_started(self, started: StartedAssessment) -> None:
        """Store a started assessment, unless Langos returned an id that is already stored."""
        if self.find_started(started.assessment_id) is None:
            self.started.append(started)

    def find_started(self, assessment_id: str) -> StartedAssessment | None:
        """Return the started assessment with this id, or None."""
        for started in self.started:
            if started.assessment_id == assessment_id:
                return started
        return None

    def started_for(self, candidate_id: str) -> list[StartedAssessment]:
        """Return the assessments started for one candidate, oldest first."""
        return [started for started in self.started if started.candidate_id == candidate_id]


def _build_api_keys(api_keys: dict[str, list[str]] | None) -> dict[str, ApiKey]:
    if api_keys is None:
        api_keys = DEFAULT_API_KEYS

    records = {}
    for number, (key, scopes) in enumerate(api_keys.items(), start=1):
        title = DEFAULT_KEY_TITLES.get(key, f"Fake Ashby key {number}")
        records[key] = ApiKey(key=key, title=title, scopes=tuple(scopes))
    return records
