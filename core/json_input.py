"""Checks on JSON request bodies that apply to every route that stores what it receives."""

from __future__ import annotations

from typing import Any


def nul_field(value: Any, path: str = "") -> str | None:
    """Return the path of the first key or string in ``value`` that contains a NUL character, or None.

    PostgreSQL cannot store the NUL character in text, so a body that contains one is
    rejected before it reaches the database. The path joins keys with dots and writes list
    positions as ``[0]``, such as ``candidate.first_name`` or ``answers[2]``; an empty path
    is the body itself.
    """
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return field
            found = nul_field(item, field)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
