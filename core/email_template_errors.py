"""Plain advice for the template syntax errors admins make in email templates.

Jinja's own messages ("expected 'end of print statement'", "Jinja was looking for the
following tags") name parser internals. ``explain_syntax_error`` turns the common ones into
the line the admin needs to fix and what to type there. Messages are matched as Jinja 3.1
words them; an unknown message falls back to Jinja's text as a detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2

# Tags that open a block and the tag that closes each, in Jinja's syntax.
_BLOCK_TAGS = ("if", "for", "set", "macro", "call", "filter", "with", "block", "raw", "autoescape", "trans")
_TAG = re.compile(r"\{%[-+]?\s*(\w*)")
_UNCLOSED_BLOCK = re.compile(r"The innermost block that needs to be closed is '(\w+)'")
_UNKNOWN_TAG = re.compile(r"Encountered unknown tag '(\w+)'")
_SET_VALUE = re.compile(r"\{%[-+]?\s*set\s+\w+\s*=")


@dataclass(frozen=True)
class SyntaxAdvice:
    """The line to fix and what to do there."""

    line: int
    advice: str


def _line_at(source: str, index: int) -> int:
    return source.count("\n", 0, index) + 1


def _open_blocks(source: str) -> list[tuple[str, int]]:
    """Return the blocks still open at the end of ``source``, outermost first, with the line each opens on."""
    stack: list[tuple[str, int]] = []
    for match in _TAG.finditer(source):
        name = match.group(1)
        # A "{% set x = value %}" is complete in itself; only "{% set x %}…{% endset %}" opens a block.
        if name == "set" and _SET_VALUE.match(source, match.start()):
            continue
        if name in _BLOCK_TAGS:
            stack.append((name, _line_at(source, match.start())))
        elif name.startswith("end") and stack and stack[-1][0] == name[3:]:
            stack.pop()
    return stack


def _last_line_of(source: str, needle: str, default: int) -> int:
    index = source.rfind(needle)
    return _line_at(source, index) if index >= 0 else default


def explain_syntax_error(exc: jinja2.TemplateSyntaxError, source: str) -> SyntaxAdvice:
    """Return the line and plain advice for a syntax error Jinja raised while parsing ``source``."""
    message = exc.message or ""
    line = exc.lineno or 1

    unclosed = _UNCLOSED_BLOCK.search(message)
    unknown = _UNKNOWN_TAG.search(message)
    if unclosed and message.startswith("Unexpected end of template"):
        name = unclosed.group(1)
        open_line = next((at for tag, at in reversed(_open_blocks(source)) if tag == name), line)
        return SyntaxAdvice(open_line, f"the {{% {name} %}} block is not closed. "
                                       f"Add {{% end{name} %}} after the text it should contain.")
    if unknown and unclosed:
        tag, name = unknown.group(1), unclosed.group(1)
        return SyntaxAdvice(line, f"{{% {tag} %}} does not fit here, because a {{% {name} %}} block is still open. "
                                  f"Close that block with {{% end{name} %}} first, or remove {{% {tag} %}}.")
    if unknown:
        tag = unknown.group(1)
        if tag.startswith("end") and tag[3:] in _BLOCK_TAGS:
            return SyntaxAdvice(line, f"{{% {tag} %}} has no matching {{% {tag[3:]} %}}. "
                                      f"Remove it, or add the {{% {tag[3:]} … %}} it closes.")
        if tag in ("elif", "else"):
            return SyntaxAdvice(line, f"{{% {tag} %}} is outside an {{% if %}} block. Move it between "
                                      "{% if … %} and {% endif %}, or remove it.")
        return SyntaxAdvice(line, f"{{% {tag} %}} is not a tag email templates know. Use if, elif, else and endif, "
                                  "or remove the {% %} around the text.")
    if message.startswith("unexpected end of template, expected 'end of print statement'"):
        return SyntaxAdvice(_last_line_of(source, "{{", line),
                            "a {{ is not closed. Close it with }}, as in {{ link }}.")
    if message.startswith("unexpected end of template, expected 'end of statement block'"):
        return SyntaxAdvice(_last_line_of(source, "{%", line), "a {% is not closed. Close it with %}, as in {% endif %}.")
    if message == "unexpected '}'":
        return SyntaxAdvice(line, "a tag ends with a single }. Close {{ with }} and {% with %}.")
    if message == "Missing end of comment tag":
        return SyntaxAdvice(_last_line_of(source, "{#", line), "a comment opened with {# is not closed. Close it with #}.")
    if message == "Expected an expression, got 'end of print statement'":
        return SyntaxAdvice(line, "{{ }} is empty. Put a variable between the braces, such as {{ link }}, or remove them.")
    if message == "Expected an expression, got 'end of statement block'":
        return SyntaxAdvice(line, "a tag is missing its condition or value, such as the job_name in "
                                  "{% if job_name %}.")
    if message == "tag name expected":
        return SyntaxAdvice(line, "{% %} is empty. Put a tag such as if in it, or remove it.")
    if message.startswith("expected token 'end of print statement', got"):
        # Jinja reports the line of the unexpected word, which may be lines after the open {{.
        before_error = "\n".join(source.split("\n")[:line])
        return SyntaxAdvice(_last_line_of(before_error, "{{", line),
                            "a {{ is not closed or holds more than one name. Close it with }} right after the "
                            "variable, as in {{ link }}, and put each variable in its own braces.")
    if message.startswith("expected token 'end of statement block', got"):
        return SyntaxAdvice(line, "a {% %} tag is not closed or holds extra words. Close it with %}, "
                                  "as in {% if job_name %}.")
    if message.startswith("unexpected char"):
        return SyntaxAdvice(line, "a tag holds a character templates do not accept, often an unclosed quote. "
                                  f"Close the quote or remove the character (detail: {message}).")
    return SyntaxAdvice(line, f"invalid template syntax. Check the {{{{ }}}} and {{% %}} on this line "
                              f"(detail: {message.rstrip('.')}).")


def find_stray_closing(source: str, environment: jinja2.Environment) -> SyntaxAdvice | None:
    """Return advice for a ``}}`` or ``%}`` in plain text, which Jinja prints as it is; None if there is none.

    A closing brace pair outside any tag almost always means the opening ``{{`` or ``{%`` is
    missing, so the candidate would see the raw variable name in the email.
    """
    for line, token, value in environment.lex(source):
        if token != "data":
            continue
        for closing, opening, example in (("}}", "{{", "{{ link }}"), ("%}", "{%", "{% endif %}")):
            index = value.find(closing)
            if index >= 0:
                return SyntaxAdvice(line + value.count("\n", 0, index),
                                    f"{closing} has no matching {opening}. Add {opening} before it, "
                                    f"as in {example}, or remove the {closing}.")
    return None
