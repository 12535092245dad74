"""Checks on JSON request bodies that apply to every route that stores what it receives."""

from __future__ import annotations

import json
from typing import Any


def nul_field(value: Any, path: str = "") -> str | None:
    """Return the path of the first key or string in ``value`` that contains a NUL character, or None.

    PostgreSQL cannot store the NUL character in text, so a body that contains one is
    rejected before it reaches the database. The path joins keys with dots and writes list
    positions as ``[0]``, such as ``candidate.first_name`` or ``answers[2]``. A body that is
    itself a string is reported as ``body``.
    """
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{_printable(key)}" if path else _printable(key)
            if "\x00" in key:
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


def _printable(key: str) -> str:
    """Return ``key`` as it can appear in an error message: control characters and lone surrogates escaped."""
    if key.isprintable():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return key
    # A lone surrogate from a \ud800 escape cannot be encoded as UTF-8, so JSON's ASCII escapes stand in for it.
    return json.dumps(key)[1:-1]
