"""Group commit for new assessment orders: concurrent orders are written in one transaction.

Each new order costs a few small INSERTs. Written one transaction per order, most of a
start's time goes to round trips and to the commit, and on SQLite every order waits for the
one writer. ``OrderBatcher`` collects the orders that arrive while a batch is being
written and writes the next batch with one statement per table and one commit. Every
caller still gets its reply only after its own rows are committed.

Some orders the batch cannot settle on its own. It hands them back to the caller, who
stores each one alone with the full checks. They are the orders of an unknown or retired
assessment type, orders that already have an assessment (a repeated or concurrent
identical order), and every order of a batch whose transaction failed.

A workspace's assessment types, name and invitation templates are loaded once and reused
for ``cache_seconds``. The process that changes them calls ``OrderBatcher.forget`` after its
commit, so the next batch reads the change. Other processes keep using a retired type or an
old template for at most ``cache_seconds``, as if the order had arrived just before the change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import time
import weakref
from typing import Any, Callable

from sqlalchemy import (
    Connection, Engine, String, Table, bindparam, cast, event, func, insert, literal_column, select, text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from .crypto import hash_token, new_token
from .db import create_postgres_batch_engine, create_sqlite_thread_engine
from .email_templates import DEFAULT_LANGUAGE
from .mail import StoredTemplate, email_variables, render_candidate_email
from .models import (
    ORDER_KEY_COLUMNS, REORDERABLE, Assessment, AssessmentType, Email, EmailTemplate, TimelineEvent, Workspace, new_id,
    utcnow,
)
from .types import AssessmentOrder, StartedAssessment

logger = logging.getLogger(__name__)

# The largest number of orders written in one transaction.
MAX_BATCH = 256

_ASSESSMENT_COLUMNS = tuple(column.key for column in Assessment.__table__.columns)
INSERT_TIMELINE_EVENT = insert(TimelineEvent.__table__)
_INSERT_EMAILS = insert(Email.__table__)


@dataclasses.dataclass
class _Pending:
    order: AssessmentOrder
    expiry_days: int | None
    language: str
    future: asyncio.Future[StartedAssessment | None]


@dataclasses.dataclass(frozen=True)
class _TypeRow:
    id: str
    workspace_id: str
    name: str
    active: bool
    expiry_days: int
    time_limit_minutes: int | None
    pass_mark: float | None


@dataclasses.dataclass(frozen=True)
class _Workspace:
    """The data of one workspace that new orders read.

    It contains the assessment types by id, the name, and the invitation templates by language.
    """

    types: dict[str, _TypeRow]
    name: str
    templates: dict[str, StoredTemplate]


# An order's integration, application and assessment type: one open assessment per key.
_OrderKey = tuple[str | None, str, str]
# The workspaces of a batch, by id.
_Lookups = dict[str, _Workspace]
# The values of each new order's assessment and email, and the order's position in its batch, by assessment id.
_Rows = dict[str, tuple[int, dict[str, Any], dict[str, Any]]]


class OrderBatcher:
    """Writes concurrent new orders of one database together.

    :param insert_order: builds the ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` of
        the assessments for a dialect name. Its conflict target is the partial unique index
        that allows one open assessment per order. Only an in-memory SQLite database uses it:
        a SQLite file has ``_sqlite_inserts`` and PostgreSQL has ``INSERT_BATCH``.
    :param candidate_url: turns a candidate token into the link in the invitation.
    :param cache_seconds: how long a workspace's types, name and templates are reused.
    """

    def __init__(
        self, insert_order: Callable[[str], Any], candidate_url: Callable[[str], str], *, cache_seconds: float
    ) -> None:
        self._insert_order = insert_order
        self._candidate_url = candidate_url
        self.cache_seconds = cache_seconds
        self._queues: weakref.WeakKeyDictionary[AsyncEngine, _Queue] = weakref.WeakKeyDictionary()

    async def start(
        self, bind: AsyncEngine, order: AssessmentOrder, *, expiry_days: int | None, language: str
    ) -> StartedAssessment | None:
        """Store a new order with the next batch; return None when the caller must store it alone."""
        queue = self._queues.get(bind)
        if queue is None:
            queue = self._queues[bind] = _Queue(bind, self)
        return await queue.submit(order, expiry_days, language)

    def forget(self, workspace_id: str) -> None:
        """Drop the workspace's cached types, name and templates; call it after committing a change to them."""
        for queue in list(self._queues.values()):
            queue.forget(workspace_id)

    async def settled(self, bind: Any, order: AssessmentOrder) -> bool:
        """Wait until no order identical to ``order`` is waiting or being written; return whether one was."""
        queue = self._queues.get(bind) if isinstance(bind, AsyncEngine) else None
        if queue is None:
            return False
        return await queue.settled(_order_key(order))


class _Queue:
    """The orders waiting for one database, and the task that writes them.

    On a SQLite file a batch runs in a worker thread through the standard ``sqlite3`` module:
    one hand-off for its loads and one for its writes, instead of several per statement. The
    event loop turns the rows into the driver's parameters first, so the thread holds the GIL
    only briefly and the event loop rarely waits for it. On PostgreSQL a batch is written
    with one statement, on the connections of a small engine of its own.
    """

    def __init__(self, bind: AsyncEngine, batcher: OrderBatcher) -> None:
        # Held weakly, so the batcher's table of queues does not keep a disposed engine alive.
        self.bind = weakref.ref(bind)
        self.batcher = batcher
        self.thread_engine: Engine | None = None
        self.postgres_engine: AsyncEngine | None = None
        # A second connection to an in-memory database would open another, empty database.
        if bind.dialect.name == "sqlite" and bind.url.database not in (None, "", ":memory:"):
            self.thread_engine = create_sqlite_thread_engine(bind)
            self.sqlite_inserts = _sqlite_inserts(self.thread_engine.dialect)
            # The thread's connection closes with the host's engine, or with this queue.
            event.listen(bind.sync_engine, "engine_disposed", _dispose(self.thread_engine))
            weakref.finalize(self, self.thread_engine.dispose)
        elif bind.dialect.name == "postgresql":
            self.postgres_engine = create_postgres_batch_engine(bind)
            # Disposed inside the host engine's disposal, which runs where asyncpg connections can close.
            event.listen(bind.sync_engine, "engine_disposed", _dispose(self.postgres_engine.sync_engine))
        self.waiting: list[_Pending] = []
        # The futures of the orders without a result yet, by order key, so an identical order can wait for them.
        self.unresolved: dict[_OrderKey, list[asyncio.Future[StartedAssessment | None]]] = {}
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Each workspace's lookups with the time their load began. A load that overlapped a
        # call to ``forget`` is not cached; the count of those calls shows the overlap.
        self.workspaces: dict[str, tuple[float, _Workspace]] = {}
        self.invalidations = 0

    def forget(self, workspace_id: str) -> None:
        self.workspaces.pop(workspace_id, None)
        self.invalidations += 1

    async def submit(self, order: AssessmentOrder, expiry_days: int | None, language: str) -> StartedAssessment | None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (tests run several): what belonged to the old one is gone with it.
            self.loop, self.task, self.waiting, self.unresolved = loop, None, [], {}
        pending = _Pending(order, expiry_days, language, loop.create_future())
        self.waiting.append(pending)
        key = _order_key(order)
        self.unresolved.setdefault(key, []).append(pending.future)
        pending.future.add_done_callback(lambda future: self._forget(key, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        # Shielded, so a caller that goes away does not cancel the write of the others' orders.
        return await asyncio.shield(pending.future)

    def _forget(self, key: _OrderKey, future: asyncio.Future[StartedAssessment | None]) -> None:
        futures = self.unresolved.get(key)
        if futures is not None and future in futures:
            futures.remove(future)
            if not futures:
                del self.unresolved[key]

    async def settled(self, key: _OrderKey) -> bool:
        futures = list(self.unresolved.get(key, ()))
        if futures:
            await asyncio.wait(futures)
        return bool(futures)

    async def _drain(self) -> None:
        """Write the waiting orders batch after batch, until none are left.

        The next batch is prepared (its lookups loaded, its invitations rendered) while the
        previous one is being inserted and committed, which on SQLite happens in a worker
        thread. Batches are committed one after the other, in the order they were taken.
        """
        writing: asyncio.Task[None] | None = None
        try:
            while self.waiting or writing is not None:
                if not self.waiting:
                    assert writing is not None
                    await writing
                    writing = None
                    continue
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                rows = await self._prepare(batch)
                if writing is not None:
                    await writing
                writing = asyncio.get_running_loop().create_task(self._store(batch, rows))
        except BaseException:
            # When the task stops early (cancelled at shutdown), the orders it had not taken yet
            # get None as their result, so their callers store them alone.
            waiting, self.waiting = self.waiting, []
            for pending in waiting:
                if not pending.future.done():
                    pending.future.set_result(None)
            raise

    async def _prepare(self, batch: list[_Pending]) -> _Rows | None:
        """Return the rows of the orders the batch can settle, or None when loading the lookups failed."""
        try:
            return self._build(batch, await self._lookups({pending.order.workspace_id for pending in batch}))
        except Exception as exc:
            _log_failure(batch, exc)
            return None

    async def _lookups(self, workspace_ids: set[str]) -> _Lookups:
        """Return the workspaces' lookups, loading those not cached or cached too long ago."""
        began, invalidations = time.monotonic(), self.invalidations
        lookups: _Lookups = {}
        for workspace_id in workspace_ids:
            cached = self.workspaces.get(workspace_id)
            if cached is not None and began - cached[0] < self.batcher.cache_seconds:
                lookups[workspace_id] = cached[1]
        missing = workspace_ids - lookups.keys()
        if not missing:
            return lookups
        if self.thread_engine is not None:
            loaded = await asyncio.to_thread(self._load_in_thread, self.thread_engine, missing)
        else:
            async with self._engine().connect() as connection:
                loaded = await connection.run_sync(_load, missing)
        if self.invalidations == invalidations:
            self.workspaces.update((workspace_id, (began, workspace)) for workspace_id, workspace in loaded.items())
        return lookups | loaded

    async def _store(self, batch: list[_Pending], rows: _Rows | None) -> None:
        """Insert and commit ``rows``, then set the result of every order of ``batch``.

        An order the batch did not store gets None, and its caller stores it alone.
        """
        created: dict[int, dict[str, Any]] = {}
        if rows:
            try:
                if self.thread_engine is not None:
                    parameters = _sqlite_parameters(self.sqlite_inserts, rows)
                    created = await asyncio.to_thread(self._insert_in_thread, self.thread_engine, rows, parameters)
                elif self.postgres_engine is not None:
                    # One statement is one transaction, so no BEGIN and COMMIT round trips.
                    async with self.postgres_engine.connect() as connection:
                        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                        created = await autocommit.run_sync(_insert_postgresql, rows)
                else:
                    async with self._engine().begin() as connection:
                        created = await connection.run_sync(self._insert, rows)
            except Exception as exc:
                _log_failure(batch, exc)
        for index, pending in enumerate(batch):
            assessment = created.get(index)
            if assessment is not None:
                logger.info("assessment %s created for application %s in workspace %s",
                            assessment["id"], assessment["external_application_id"], assessment["workspace_id"])
            if not pending.future.done():
                pending.future.set_result(
                    None if assessment is None
                    else StartedAssessment(assessment_id=assessment["id"], created=True, status="invited")
                )

    def _engine(self) -> AsyncEngine:
        if self.postgres_engine is not None:
            return self.postgres_engine
        bind = self.bind()
        if bind is None:
            raise RuntimeError("the database engine was disposed")
        return bind

    @staticmethod
    def _load_in_thread(engine: Engine, workspace_ids: set[str]) -> _Lookups:
        with engine.connect() as connection:
            return _load(connection, workspace_ids)

    def _insert_in_thread(
        self, engine: Engine, rows: _Rows, parameters: tuple[list[tuple[Any, ...]], ...]
    ) -> dict[int, dict[str, Any]]:
        with engine.begin() as connection:
            return _insert_sqlite(connection, self.sqlite_inserts, rows, parameters)

    def _build(self, batch: list[_Pending], lookups: _Lookups) -> _Rows:
        """Return the rows of each order the batch can settle, by assessment id."""
        rows: _Rows = {}
        seen: set[_OrderKey] = set()
        for index, pending in enumerate(batch):
            order = pending.order
            workspace = lookups.get(order.workspace_id)
            assessment_type = workspace.types.get(order.assessment_type_id) if workspace is not None else None
            key = _order_key(order)
            # An unknown or retired type gets its error, and a repeated order its
            # assessment, from the one-at-a-time path.
            if workspace is None or assessment_type is None or not assessment_type.active or key in seen:
                continue
            seen.add(key)
            assessment, email = self._rows(pending, assessment_type, workspace)
            rows[assessment["id"]] = (index, assessment, email)
        return rows

    def _insert(self, connection: Connection, rows: _Rows) -> dict[int, dict[str, Any]]:
        """Insert the rows of new orders whose order has no assessment yet; return those, by position."""
        statement = self.batcher._insert_order(connection.dialect.name)
        inserted = set(connection.execute(statement, [row[1] for row in rows.values()]).scalars())
        created = [rows[assessment_id] for assessment_id in inserted]
        if not created:
            return {}
        connection.execute(INSERT_TIMELINE_EVENT, [invited_event(assessment) for _, assessment, _ in created])
        connection.execute(_INSERT_EMAILS, [email for _, _, email in created])
        return {index: assessment for index, assessment, _ in created}

    def _rows(
        self, pending: _Pending, assessment_type: _TypeRow, workspace: _Workspace
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return the values of the assessment row and of its invitation email."""
        order = pending.order
        token = new_token()
        assessment = new_assessment_values(
            order, assessment_type, expiry_days=pending.expiry_days, language=pending.language, token=token
        )
        assessment_id = assessment["id"]
        expires_at = assessment["expires_at"]

        link = self.batcher._candidate_url(token)
        candidate = order.candidate
        variables = email_variables(
            first_name=candidate.first_name,
            name=f"{candidate.first_name} {candidate.last_name}".strip() or candidate.email,
            assessment_name=assessment_type.name,
            job_name=order.job_name,
            time_limit_minutes=assessment_type.time_limit_minutes,
            expires_at=expires_at,
            language=pending.language or DEFAULT_LANGUAGE,
            link=link,
            workspace_name=workspace.name,
        )

        rendered = render_candidate_email(
            workspace.templates.get(pending.language), variables, kind="invitation",
            language=pending.language, workspace_id=order.workspace_id, assessment_id=assessment_id,
        )
        # The id, status, attempts and times come from the columns' defaults.
        email = {
            "workspace_id": order.workspace_id, "assessment_id": assessment_id, "recipient": candidate.email,
            "subject": rendered.subject, "body_text": rendered.body_text, "body_html": rendered.body_html,
            "kind": "invitation",
        }
        return assessment, email


@dataclasses.dataclass(frozen=True)
class _DriverInsert:
    """An INSERT that runs through the database driver itself, with the SQL SQLAlchemy compiled.

    ``processors`` lists each parameter's column key and SQLAlchemy's bind processor for its
    type (None when the value goes as it is), so the values are stored as SQLAlchemy would
    store them.
    """

    sql: str
    processors: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    @classmethod
    def compile(cls, statement: Any, table: Table, dialect: Any) -> _DriverInsert:
        columns = {column.key: column for column in _written_columns(table)}
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        processors = tuple(
            (key, columns[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in compiled.positiontup
        )
        return cls(str(compiled), processors)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """Return the driver's parameters for one row; a column missing from ``values`` is NULL."""
        return tuple(
            values.get(key) if process is None else process(values.get(key)) for key, process in self.processors
        )


# The INSERTs of a SQLite batch: assessments, timeline events, emails.
_SqliteInserts = tuple[_DriverInsert, _DriverInsert, _DriverInsert]


def _sqlite_inserts(dialect: Any) -> _SqliteInserts:
    assessments, events, emails = Assessment.__table__, TimelineEvent.__table__, Email.__table__
    new_orders = sqlite.insert(assessments).on_conflict_do_nothing(
        index_elements=list(ORDER_KEY_COLUMNS), index_where=text(REORDERABLE)
    )
    return (
        _DriverInsert.compile(new_orders, assessments, dialect),
        _DriverInsert.compile(insert(events), events, dialect),
        _DriverInsert.compile(insert(emails), emails, dialect),
    )


def _sqlite_parameters(inserts: _SqliteInserts, rows: _Rows) -> tuple[list[tuple[Any, ...]], ...]:
    """Return the driver's parameters of each order's assessment, event and email, in the order of ``rows``."""
    assessments, events, emails = inserts
    return (
        [assessments.parameters(assessment) for _, assessment, _ in rows.values()],
        [events.parameters(invited_event(assessment)) for _, assessment, _ in rows.values()],
        [emails.parameters(_with_defaults(Email.__table__, email)) for _, _, email in rows.values()],
    )


def _insert_sqlite(
    connection: Connection, inserts: _SqliteInserts, rows: _Rows, parameters: tuple[list[tuple[Any, ...]], ...]
) -> dict[int, dict[str, Any]]:
    """Insert the new orders that have no assessment yet through ``sqlite3``; return those, by position.

    The assessments' INSERT does nothing on a conflict with an open order. The driver counts
    the rows it inserted, so only a batch with a conflict queries which ones those were.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(inserts[0].sql, parameters[0])
        if cursor.rowcount == len(rows):
            inserted = set(rows)
        else:
            ids = list(rows)
            cursor.execute(f"SELECT id FROM {Assessment.__tablename__} WHERE id IN ({', '.join('?' * len(ids))})", ids)
            inserted = {row[0] for row in cursor.fetchall()}
        for insert_, table_parameters in zip(inserts[1:], parameters[1:]):
            cursor.executemany(insert_.sql, [
                row_parameters for assessment_id, row_parameters in zip(rows, table_parameters)
                if assessment_id in inserted
            ])
    finally:
        cursor.close()
    return {rows[assessment_id][0]: rows[assessment_id][1] for assessment_id in inserted}


def _insert_postgresql(connection: Connection, rows: _Rows) -> dict[int, dict[str, Any]]:
    """Insert with ``INSERT_BATCH`` the new orders that have no assessment yet; return those, by position."""
    emails = [_with_defaults(Email.__table__, email) for _, _, email in rows.values()]
    parameters = {
        "assessment_rows": _json([assessment for _, assessment, _ in rows.values()]),
        "event_rows": _json([invited_event(assessment) for _, assessment, _ in rows.values()]),
        "email_rows": _json(emails),
    }
    inserted = connection.execute(INSERT_BATCH, parameters).scalars()
    return {rows[assessment_id][0]: rows[assessment_id][1] for assessment_id in inserted}


def _written_columns(table: Table) -> list[Any]:
    """Return the columns of ``table`` that a batch writes: all but a primary key the database numbers itself."""
    return [column for column in table.columns if not (column.primary_key and column.autoincrement is True)]


def _with_defaults(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Return ``values`` with the Python-side default of each column of ``table`` they leave out."""
    values = dict(values)
    for column in table.columns:
        if column.key in values or column.default is None:
            continue
        # SQLAlchemy wraps a callable default to take the execution context, which these ignore.
        values[column.key] = column.default.arg(None) if column.default.is_callable else column.default.arg
    return values


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"a value of type {type(value).__name__} cannot be written as JSON")


def _records(table: Table, name: str) -> Any:
    """Return the rows of ``table`` in the JSON array bound as ``name``, as a table in FROM."""
    return func.json_populate_recordset(
        literal_column(f"NULL::{table.name}"), cast(bindparam(name, type_=String), postgresql.JSON)
    ).table_valued(*(column.name for column in table.columns)).alias(name)


def _insert_batch_statement() -> Any:
    """Build one PostgreSQL statement that inserts a batch's assessments, events and emails.

    Its data-modifying CTEs insert the assessments with ``ON CONFLICT DO NOTHING`` on the
    partial unique index of open orders, then the timeline events and emails of those it
    inserted, and it returns their ids. Each table's rows come in one JSON parameter.
    """
    assessments, events, emails = Assessment.__table__, TimelineEvent.__table__, Email.__table__
    assessment_rows = _records(assessments, "assessment_rows")
    created = (
        postgresql.insert(assessments)
        .from_select([column.name for column in assessments.columns],
                     select(*(assessment_rows.c[column.name] for column in assessments.columns)))
        .on_conflict_do_nothing(index_elements=list(ORDER_KEY_COLUMNS), index_where=text(REORDERABLE))
        .returning(assessments.c.id)
        .cte("created")
    )
    ctes = []
    for table, parameter in ((events, "event_rows"), (emails, "email_rows")):
        records = _records(table, parameter)
        names = [column.name for column in _written_columns(table)]
        of_created = select(*(records.c[name] for name in names)).where(
            records.c.assessment_id.in_(select(created.c.id))
        )
        ctes.append(insert(table).from_select(names, of_created).cte(f"created_{table.name}"))
    return select(created.c.id).add_cte(*ctes)


INSERT_BATCH = _insert_batch_statement()


def _order_key(order: AssessmentOrder) -> _OrderKey:
    return (order.integration_id, order.external_application_id, order.assessment_type_id)


def _log_failure(batch: list[_Pending], exc: Exception) -> None:
    # Each order is then tried again alone, which reports its own error to its caller.
    logger.warning("writing a batch of %d orders failed (%s: %s); storing them one at a time",
                   len(batch), type(exc).__name__, exc)


def _load(connection: Connection, workspace_ids: set[str]) -> _Lookups:
    """Return the assessment types, name and invitation templates of each workspace that exists."""
    parameters = {"workspace_ids": list(workspace_ids)}
    types: dict[str, dict[str, _TypeRow]] = {}
    for row in connection.execute(_SELECT_TYPES, parameters):
        types.setdefault(row.workspace_id, {})[row.id] = _TypeRow(*row)
    templates: dict[str, dict[str, StoredTemplate]] = {}
    for row in connection.execute(_SELECT_TEMPLATES, parameters):
        templates.setdefault(row.workspace_id, {})[row.language] = row
    return {
        row.id: _Workspace(types=types.get(row.id, {}), name=row.name, templates=templates.get(row.id, {}))
        for row in connection.execute(_SELECT_WORKSPACES, parameters)
    }


def _dispose(engine: Engine) -> Callable[[Any], None]:
    def dispose(_disposed: Any) -> None:
        engine.dispose()

    return dispose


def invited_event(assessment: dict[str, Any]) -> dict[str, Any]:
    """Return the values of the ``invited`` timeline event of a new assessment, given its row's values."""
    return {"assessment_id": assessment["id"], "kind": "invited", "at": assessment["created_at"],
            "detail": {"email": assessment["candidate_email"]}, "external_event_id": None}


def new_assessment_values(
    order: AssessmentOrder, assessment_type: Any, *, expiry_days: int | None, language: str, token: str
) -> dict[str, Any]:
    """Return every column of a new invited assessment, so that every write path stores the same row.

    :param assessment_type: an ``AssessmentType``, or a row with its ``id``, ``expiry_days``,
        ``time_limit_minutes`` and ``pass_mark``.
    :param expiry_days: the order's days until the invitation expires; None means the type's.
    :param token: the candidate's link token, stored as its digest.
    """
    candidate = order.candidate
    now = utcnow()
    values: dict[str, Any] = dict.fromkeys(_ASSESSMENT_COLUMNS)
    values.update(
        id=new_id(), workspace_id=order.workspace_id, integration_id=order.integration_id,
        assessment_type_id=assessment_type.id, external_application_id=order.external_application_id,
        external_candidate_id=candidate.external_id, candidate_first_name=candidate.first_name,
        candidate_last_name=candidate.last_name, candidate_email=candidate.email,
        candidate_profile_url=candidate.profile_url, job_name=order.job_name, external_job_id=order.external_job_id,
        status="invited", created_at=now,
        expires_at=now + dt.timedelta(days=expiry_days or assessment_type.expiry_days), language=language,
        time_limit_minutes=assessment_type.time_limit_minutes, pass_mark=assessment_type.pass_mark,
        invitation_status="queued", candidate_token_digest=hash_token(token),
    )
    return values


_types = AssessmentType.__table__.c
_SELECT_TYPES = select(
    _types.id, _types.workspace_id, _types.name, _types.active, _types.expiry_days, _types.time_limit_minutes,
    _types.pass_mark,
).where(_types.workspace_id.in_(bindparam("workspace_ids", expanding=True)))
_SELECT_WORKSPACES = select(Workspace.__table__.c.id, Workspace.__table__.c.name).where(
    Workspace.__table__.c.id.in_(bindparam("workspace_ids", expanding=True))
)
_templates = EmailTemplate.__table__.c
# The workspaces' own invitation templates; a language without one uses the built-in default.
_SELECT_TEMPLATES = select(
    _templates.id, _templates.workspace_id, _templates.language, _templates.subject, _templates.body
).where(_templates.workspace_id.in_(bindparam("workspace_ids", expanding=True)), _templates.kind == "invitation")
