"""The report's timeline, focus summary and answer replay, built from the timeline events."""

from __future__ import annotations

import json
from typing import Any

from ..models import AssessmentType, Question, TimelineEvent

EVENT_LABELS = {
    "invited": "Invited",
    "opened": "Opened the link",
    "started": "Started",
    "answer": "Answer saved",
    "submitted": "Submitted",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "progress": "Progress",
}
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


def _answer_detail(detail: dict[str, Any], questions: dict[str, Question]) -> str:
    question = questions.get(str(detail.get("question_id")))
    option = detail.get("option")
    if question is None:
        return f"question {detail.get('question_id')!r} (no longer part of this assessment type), option {option!r}"
    return f"{question.prompt} → {_option_label(question, option)}"


def _event_detail(event: TimelineEvent, questions: dict[str, Question]) -> str:
    """Describe an event's details in a sentence fragment an admin can read."""
    detail = event.detail or {}
    if event.kind == "invited" and detail.get("email"):
        return f"invitation email to {detail['email']}"
    if event.kind == "answer":
        return _answer_detail(detail, questions)
    if event.kind == "submitted":
        source = SOURCE_LABELS.get(str(detail.get("source")), f"from {detail.get('source')}")
        score = detail.get("score")
        return f"{source}, score {score:g}%" if isinstance(score, (int, float)) else source
    if event.kind == "cancelled" and detail.get("by") == "ats":
        return "by the employer in the ATS"
    return ", ".join(f"{key}: {_plain(value)}" for key, value in detail.items())


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def timeline_entries(events: list[TimelineEvent], assessment_type: AssessmentType) -> list[dict[str, Any]]:
    """Turn the assessment's timeline events into labelled rows, in the order given."""
    questions = _questions(assessment_type)
    return [
        {
            "at": event.at,
            "kind": event.kind,
            "label": EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize()),
            "detail": _event_detail(event, questions),
            "external_event_id": event.external_event_id,
        }
        for event in events
    ]


def replay_steps(events: list[TimelineEvent], assessment_type: AssessmentType) -> list[dict[str, Any]]:
    """Return one step per "answer" event, in the order given, with every question's answer after it.

    ``correct`` is None for a question that is no longer part of the assessment type.
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
        chosen[question_id] = option

        question = questions.get(question_id)
        correct: bool | None = None
        if question is None:
            prompt = f"question {question_id!r} (no longer part of this assessment type)"
            option_label = f"option {option!r}"
        else:
            prompt = question.prompt
            option_label = _option_label(question, option)
            correct = question.correct_option == option
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
