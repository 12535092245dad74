"""Workspaces, admins and the demo workspace's assessment types."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import hash_password
from .exceptions import Conflict, RequestValidationError
from .models import AdminUser, AssessmentType, Category, Question, Workspace

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MIN_PASSWORD_LENGTH = 10
# Limits from RFC 5321: 64 characters before the @, and 254 for the whole address (a 256-octet path minus its angle brackets).
MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_LENGTH = 64
# A domain label: letters (internationalised ones too) or digits, with inner dashes, at most 63 characters.
DOMAIN_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$")
ROLES = ("admin", "viewer")

DEMO_ASSESSMENT_TYPES: list[dict[str, Any]] = [
    {
        "name": "Backend Python (30 min)",
        "description": "HTTP, databases and Python fundamentals for backend engineers.",
        "time_limit_minutes": 30,
        "categories": [
            {
                "name": "Python",
                "weight": 2.0,
                "questions": [
                    ("What does len({1, 1, 2}) return?", ["1", "2", "3"], 1),
                    ("Which keyword defines a coroutine function?", ["async def", "yield", "lambda"], 0),
                    ("What is the type of {}?", ["set", "dict", "list"], 1),
                ],
            },
            {
                "name": "HTTP",
                "weight": 1.0,
                "questions": [
                    ("Which status code means a resource was not found?", ["401", "404", "500"], 1),
                    ("Which method should be idempotent?", ["POST", "PUT", "PATCH"], 1),
                ],
            },
            {
                "name": "Databases",
                "weight": 1.0,
                "questions": [
                    ("Which isolation level prevents dirty reads at minimum?", ["Read uncommitted", "Read committed", "None"], 1),
                    ("What does an index usually speed up?", ["Lookups", "Inserts", "Backups"], 0),
                ],
            },
        ],
    },
    {
        "name": "Frontend fundamentals (20 min)",
        "description": "HTML, CSS and browser JavaScript.",
        "time_limit_minutes": 20,
        "categories": [
            {
                "name": "HTML and CSS",
                "weight": 1.0,
                "questions": [
                    ("Which element is best for a page's main navigation?", ["<div>", "<nav>", "<span>"], 1),
                    ("Which CSS property makes a flex container?", ["display: flex", "float: flex", "position: flex"], 0),
                ],
            },
            {
                "name": "JavaScript",
                "weight": 1.0,
                "questions": [
                    ("What does typeof null return?", ["'null'", "'object'", "'undefined'"], 1),
                    ("Which method adds an item to the end of an array?", ["push", "shift", "unshift"], 0),
                ],
            },
        ],
    },
    {
        "name": "SQL essentials (15 min)",
        "description": "Joins, grouping and filtering.",
        "time_limit_minutes": 15,
        "categories": [
            {
                "name": "Queries",
                "weight": 1.0,
                "questions": [
                    ("Which clause filters groups after aggregation?", ["WHERE", "HAVING", "ORDER BY"], 1),
                    ("Which join keeps every row of the left table?", ["INNER JOIN", "LEFT JOIN", "CROSS JOIN"], 1),
                ],
            },
        ],
    },
]


def validate_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise RequestValidationError(
            f"workspace slug {slug!r} is invalid; use 1 to 63 lowercase letters, digits and dashes", field="slug"
        )
    return slug


async def create_workspace(session: AsyncSession, slug: str, name: str) -> Workspace:
    slug = validate_slug(slug)
    if await session.scalar(select(Workspace).where(Workspace.slug == slug)) is not None:
        raise Conflict(f"a workspace with slug {slug!r} already exists")
    workspace = Workspace(slug=slug, name=name.strip() or slug)
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace(session: AsyncSession, slug: str) -> Workspace | None:
    return await session.scalar(select(Workspace).where(Workspace.slug == slug.strip().lower()))


def role_with_article(role: str) -> str:
    """Return the role with its indefinite article, such as "an admin" or "a viewer"."""
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def validate_email(email: str) -> str:
    """Return the address stripped and lowercased, or raise RequestValidationError for field ``email``.

    The check is a plausibility check, not full RFC 5322 parsing: one @, the RFC 5321 length limits,
    no spaces, and a domain of at least two dot-separated labels with a top-level label that is not all digits.
    """
    email = email.strip().lower()
    if not email:
        raise RequestValidationError("The email address is missing. Enter an address such as name@example.com.", field="email")
    if len(email) > MAX_EMAIL_LENGTH:
        raise RequestValidationError(
            f"The email address has {len(email)} characters, more than the maximum of {MAX_EMAIL_LENGTH}. "
            "Enter a shorter address.", field="email",
        )
    local, at, domain = email.rpartition("@")
    if not at or not local or "@" in local or any(character.isspace() for character in email):
        raise RequestValidationError(
            f"The email address {email!r} is not valid. Enter one address such as name@example.com, without spaces.",
            field="email",
        )
    if len(local) > MAX_EMAIL_LOCAL_LENGTH:
        raise RequestValidationError(
            f"The part of the email address before the @ has {len(local)} characters, more than the maximum of "
            f"{MAX_EMAIL_LOCAL_LENGTH}. Enter a shorter address.", field="email",
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise RequestValidationError(
            f"The domain {domain!r} of the email address is not valid. Enter a domain such as example.com after the @.",
            field="email",
        )
    return email


async def create_admin(session: AsyncSession, workspace: Workspace, email: str, password: str, role: str = "admin") -> AdminUser:
    email = validate_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RequestValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if role not in ROLES:
        raise RequestValidationError(f"The role {role!r} is unknown. Use one of {', '.join(ROLES)}.", field="role")
    existing = await session.scalar(
        select(AdminUser).where(AdminUser.workspace_id == workspace.id, AdminUser.email == email)
    )
    if existing is not None:
        raise Conflict(
            f"{email} is already {role_with_article(existing.role)} of {workspace.name}. "
            "They sign in with that address. To change their role, remove them in Settings › Team first."
        )
    user = AdminUser(workspace_id=workspace.id, email=email, password_hash=hash_password(password), role=role)
    session.add(user)
    await session.flush()
    return user


async def add_assessment_types(session: AsyncSession, workspace: Workspace, definitions: list[dict[str, Any]]) -> list[AssessmentType]:
    """Create assessment types with their categories and multiple-choice questions."""
    created = []
    for definition in definitions:
        assessment_type = AssessmentType(
            workspace_id=workspace.id,
            name=definition["name"],
            description=definition.get("description", ""),
            time_limit_minutes=definition.get("time_limit_minutes", 60),
        )
        for position, category_def in enumerate(definition["categories"]):
            category = Category(name=category_def["name"], weight=category_def.get("weight", 1.0), position=position)
            for index, (prompt, options, correct) in enumerate(category_def["questions"]):
                category.questions.append(Question(prompt=prompt, options=list(options), correct_option=correct, position=index))
            assessment_type.categories.append(category)
        session.add(assessment_type)
        created.append(assessment_type)
    await session.flush()
    return created


async def seed_demo(session: AsyncSession, *, email: str, password: str, slug: str = "demo") -> tuple[Workspace, bool]:
    """Create the demo workspace with an admin and assessment types; return it and whether it was new."""
    workspace = await get_workspace(session, slug)
    if workspace is not None:
        return workspace, False
    workspace = await create_workspace(session, slug, "Demo Company")
    await create_admin(session, workspace, email, password)
    await add_assessment_types(session, workspace, DEMO_ASSESSMENT_TYPES)
    return workspace, True
