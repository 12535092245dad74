"""Candidate email templates: the built-in defaults, rendering in a sandbox, and validation.

A workspace may reword each kind of candidate email in each language. Admins write the
templates, so they are rendered with Jinja2's ``SandboxedEnvironment``: a template can
read the variables in ``VARIABLES`` but cannot reach Python internals such as
``{{ link.__class__ }}``. The body is plain text; the HTML part wraps the rendered text in
``templates/email/layout.html``, escaped, with the link as a button.
"""

from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import logging
import re
import traceback
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup, escape
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .email_template_errors import explain_syntax_error, find_stray_closing
from .exceptions import RequestValidationError
from .models import EmailTemplate, utcnow

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULTS_DIR = TEMPLATES_DIR / "email" / "defaults"
DEFAULT_LANGUAGE = "en"

KINDS: dict[str, str] = {"invitation": "Invitation", "reminder": "Reminder"}

# The variables a template may use, with what each contains.
VARIABLES: dict[str, str] = {
    "candidate_first_name": "the candidate's first name; the full name when the ATS sent no first name",
    "candidate_name": "the candidate's full name; the email address when the ATS sent no name",
    "assessment_name": "the name of the assessment type",
    "job_name": "the job the candidate applied for; empty when the ATS sent none",
    "time_limit_minutes": "the time limit in minutes",
    "expires_at": "the date and time the invitation expires, written in the email's language",
    "link": "the candidate's personal link to the assessment",
    "workspace_name": "the name of your Langos workspace",
}

MAX_SUBJECT_LENGTH = 300
MAX_BODY_LENGTH = 20_000

_MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}


# The label of the HTML part's button that opens the candidate's link.
BUTTON_LABELS: dict[str, str] = {
    "en": "Open the assessment",
    "de": "Assessment öffnen",
    "fr": "Ouvrir l’évaluation",
    "es": "Abrir la evaluación",
}


@dataclasses.dataclass(frozen=True)
class TemplateSource:
    """The subject and plain-text body of one email template, as Jinja source."""

    subject: str
    body: str


@dataclasses.dataclass(frozen=True)
class RenderedEmail:
    """A rendered candidate email: its subject, plain-text part and HTML part."""

    subject: str
    body_text: str
    body_html: str


# The maximum length of a string or list built with ``*``, and the maximum exponent of ``**``.
MAX_REPEATED_LENGTH = 10_000
MAX_EXPONENT = 100


class TemplateSandbox(SandboxedEnvironment):
    """The sandbox, which also bounds ``*``, ``**`` and ``%`` so a template cannot exhaust memory or CPU."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_EXPONENT} is not allowed")
        if operator == "%" and isinstance(left, str):
            # printf-style formatting can pad to any width, e.g. "%0999999999d".
            raise SecurityError("formatting a string with % is not available in email templates")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    if len(sequence) * count > MAX_REPEATED_LENGTH:
                        raise SecurityError(f"repeating a value to more than {MAX_REPEATED_LENGTH} items is not allowed")
        return super().call_binop(context, operator, left, right)


# autoescape stays off because subject and body are plain text; the HTML part escapes the
# rendered text in the layout.
_SANDBOX = TemplateSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_LAYOUT_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "email"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    # The layout ships with the code, so it is not checked for changes on every email.
    auto_reload=False,
)
# Templates may use only the variables in VARIABLES, and the layout only what render_html
# passes, so neither environment keeps Jinja's default globals (range, dict, lipsum and
# others). Rendering then has no globals to merge into each context.
_SANDBOX.globals.clear()
_LAYOUT_ENVIRONMENT.globals.clear()


def format_expiry(value: dt.datetime | None, language: str) -> str:
    """Write an expiry time as a date and UTC time in ``language``, e.g. "5 December 2026, 14:30 UTC"."""
    if value is None:
        return ""
    value = value.astimezone(dt.timezone.utc)
    months = _MONTHS.get(language, _MONTHS[DEFAULT_LANGUAGE])
    month = months[value.month - 1]
    clock = value.strftime("%H:%M")
    if language == "de":
        return f"{value.day}. {month} {value.year}, {clock} UTC"
    if language == "es":
        return f"{value.day} de {month} de {value.year}, {clock} UTC"
    if language == "fr":
        return f"{value.day} {month} {value.year} à {clock} UTC"
    return f"{value.day} {month} {value.year}, {clock} UTC"


def parse_default(text: str, path: Path) -> TemplateSource:
    """Split a default template file: a ``Subject:`` line, a blank line, then the body."""
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"{path} must start with a 'Subject:' line")
    return TemplateSource(subject=first.removeprefix("Subject:").strip(), body=rest.lstrip("\n"))


@functools.lru_cache(maxsize=64)
def default_template(kind: str, language: str) -> TemplateSource:
    """Return the built-in template for ``kind`` in ``language``, or the English one when there is none."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(KINDS)}")
    path = DEFAULTS_DIR / language / f"{kind}.txt"
    if not path.is_file():
        path = DEFAULTS_DIR / DEFAULT_LANGUAGE / f"{kind}.txt"
    return parse_default(path.read_text(encoding="utf-8"), path)


def sample_variables(language: str, link: str = "https://langos.example/take/sample-link") -> dict[str, Any]:
    """Return made-up values for every variable, for previews and validation."""
    return {
        "candidate_first_name": "Ada",
        "candidate_name": "Ada Lovelace",
        "assessment_name": "Analytical Reasoning",
        "job_name": "Software Engineer",
        "time_limit_minutes": 45,
        "expires_at": format_expiry(dt.datetime(2026, 12, 5, 14, 30, tzinfo=dt.timezone.utc), language),
        "link": link,
        "workspace_name": "Acme Ltd",
    }


# Filters whose output stays about as long as their input; ``center``, ``indent``,
# ``replace``, ``format`` and others could build huge strings from a small template.
ALLOWED_FILTERS = frozenset({
    "abs", "capitalize", "d", "default", "e", "escape", "int", "length", "lower", "round", "string",
    "striptags", "title", "trim", "truncate", "upper",
})
# The variables are plain values, so templates need only output, conditions and filters.
# Loops could run for hours, and assignments could double a string in each step, so a
# template may not contain them, nor calls, macros and includes.
_FORBIDDEN_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.For, "{% for %} loops"),
    (nodes.Assign, "{% set %} assignments"),
    (nodes.AssignBlock, "{% set %} assignments"),
    (nodes.With, "{% with %} blocks"),
    (nodes.Macro, "{% macro %} definitions"),
    (nodes.CallBlock, "{% call %} blocks"),
    (nodes.FilterBlock, "{% filter %} blocks"),
    (nodes.Call, "function and method calls"),
    (nodes.Include, "{% include %}"),
    (nodes.Import, "{% import %}"),
    (nodes.FromImport, "{% from %} imports"),
    (nodes.Extends, "{% extends %}"),
    (nodes.Block, "{% block %}"),
)


def find_forbidden(tree: nodes.Template) -> tuple[int, str] | None:
    """Return the line and a description of the first construct templates may not use, or None."""
    for node in tree.find_all(nodes.Node):
        for forbidden, description in _FORBIDDEN_NODES:
            if isinstance(node, forbidden):
                return node.lineno, f"{description} are not available in email templates"
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            return node.lineno, (
                f"the filter {node.name!r} is not available in email templates; "
                f"use one of: {', '.join(sorted(ALLOWED_FILTERS))}"
            )
    return None


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    """Check and compile one template; the result is cached, because every start renders an invitation."""
    forbidden = find_forbidden(_SANDBOX.parse(source))
    if forbidden is not None:
        line, description = forbidden
        raise SecurityError(f"line {line}: {description}")
    return _SANDBOX.from_string(source)


def render_text(source: str, variables: dict[str, Any]) -> str:
    """Render one template in the sandbox; raises Jinja's errors, and ``SecurityError`` for a forbidden construct."""
    return _compile(source).render(variables)


def render_email(source: TemplateSource, variables: dict[str, Any], language: str) -> RenderedEmail:
    """Render subject and body, and build the HTML part from the rendered body."""
    subject = " ".join(render_text(source.subject, variables).split())[:MAX_SUBJECT_LENGTH]
    body_text = render_text(source.body, variables).strip() + "\n"
    body_html = render_html(body_text, subject=subject, link=str(variables["link"]), language=language)
    return RenderedEmail(subject=subject, body_text=body_text, body_html=body_html)


def render_html(body_text: str, *, subject: str, link: str, language: str) -> str:
    """Wrap plain text in the HTML layout: one paragraph per block, the link as a button.

    A block that is only the link becomes the button, passed to the layout as None.
    Elsewhere the link becomes an anchor, and the lines of a block are joined with ``<br>``.
    The text is escaped here, so the layout places each paragraph's markup as it is.
    """
    escaped_link = escape(link)
    anchor = f'<a href="{escaped_link}" style="color:#1f6feb; word-break:break-all;">{escaped_link}</a>'
    paragraphs = []
    for block in _BLANK_LINES.split(body_text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines == [link]:
            paragraphs.append(None)
        elif lines:
            paragraphs.append(Markup("<br>".join([_with_anchor(line, link, anchor) for line in lines])))
    button_label = BUTTON_LABELS.get(language, BUTTON_LABELS[DEFAULT_LANGUAGE])
    return _LAYOUT.render(subject=subject, paragraphs=paragraphs, link=link, language=language,
                          button_label=button_label)


_BLANK_LINES = re.compile(r"\n\s*\n")
_LAYOUT = _LAYOUT_ENVIRONMENT.get_template("layout.html")


def _with_anchor(line: str, link: str, anchor: str) -> str:
    """Escape ``line`` and turn each occurrence of ``link`` in it into the HTML ``anchor``."""
    if not link or link not in line:
        return escape(line)
    return anchor.join([escape(part) for part in line.split(link)])


# Validation

_FIELD_LABELS = {"subject": "Subject", "body": "Body"}


def validate(subject: str, body: str, language: str = DEFAULT_LANGUAGE) -> TemplateSource:
    """Check a template an admin submitted; return it normalised or raise ``RequestValidationError``.

    The error's ``field`` is ``subject`` or ``body``, and its message names the field and,
    for template errors, the line.
    """
    subject = subject.strip()
    body = body.replace("\r\n", "\n").strip() + "\n"
    if not subject:
        raise RequestValidationError("Subject is missing. Enter a subject line.", field="subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise RequestValidationError(
            f"Subject is {len(subject)} characters long; shorten it to at most {MAX_SUBJECT_LENGTH}.", field="subject"
        )
    if "\n" in subject:
        raise RequestValidationError("Subject must be a single line.", field="subject")
    if not body.strip():
        raise RequestValidationError("Body is missing. Enter the text of the email.", field="body")
    if len(body) > MAX_BODY_LENGTH:
        raise RequestValidationError(
            f"Body is {len(body)} characters long; shorten it to at most {MAX_BODY_LENGTH}.", field="body"
        )

    for field, source in (("subject", subject), ("body", body)):
        _check_syntax_and_names(field, source)
    if not _uses_link(body):
        raise RequestValidationError(
            "Body must contain {{ link }}, the candidate's personal link; add it on a line of its own.", field="body"
        )

    variables = sample_variables(language)
    for field, source in (("subject", subject), ("body", body)):
        _check_render(field, source, variables)
    return TemplateSource(subject=subject, body=body)


def _check_syntax_and_names(field: str, source: str) -> None:
    label = _FIELD_LABELS[field]
    try:
        tree = _SANDBOX.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        explained = explain_syntax_error(exc, source)
        raise RequestValidationError(f"{label}, line {explained.line}: {explained.advice}", field=field) from None
    stray = find_stray_closing(source, _SANDBOX)
    if stray is not None:
        raise RequestValidationError(f"{label}, line {stray.line}: {stray.advice}", field=field)

    forbidden = find_forbidden(tree)
    if forbidden is not None:
        line, description = forbidden
        raise RequestValidationError(f"{label}, line {line}: {description}.", field=field)

    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in VARIABLES and node.name not in assigned:
            raise RequestValidationError(
                f"{label}, line {node.lineno}: unknown variable {node.name!r}. "
                f"Use one of: {', '.join(VARIABLES)}.",
                field=field,
            )


def _uses_link(body: str) -> bool:
    tree = _SANDBOX.parse(body)
    return any(node.name == "link" and node.ctx == "load" for node in tree.find_all(nodes.Name))


def _check_render(field: str, source: str, variables: dict[str, Any]) -> None:
    label = _FIELD_LABELS[field]
    try:
        render_text(source, variables)
    except SecurityError as exc:
        raise RequestValidationError(
            f"{label}{_line_of(exc)}: {str(exc).rstrip('.')}. Use only the listed variables and filters.", field=field
        ) from None
    except jinja2.UndefinedError as exc:
        raise RequestValidationError(f"{label}{_line_of(exc)}: {exc}. Use only the listed variables.", field=field) from None
    except jinja2.TemplateError as exc:
        raise RequestValidationError(f"{label}{_line_of(exc)}: the template failed: {exc}", field=field) from None
    except Exception as exc:
        # Filters and operators on sample data can raise ordinary errors, e.g. a division by zero.
        raise RequestValidationError(
            f"{label}{_line_of(exc)}: the template failed with {type(exc).__name__}: {exc}", field=field
        ) from None


def _line_of(exc: BaseException) -> str:
    """Return ", line N" for the template line where ``exc`` was raised, or "" when unknown."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<template>" and frame.lineno is not None:
            return f", line {frame.lineno}"
    return ""


# Stored templates


async def stored_template(session: AsyncSession, workspace_id: str, kind: str, language: str) -> EmailTemplate | None:
    """Return the workspace's own template for ``kind`` in ``language``, or None when it uses the default."""
    return await session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.workspace_id == workspace_id, EmailTemplate.kind == kind, EmailTemplate.language == language
        )
    )


async def save_template(
    session: AsyncSession, workspace_id: str, kind: str, language: str, source: TemplateSource, actor: str
) -> EmailTemplate:
    """Store a validated template as the workspace's wording, replacing an earlier one; the caller commits."""
    template = await stored_template(session, workspace_id, kind, language)
    if template is None:
        template = EmailTemplate(workspace_id=workspace_id, kind=kind, language=language)
        session.add(template)
    template.subject = source.subject
    template.body = source.body
    template.updated_by = actor
    template.updated_at = utcnow()
    await session.flush()
    return template


async def reset_template(session: AsyncSession, workspace_id: str, kind: str, language: str) -> bool:
    """Delete the workspace's template so the built-in default applies; return whether there was one."""
    result = await session.execute(
        delete(EmailTemplate).where(
            EmailTemplate.workspace_id == workspace_id, EmailTemplate.kind == kind, EmailTemplate.language == language
        )
    )
    return bool(result.rowcount)
