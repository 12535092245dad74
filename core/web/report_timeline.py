"""The report's timeline, focus summary and answer replay, built from the timeline events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from ..models import AssessmentType, Question, TimelineEvent

EVENT_LABELS = {
    "invited": "Invited",
    "invitation_sent": "Invitation sent",
    "invitation_failed": "Invitation not sent",
    "invitation_resent": "Invitation sent again",
    "reminder_sent": "Reminder sent",
    "extended": "Invitation extended",
    "opened": "Opened the link",
    "started": "Started",
    "answer": "Answer saved",
    "focus_lost": "Left the page",
    "focus_regained": "Came back to the page",
    "submitted": "Submitted",
    "completed": "Completed",
    "expired": "Invitation expired",
    "cancelled": "Cancelled",
    "progress": "Progress",
}
CHANGED_ANSWER_LABEL = "Answer changed"
# Events after which the candidate is no longer away from the questions page: they came
# back, opened the link again, answered, or the session ended.
AWAY_ENDS = frozenset(
    {"focus_regained", "opened", "started", "answer", "submitted", "completed", "cancelled", "expired"}
)
SOURCE_LABELS = {
    "candidate": "by the candidate",
    "engine": "reported by the assessment engine",
    "time limit": "when the time limit ran out",
}


def _questions(assessment_type: AssessmentType) -> dict[str, Question]:
    return {question.id: question for category in assessment_type.categories for question in category.questions}


def _option_label(question: Question, option: Any) -> str:
    if isinstance(option, int) and 0 <= option < len(question.options):
        return question.options[option]
    return f"option {option!r}"


def _answer_detail(detail: dict[str, Any], questions: dict[str, Question], previous: Any) -> str:
    question = questions.get(str(detail.get("question_id")))
    option = detail.get("option")
    if question is None:
        text = f"question {detail.get('question_id')!r} (no longer part of this assessment type), option {option!r}"
        return text if previous is None else f"{text} (was option {previous!r})"
    text = f"{question.prompt} → {_option_label(question, option)}"
    return text if previous is None else f"{text} (was {_option_label(question, previous)})"


def _event_detail(event: TimelineEvent, questions: dict[str, Question], previous: Any = None) -> str:
    """Describe an event's details in a sentence fragment an admin can read."""
    detail = event.detail or {}
    if event.kind == "invited" and detail.get("email"):
        return f"invitation email to {detail['email']}"
    if event.kind == "answer":
        return _answer_detail(detail, questions, previous)
    if event.kind == "submitted":
        source = SOURCE_LABELS.get(str(detail.get("source")), f"from {detail.get('source')}")
        score = detail.get("score")
        return f"{source}, score {score:g}%" if isinstance(score, (int, float)) else source
    return _generic_detail(detail)


def _generic_detail(detail: dict[str, Any]) -> str:
    """Describe the detail keys that several kinds of event use in words, and any other key as ``key: value``."""
    parts = []
    for key, value in detail.items():
        if value is None or value == "":
            continue
        if key == "by":
            parts.append("by the employer in the ATS" if value == "ats" else f"by {_plain(value)}")
        elif key == "email":
            parts.append(f"to {_plain(value)}")
        elif key in ("expires_at", "new_expires_at"):
            parts.append(f"link valid until {_readable_time(value)}")
        elif key in ("reason", "error", "message"):
            parts.append(_plain(value))
        else:
            parts.append(f"{key.replace('_', ' ')}: {_plain(value)}")
    return ", ".join(parts)


def _readable_time(value: Any) -> str:
    """Format an ISO 8601 time as ``YYYY-MM-DD HH:MM UTC``, and any other value as it is."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return _plain(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc)
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def timeline_entries(events: list[TimelineEvent], assessment_type: AssessmentType) -> list[dict[str, Any]]:
    """Turn the assessment's timeline events into labelled rows, in the order given.

    An answer to a question that already had one is labelled as changed, with the option
    it replaced. A return to the page states how long the candidate was away.
    """
    questions = _questions(assessment_type)
    chosen: dict[str, Any] = {}
    away_since: dt.datetime | None = None
    entries = []
    for event in events:
        label = EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
        detail = _event_detail(event, questions)
        if event.kind == "answer":
            question_id = str((event.detail or {}).get("question_id"))
            if question_id in chosen:
                label = CHANGED_ANSWER_LABEL
                detail = _event_detail(event, questions, chosen[question_id])
            chosen[question_id] = (event.detail or {}).get("option")
        if event.kind == "focus_regained" and away_since is not None:
            detail = f"away for {duration_text((event.at - away_since).total_seconds())}"

        if event.kind == "focus_lost":
            away_since = away_since or event.at
        elif event.kind in AWAY_ENDS:
            away_since = None
        entries.append(
            {
                "at": event.at,
                "kind": event.kind,
                "label": label,
                "detail": detail,
                "external_event_id": event.external_event_id,
            }
        )
    return entries


def duration_text(seconds: float) -> str:
    """Format a duration for people: "under 1 s", "45 s", "2 min 5 s" or "1 h 3 min"."""
    whole = int(round(seconds))
    if whole < 1:
        return "under 1 s"
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"


@dataclasses.dataclass(frozen=True)
class FocusSummary:
    """How often and how long the candidate left the questions page.

    A time away starts at a ``focus_lost`` event and ends at the next event in
    ``AWAY_ENDS``. A time away that has not ended counts until ``end``.
    """

    lost_count: int
    away_seconds: float
    longest_away_seconds: float
    away_at_end: bool

    @property
    def text(self) -> str:
        if self.lost_count == 0:
            return "Did not leave the page"
        times = "once" if self.lost_count == 1 else f"{self.lost_count} times"
        text = f"Left the page {times}, away for {duration_text(self.away_seconds)} in total"
        if self.lost_count > 1:
            text += f" (longest {duration_text(self.longest_away_seconds)})"
        if self.away_at_end:
            text += "; still away at the end"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "lost_count": self.lost_count,
            "away_seconds": self.away_seconds,
            "longest_away_seconds": self.longest_away_seconds,
            "away_at_end": self.away_at_end,
            "summary": self.text,
        }


def focus_summary(events: list[TimelineEvent], end: dt.datetime) -> FocusSummary:
    """Count the times the candidate left the questions page and add up the time away.

    ``events`` are in time order. ``end`` is when the session ended, or now while it runs.
    """
    lost_count = 0
    total = 0.0
    longest = 0.0
    away_since: dt.datetime | None = None
    for event in events:
        if event.kind == "focus_lost":
            if away_since is None:
                away_since = event.at
                lost_count += 1
        elif event.kind in AWAY_ENDS and away_since is not None:
            seconds = max((event.at - away_since).total_seconds(), 0.0)
            total += seconds
            longest = max(longest, seconds)
            away_since = None

    if away_since is not None:
        seconds = max((end - away_since).total_seconds(), 0.0)
        total += seconds
        longest = max(longest, seconds)
    return FocusSummary(
        lost_count=lost_count,
        away_seconds=round(total, 1),
        longest_away_seconds=round(longest, 1),
        away_at_end=away_since is not None,
    )


def replay_steps(events: list[TimelineEvent], assessment_type: AssessmentType) -> list[dict[str, Any]]:
    """Return one step per "answer" event, in the order given, with every question's answer after it.

    ``correct`` is None for a question that is no longer part of the assessment type, and
    ``previous`` is the option the step replaced, or None for the question's first answer.
    NOTE: the page renders every step with every question, so its size grows with
    steps times questions; no limit is applied.
    """
    numbered = list(
        enumerate((question for category in assessment_type.categories for question in category.questions), start=1)
    )
    numbers = {question.id: number for number, question in numbered}
    questions = {question.id: question for _, question in numbered}
    chosen: dict[str, Any] = {}
    steps = []
    for event in events:
        if event.kind != "answer":
            continue
        detail = event.detail or {}
        question_id = str(detail.get("question_id"))
        option = detail.get("option")
        previous = chosen.get(question_id)
        changed = question_id in chosen
        chosen[question_id] = option

        question = questions.get(question_id)
        correct: bool | None = None
        previous_label: str | None = None
        if question is None:
            prompt = f"question {question_id!r} (no longer part of this assessment type)"
            option_label = f"option {option!r}"
            if changed:
                previous_label = f"option {previous!r}"
        else:
            prompt = question.prompt
            option_label = _option_label(question, option)
            correct = question.correct_option == option
            if changed:
                previous_label = _option_label(question, previous)
        answers = [
            _replay_answer(number, listed, chosen, changed=listed.id == question_id) for number, listed in numbered
        ]
        steps.append(
            {
                "number": len(steps) + 1,
                "at": event.at,
                "question_id": question_id,
                "question_number": numbers.get(question_id),
                "prompt": prompt,
                "option": option_label,
                "previous": previous_label,
                "correct": correct,
                "answers": answers,
            }
        )
    return steps


def _replay_answer(number: int, question: Question, chosen: dict[str, Any], *, changed: bool) -> dict[str, Any]:
    answered = question.id in chosen
    return {
        "number": number,
        "prompt": question.prompt,
        "option": _option_label(question, chosen[question.id]) if answered else None,
        "correct": question.correct_option == chosen[question.id] if answered else None,
        "changed": changed,
    }
