"""Database engine, sessions and migrations.

SQLite (through aiosqlite) is the embedded default; PostgreSQL (through asyncpg) is used
when ``LANGOS_DATABASE_URL`` names it. The schema is owned by the Alembic migrations in
``core/migrations``; ``upgrade`` applies them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .exceptions import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def ensure_sqlite_folder(database_url: str) -> None:
    """Create the folder of a SQLite database file, which SQLite itself does not do."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        ensure_sqlite_folder(database_url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


async def check_connection(database_url: str) -> None:
    """Connect to the database once; raise the driver's error, or ``ConfigError`` when the server cannot be reached."""
    engine = create_engine(database_url)
    try:
        async with engine.connect():
            pass
    except OSError as exc:
        url = make_url(database_url)
        if url.host is None:
            raise
        raise ConfigError(
            f"cannot reach the database server at {url.host}:{url.port or 5432}: {exc.strerror or exc}. "
            "Check LANGOS_DATABASE_URL and that the database server is running."
        ) from None
    finally:
        await engine.dispose()


def create_sqlite_thread_engine(engine: AsyncEngine) -> Engine:
    """Return a blocking engine on the same SQLite file as ``engine``, through the standard ``sqlite3`` module.

    Work that runs many statements in a row runs them in one worker thread with it. Through
    aiosqlite every statement is several hand-offs between the event loop and aiosqlite's
    thread, and each waits for the GIL while the loop is busy.
    """
    url = engine.url.set(drivername="sqlite")
    thread_engine = create_sync_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                       pool_size=2, max_overflow=2)
    event.listen(thread_engine, "connect", _sqlite_pragmas)
    return thread_engine


def create_postgres_batch_engine(engine: AsyncEngine) -> AsyncEngine:
    """Return a small engine on the same PostgreSQL database as ``engine``, for batched writes.

    It does not check a connection with a round trip before each use, as the host's engine
    does, because under load each round trip waits for a turn of the busy event loop. When a
    batch fails on a dropped connection, its orders are stored one at a time by the host's engine.
    """
    return create_async_engine(engine.url, pool_size=2, max_overflow=2)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses no committed transaction when the process crashes;
    # only a power loss can undo the last ones.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``; blocking, so call it outside the event loop."""
    ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
