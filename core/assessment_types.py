"""Managing a workspace's assessment types: validated create, update, retire, restore and duplicate.

A definition arrives as a raw mapping that mirrors the Settings form. Its values are strings
or numbers, and each question's options are a list or one option per line. ``correct_option``
is numbered the way admins see it, so 1 is the first option. ``parse_definition`` turns it into a
``TypeDefinition`` or raises ``RequestValidationError`` whose ``field`` is a path such as
``categories[1].questions[0].correct_option`` (0-based positions).

Once assessments use a type, its categories and questions are fixed: candidates' answers
refer to the question rows, and finished reports look up category weights by name. The
callers commit; after a commit they call ``engine.forget_cached_workspace`` so that this
process lists the change, and starts orders with it, at once.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .engine import MAX_EXPIRY_DAYS, OPEN_STATUSES
from .exceptions import Conflict, NotFound, RequestValidationError
from .models import Assessment, AssessmentType, Category, Question, utcnow

# Column sizes of the models, and bounds on text stored in unbounded Text columns.
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_CATEGORY_NAME_LENGTH = 200
MAX_PROMPT_LENGTH = 2000
MAX_OPTION_LENGTH = 500

MAX_CATEGORIES = 20
MAX_QUESTIONS_PER_CATEGORY = 100
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_TIME_LIMIT_MINUTES = 1440
MAX_WEIGHT = 1000.0
MAX_POINTS = 1000.0
DEFAULT_TIME_LIMIT_MINUTES = 60
DEFAULT_EXPIRY_DAYS = 7

STRUCTURE_LOCKED = (
    "{subject} already {verb} this type, so its categories, weights and questions can no longer "
    "change: candidates' answers and finished reports refer to them. Use Duplicate as a new version to save "
    "your changes as a new assessment type, and retire this one if Ashby should stop offering it."
)


@dataclasses.dataclass(frozen=True)
class QuestionDefinition:
    """A validated multiple-choice question; ``correct_option`` indexes ``options`` from 0, as in the model."""

    prompt: str
    options: tuple[str, ...]
    correct_option: int
    points: float


@dataclasses.dataclass(frozen=True)
class CategoryDefinition:
    name: str
    weight: float
    questions: tuple[QuestionDefinition, ...]


@dataclasses.dataclass(frozen=True)
class TypeDefinition:
    """A validated assessment type; ``pass_mark`` is a percentage or None for no pass mark."""

    name: str
    description: str
    time_limit_minutes: int
    pass_mark: float | None
    expiry_days: int
    categories: tuple[CategoryDefinition, ...]

    def structure(self) -> tuple[Any, ...]:
        """Return what must not change once assessments use the type: categories, weights and questions."""
        return tuple(
            (category.name, category.weight, tuple(
                (question.prompt, question.options, question.correct_option, question.points)
                for question in category.questions
            ))
            for category in self.categories
        )


@dataclasses.dataclass(frozen=True)
class TypeUsage:
    """An assessment type with the number of assessments ordered on it, and how many of them are open."""

    assessment_type: AssessmentType
    assessments: int
    open_assessments: int


# ---- parsing and validation --------------------------------------------------------------


def _text(value: Any, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RequestValidationError(f"{label}: enter text, not {value!r}.", field=field)
    value = value.strip()
    if required and not value:
        raise RequestValidationError(f"{label} is missing. Enter it.", field=field)
    if len(value) > max_length:
        raise RequestValidationError(
            f"{label} has {len(value)} characters. Shorten it to at most {max_length}.", field=field
        )
    return value


def _number(value: Any, *, field: str, label: str, default: float | None) -> float | None:
    """Return ``value`` as a finite float; an empty value means ``default``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise RequestValidationError(f"{label} must be a number, not {value!r}.", field=field)
    try:
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise RequestValidationError(f"{label} must be a number, not {value!r}. Enter a number such as 2 or 1.5.", field=field) from None
    if not math.isfinite(number):
        raise RequestValidationError(f"{label} must be a number, not {value!r}. Enter a number such as 2 or 1.5.", field=field)
    return number


def _whole(value: Any, *, field: str, label: str, unit: str, example: int, default: int, low: int, high: int) -> int:
    """Return ``value`` as a whole number of ``unit`` from ``low`` to ``high``; an empty value means ``default``."""
    empty = f"Leave it empty for {default}."
    try:
        number = _number(value, field=field, label=label, default=None)
    except RequestValidationError:
        raise RequestValidationError(
            f"{label} must be a whole number of {unit}, such as {example}, not {value!r}. {empty}", field=field
        ) from None
    if number is None:
        return default
    if not number.is_integer() or not low <= number <= high:
        raise RequestValidationError(
            f"{label} must be a whole number of {unit} from {low} to {high}, not {value!r}. {empty}", field=field
        )
    return int(number)


def _positive(value: Any, *, field: str, label: str, high: float) -> float:
    number = _number(value, field=field, label=label, default=None)
    if number is None:
        return 1.0
    if not 0 < number <= high:
        raise RequestValidationError(f"{label} must be greater than 0 and at most {high:g}, not {value!r}.", field=field)
    return number


def _options(value: Any, *, field: str, label: str) -> tuple[str, ...]:
    if value is None:
        value = []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, (list, tuple)):
        raise RequestValidationError(f"{label}: enter the options one per line.", field=field)
    options = []
    for number, option in enumerate(value, start=1):
        if not isinstance(option, str):
            raise RequestValidationError(f"{label}: option {number} must be text, not {option!r}.", field=field)
        option = option.strip()
        if not option:
            # Blank lines between options in the text box are not options.
            continue
        if len(option) > MAX_OPTION_LENGTH:
            raise RequestValidationError(
                f"{label}: option {len(options) + 1} has {len(option)} characters. Shorten it to at most {MAX_OPTION_LENGTH}.",
                field=field,
            )
        options.append(option)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise RequestValidationError(
            f"{label}: a question needs {MIN_OPTIONS} to {MAX_OPTIONS} options, one per line; it has {len(options)}.",
            field=field,
        )
    if len(set(options)) != len(options):
        raise RequestValidationError(f"{label}: two options have the same text. Make each option different.", field=field)
    return tuple(options)


def _correct_option(value: Any, options: tuple[str, ...], *, field: str, label: str) -> int:
    """Return the 0-based index of the correct option, from the 1-based number the admin entered."""
    choose = f"choose one of the options 1 to {len(options)}"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequestValidationError(f"{label}: the correct option is missing; {choose}.", field=field)
    number = _number(value, field=field, label=f"{label}: the correct option", default=None)
    if number is None or not number.is_integer() or not 1 <= number <= len(options):
        raise RequestValidationError(f"{label}: the correct option {value!r} does not exist; {choose}.", field=field)
    return int(number) - 1


def _items(value: Any, *, field: str, label: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RequestValidationError(f"{label} must be a list, not {type(value).__name__}.", field=field)
    return list(value)


def _question(raw: Any, *, path: str, label: str) -> QuestionDefinition:
    if not isinstance(raw, Mapping):
        raise RequestValidationError(f"{label} is not a question. Enter its prompt and options.", field=path)
    prompt = _text(raw.get("prompt"), field=f"{path}.prompt", label=f"{label}: the question text",
                   max_length=MAX_PROMPT_LENGTH)
    options = _options(raw.get("options"), field=f"{path}.options", label=label)
    correct = _correct_option(raw.get("correct_option"), options, field=f"{path}.correct_option", label=label)
    points = _positive(raw.get("points"), field=f"{path}.points", label=f"{label}: the points", high=MAX_POINTS)
    return QuestionDefinition(prompt=prompt, options=options, correct_option=correct, points=points)


def _category(raw: Any, *, path: str, label: str) -> CategoryDefinition:
    if not isinstance(raw, Mapping):
        raise RequestValidationError(f"{label} is not a category. Enter its name and questions.", field=path)
    name = _text(raw.get("name"), field=f"{path}.name", label=f"{label}: the name", max_length=MAX_CATEGORY_NAME_LENGTH)
    weight = _positive(raw.get("weight"), field=f"{path}.weight", label=f"{label}: the weight", high=MAX_WEIGHT)
    questions = _items(raw.get("questions"), field=f"{path}.questions", label=f"{label}: the questions")
    if not questions:
        raise RequestValidationError(f"{label} has no questions. Add at least one question.", field=f"{path}.questions")
    if len(questions) > MAX_QUESTIONS_PER_CATEGORY:
        raise RequestValidationError(
            f"{label} has {len(questions)} questions. A category may have at most {MAX_QUESTIONS_PER_CATEGORY}.",
            field=f"{path}.questions",
        )
    parsed = tuple(
        _question(item, path=f"{path}.questions[{index}]", label=f"{label}, question {index + 1}")
        for index, item in enumerate(questions)
    )
    return CategoryDefinition(name=name, weight=weight, questions=parsed)


def parse_definition(raw: Mapping[str, Any]) -> TypeDefinition:
    """Validate a raw definition and return it normalised; raise ``RequestValidationError`` on the first error.

    Empty values take defaults: a time limit of 60 minutes, no pass mark, 7 days until an
    invitation expires, a weight and points of 1.
    """
    name = _text(raw.get("name"), field="name", label="The name", max_length=MAX_NAME_LENGTH)
    description = _text(raw.get("description"), field="description", label="The description",
                        max_length=MAX_DESCRIPTION_LENGTH, required=False)
    time_limit = _whole(raw.get("time_limit_minutes"), field="time_limit_minutes", label="The time limit",
                        unit="minutes", example=30, default=DEFAULT_TIME_LIMIT_MINUTES, low=1, high=MAX_TIME_LIMIT_MINUTES)
    pass_mark = _number(raw.get("pass_mark"), field="pass_mark", label="The pass mark", default=None)
    if pass_mark is not None and not 0 <= pass_mark <= 100:
        raise RequestValidationError(
            f"The pass mark must be a percentage from 0 to 100, not {raw.get('pass_mark')!r}. "
            "Leave it empty for no pass mark.",
            field="pass_mark",
        )
    expiry_days = _whole(raw.get("expiry_days"), field="expiry_days", label="The invitation expiry",
                         unit="days", example=14, default=DEFAULT_EXPIRY_DAYS, low=1, high=MAX_EXPIRY_DAYS)

    categories = _items(raw.get("categories"), field="categories", label="The categories")
    if not categories:
        raise RequestValidationError("The assessment type has no categories. Add at least one category.", field="categories")
    if len(categories) > MAX_CATEGORIES:
        raise RequestValidationError(
            f"The assessment type has {len(categories)} categories. It may have at most {MAX_CATEGORIES}.",
            field="categories",
        )
    parsed = tuple(
        _category(item, path=f"categories[{index}]", label=f"Category {index + 1}")
        for index, item in enumerate(categories)
    )
    seen: dict[str, int] = {}
    for index, category in enumerate(parsed):
        key = category.name.casefold()
        if key in seen:
            raise RequestValidationError(
                f"Categories {seen[key] + 1} and {index + 1} are both named {category.name!r}. "
                "Give each category its own name, because reports list scores by category name.",
                field=f"categories[{index}].name",
            )
        seen[key] = index

    return TypeDefinition(
        name=name,
        description=description,
        time_limit_minutes=time_limit,
        pass_mark=pass_mark,
        expiry_days=expiry_days,
        categories=parsed,
    )


def definition_of(assessment_type: AssessmentType) -> TypeDefinition:
    """Return the stored type as a definition, for comparing and copying."""
    return TypeDefinition(
        name=assessment_type.name,
        description=assessment_type.description or "",
        time_limit_minutes=assessment_type.time_limit_minutes,
        pass_mark=assessment_type.pass_mark,
        expiry_days=assessment_type.expiry_days,
        categories=tuple(
            CategoryDefinition(
                name=category.name,
                weight=category.weight,
                questions=tuple(
                    QuestionDefinition(
                        prompt=question.prompt,
                        options=tuple(question.options),
                        correct_option=question.correct_option,
                        points=question.points,
                    )
                    for question in category.questions
                ),
            )
            for category in assessment_type.categories
        ),
    )


def raw_of(definition: TypeDefinition) -> dict[str, Any]:
    """Return ``definition`` as the raw mapping ``parse_definition`` reads, with every value a string."""
    return {
        "name": definition.name,
        "description": definition.description,
        "time_limit_minutes": str(definition.time_limit_minutes),
        "pass_mark": "" if definition.pass_mark is None else f"{definition.pass_mark:g}",
        "expiry_days": str(definition.expiry_days),
        "categories": [
            {
                "name": category.name,
                "weight": f"{category.weight:g}",
                "questions": [
                    {
                        "prompt": question.prompt,
                        "options": "\n".join(question.options),
                        "correct_option": str(question.correct_option + 1),
                        "points": f"{question.points:g}",
                    }
                    for question in category.questions
                ],
            }
            for category in definition.categories
        ],
    }


# ---- reading -------------------------------------------------------------------------------


async def get_type(session: AsyncSession, workspace_id: str, type_id: str) -> AssessmentType:
    """Return the workspace's assessment type, or raise ``NotFound`` when it is missing or in another workspace."""
    assessment_type = await session.get(AssessmentType, type_id)
    if assessment_type is None or assessment_type.workspace_id != workspace_id:
        raise NotFound(f"assessment type {type_id!r} not found")
    return assessment_type


async def count_assessments(session: AsyncSession, type_id: str) -> int:
    return await session.scalar(select(func.count()).select_from(Assessment).where(Assessment.assessment_type_id == type_id)) or 0


async def list_types(session: AsyncSession, workspace_id: str) -> list[TypeUsage]:
    """Return the workspace's types, active ones first, each with its assessment counts."""
    open_count = func.sum(case((Assessment.status.in_(OPEN_STATUSES), 1), else_=0))
    counts = {
        row.assessment_type_id: (row.total, row.open or 0)
        for row in await session.execute(
            select(Assessment.assessment_type_id, func.count().label("total"), open_count.label("open"))
            .where(Assessment.workspace_id == workspace_id)
            .group_by(Assessment.assessment_type_id)
        )
    }
    types = await session.scalars(
        select(AssessmentType)
        .where(AssessmentType.workspace_id == workspace_id)
        .order_by(AssessmentType.active.desc(), AssessmentType.created_at, AssessmentType.name)
    )
    return [
        TypeUsage(assessment_type=item, assessments=counts.get(item.id, (0, 0))[0], open_assessments=counts.get(item.id, (0, 0))[1])
        for item in types
    ]


async def _check_name_free(session: AsyncSession, workspace_id: str, name: str, *, except_id: str | None = None) -> None:
    """Raise ``RequestValidationError`` when another active type of the workspace has ``name`` (ignoring case).

    NOTE: no unique index backs this check, so two admins saving the same name at the same
    moment can both succeed.
    """
    # Compared in Python, because SQLite's lower() changes ASCII letters only.
    rows = await session.execute(
        select(AssessmentType.id, AssessmentType.name).where(
            AssessmentType.workspace_id == workspace_id, AssessmentType.active.is_(True)
        )
    )
    wanted = name.casefold()
    if any(row.name.casefold() == wanted and row.id != except_id for row in rows):
        raise RequestValidationError(
            f"An active assessment type is already named {name!r}. Choose another name, because Ashby lists types by name.",
            field="name",
        )


# ---- changing ------------------------------------------------------------------------------


def _categories(definition: TypeDefinition) -> list[Category]:
    return [
        Category(
            name=category.name,
            weight=category.weight,
            position=position,
            questions=[
                Question(prompt=question.prompt, options=list(question.options), correct_option=question.correct_option,
                         points=question.points, position=index)
                for index, question in enumerate(category.questions)
            ],
        )
        for position, category in enumerate(definition.categories)
    ]


async def create_type(session: AsyncSession, workspace_id: str, definition: TypeDefinition) -> AssessmentType:
    """Add an active assessment type to the workspace."""
    await _check_name_free(session, workspace_id, definition.name)
    assessment_type = AssessmentType(
        workspace_id=workspace_id,
        name=definition.name,
        description=definition.description,
        time_limit_minutes=definition.time_limit_minutes,
        pass_mark=definition.pass_mark,
        expiry_days=definition.expiry_days,
        active=True,
        categories=_categories(definition),
    )
    session.add(assessment_type)
    await session.flush()
    return assessment_type


class StructureLocked(Conflict):
    """An edit would change the categories or questions of a type that assessments already use."""

    def __init__(self, count: int | None) -> None:
        if count is None:
            subject, verb = "Assessments", "use"
        else:
            subject, verb = (f"{count} assessment", "uses") if count == 1 else (f"{count} assessments", "use")
        message = STRUCTURE_LOCKED.format(subject=subject, verb=verb)
        super().__init__(message)
        self.message = message
        self.count = count


async def update_type(session: AsyncSession, assessment_type: AssessmentType, definition: TypeDefinition) -> list[str]:
    """Apply ``definition`` to the type and return the names of the changed parts.

    Name, description, time limit, pass mark and expiry default may always change, because
    an assessment copies its time limit and pass mark when it is created. The categories
    and questions are replaced only while no assessment uses the type; otherwise a change
    to them raises ``StructureLocked``.
    """
    current = definition_of(assessment_type)
    if assessment_type.active:
        await _check_name_free(session, assessment_type.workspace_id, definition.name, except_id=assessment_type.id)

    changed = [
        field for field in ("name", "description", "time_limit_minutes", "pass_mark", "expiry_days")
        if getattr(current, field) != getattr(definition, field)
    ]
    structure_changed = current.structure() != definition.structure()
    if structure_changed:
        count = await count_assessments(session, assessment_type.id)
        if count:
            raise StructureLocked(count)

    for field in changed:
        setattr(assessment_type, field, getattr(definition, field))
    if changed or structure_changed:
        assessment_type.updated_at = utcnow()
    try:
        if structure_changed:
            changed.append("categories")
            assessment_type.categories.clear()
            # The old rows are deleted before the new ones are inserted, so positions never collide.
            await session.flush()
            assessment_type.categories.extend(_categories(definition))
        await session.flush()
    except IntegrityError:
        # An assessment ordered after the check above answered one of the removed questions.
        # The session must be rolled back now, so the count is left out of the message.
        raise StructureLocked(None) from None
    return changed


async def retire_type(session: AsyncSession, assessment_type: AssessmentType) -> bool:
    """Stop listing the type to the ATS; return False when it was already retired.

    Assessments already ordered on it can still be taken, submitted and reported.
    """
    if not assessment_type.active:
        return False
    assessment_type.active = False
    assessment_type.retired_at = utcnow()
    assessment_type.updated_at = utcnow()
    await session.flush()
    return True


async def restore_type(session: AsyncSession, assessment_type: AssessmentType) -> bool:
    """List a retired type again; return False when it was active. Raise when its name is taken meanwhile."""
    if assessment_type.active:
        return False
    await _check_name_free(session, assessment_type.workspace_id, assessment_type.name, except_id=assessment_type.id)
    assessment_type.active = True
    assessment_type.retired_at = None
    assessment_type.updated_at = utcnow()
    await session.flush()
    return True


async def copy_name(session: AsyncSession, workspace_id: str, name: str) -> str:
    """Return a name for a copy of ``name`` that no active type of the workspace has."""
    taken_names = {
        existing.casefold()
        for existing in await session.scalars(
            select(AssessmentType.name).where(AssessmentType.workspace_id == workspace_id, AssessmentType.active.is_(True))
        )
    }
    base = f"{name[: MAX_NAME_LENGTH - 12]} (copy)"
    candidate, number = base, 2
    while candidate.casefold() in taken_names:
        candidate = f"{name[: MAX_NAME_LENGTH - 12]} (copy {number})"
        number += 1
    return candidate


async def duplicate_type(
    session: AsyncSession,
    original: AssessmentType,
    definition: TypeDefinition | None = None,
    *,
    retire_original: bool = False,
) -> AssessmentType:
    """Create a new type from ``definition`` (by default a copy of ``original`` under a new name).

    With ``retire_original`` the original is retired in the same transaction, so the new
    version may keep its name.
    """
    if definition is None:
        definition = dataclasses.replace(
            definition_of(original), name=await copy_name(session, original.workspace_id, original.name)
        )
    # The name is checked before anything changes, so a rejected copy leaves the original as it was.
    await _check_name_free(session, original.workspace_id, definition.name,
                           except_id=original.id if retire_original else None)
    if retire_original:
        await retire_type(session, original)
    return await create_type(session, original.workspace_id, definition)
