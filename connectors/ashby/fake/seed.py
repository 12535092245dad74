"""Demo data the fake starts with: API keys, one job with its hiring team, and candidates.

The ids are fixed uuids, so tests, docs and a local demo can refer to the same records.
"""

from __future__ import annotations

import dataclasses

DEMO_API_KEY = "ashby_demo_key_0123456789"
READONLY_API_KEY = "ashby_readonly_key_0123456789"

DEFAULT_API_KEYS: dict[str, list[str]] = {
    DEMO_API_KEY: ["apiKeys:read", "candidates:read", "candidates:write", "jobs:read"],
    READONLY_API_KEY: ["apiKeys:read", "candidates:read"],
}
DEFAULT_KEY_TITLES: dict[str, str] = {
    DEMO_API_KEY: "Langos demo key",
    READONLY_API_KEY: "Langos read-only key",
}


@dataclasses.dataclass(frozen=True)
class HiringTeamMember:
    """A user on a job's hiring team, as Ashby sends it inside ``job.hiringTeam``."""

    user_id: str
    first_name: str
    last_name: str
    email: str
    role: str


@dataclasses.dataclass(frozen=True)
class Job:
    """An Ashby job that candidates apply to."""

    ashby_id: str
    name: str
    req_id: str | None
    hiring_team: tuple[HiringTeamMember, ...]


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A candidate with one application to ``job``. ``email`` is None when Ashby has no address."""

    ashby_id: str
    first_name: str
    last_name: str
    email: str | None
    application_id: str
    application_status: str
    job: Job

    @property
    def full_name(self) -> str:
        """First and last name joined by a space."""
        return f"{self.first_name} {self.last_name}"


BACKEND_ENGINEER = Job(
    ashby_id="2c6991c5-c9e2-4af8-879e-29c5a9d26509",
    name="Backend Engineer",
    req_id="ENG-142",
    hiring_team=(
        HiringTeamMember(
            user_id="e9ed20fd-d45f-4aad-8a00-a19bfba0083e",
            first_name="Katherine",
            last_name="Johnson",
            email="katherine@example.com",
            role="Hiring Manager",
        ),
        HiringTeamMember(
            user_id="5b1f0c7e-8d2a-4c3b-9e6f-0a1b2c3d4e5f",
            first_name="Margaret",
            last_name="Hamilton",
            email="margaret@example.com",
            role="Recruiter",
        ),
    ),
)


def seed_candidates() -> list[Candidate]:
    """Return the demo candidates. The last one has no email address."""
    return [
        Candidate(
            ashby_id="0b7c3f5e-2d1a-4f8e-9c66-5a2b1e7d4c90",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            application_id="3ae2b801-19f6-41ef-ad28-214bd731948f",
            application_status="Active",
            job=BACKEND_ENGINEER,
        ),
        Candidate(
            ashby_id="7f3d2a1b-6c5e-4d8f-a9b0-1c2d3e4f5a6b",
            first_name="Grace",
            last_name="Hopper",
            email="grace@example.com",
            application_id="c4d5e6f7-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
            application_status="Active",
            job=BACKEND_ENGINEER,
        ),
        Candidate(
            ashby_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            first_name="Alan",
            last_name="Turing",
            email="alan@example.com",
            application_id="d6e7f8a9-b0c1-4d2e-9f3a-5b6c7d8e9f0a",
            application_status="Active",
            job=BACKEND_ENGINEER,
        ),
        Candidate(
            ashby_id="f0e1d2c3-b4a5-4968-8776-655443322110",
            first_name="Edsger",
            last_name="Dijkstra",
            email=None,
            application_id="e8f9a0b1-c2d3-4e4f-a5b6-c7d8e9f0a1b2",
            application_status="Active",
            job=BACKEND_ENGINEER,
        ),
    ]
