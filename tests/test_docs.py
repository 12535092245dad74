"""The documentation stays in step with the code."""

from __future__ import annotations

import inspect
from pathlib import Path

from core import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"


def hook_names() -> list[str]:
    return [name for name, value in vars(hookspecs).items() if name.startswith("langos_") and inspect.isfunction(value)]


def test_hook_reference_documents_every_hook() -> None:
    reference = (DOCS / "hooks.md").read_text(encoding="utf-8")
    names = hook_names()
    assert len(names) == 9
    for name in names:
        assert f"### `{name}(" in reference, f"{name} is missing from docs/hooks.md"


def test_hookspecs_have_docstrings() -> None:
    for name in hook_names():
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"
