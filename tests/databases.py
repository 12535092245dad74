"""A SQLite database at the newest migration, copied for each test instead of migrated again.

Migrating a new SQLite file takes about half a second, and most tests start Langos on a
new one. The first call migrates one database for the test run; later calls copy it with
SQLite's backup API. The app's own migration step then finds the schema current.
``tests/test_migrations.py`` and the PostgreSQL tests still migrate empty databases.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import shutil
import sqlite3
import tempfile
from pathlib import Path

from core.db import upgrade

_template: Path | None = None


def migrated_sqlite(data_dir: Path) -> None:
    """Put a database at the newest migration in ``data_dir`` as ``langos.db``, unless one is there."""
    global _template
    target = data_dir / "langos.db"
    if target.exists():
        return
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="langos-migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "langos.db"
        # In a thread of its own, because the migrations run their own event loop and the
        # caller may be inside one.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(upgrade, f"sqlite+aiosqlite:///{template}").result()
        _template = template
    data_dir.mkdir(parents=True, exist_ok=True)
    source, copy = sqlite3.connect(_template), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
