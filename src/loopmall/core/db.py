"""Engine, declarative base and the SQLite/PostgreSQL differences in one place.

SQLite runs in WAL mode with foreign keys on. Write transactions start with
``BEGIN IMMEDIATE`` (CONVENTIONS rule 12): they take the write lock up front, so two
writers never both read and then fail to upgrade their lock halfway through.
Read-only units of work use a plain deferred ``BEGIN`` and never block writers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event below decide how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    if conn.get_execution_options().get("loopmall_write", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` with the per-backend settings applied."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql+asyncpg"):
        # asyncpg prepares every statement and keeps it for the connection's life. After five
        # runs PostgreSQL may switch a prepared statement to a generic plan costed on what the
        # tables held then: a plan made while a sale's tables were empty kept scanning them
        # whole once they held 130,000 rows (the flash-sale consumer fell from thousands of
        # orders a second to 180; 0.2-0.4 s per lookup by primary key). Custom plans, made
        # for each run's values, cost a little planning and never go stale that way.
        connect_args = dict(kwargs.get("connect_args") or {})
        settings = dict(connect_args.get("server_settings") or {})
        settings.setdefault("plan_cache_mode", "force_custom_plan")
        connect_args["server_settings"] = settings
        kwargs["connect_args"] = connect_args
    return create_async_engine(url, **kwargs)


# PostgreSQL's answers that mean "no connection for you now", not "your statement is wrong":
# too many connections (for the server or the role: "too many clients already") and the
# server starting up or shutting down. Class 08 is every connection exception.
REFUSED_SQLSTATES = frozenset({"53300", "57P03"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database had no connection to give rather than that the
    work was wrong: the pool stayed empty past its timeout, PostgreSQL refused or dropped
    the connection, nothing listened on its port, or SQLite's write lock stayed taken past
    its busy timeout. Such a request is answered 503 with ``Retry-After`` (issue #21: the
    flash sale's token burst met "too many clients already" as 500s)."""
    if isinstance(exc, PoolTimeout | ConnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state.startswith("08") or state in REFUSED_SQLSTATES:
        return True
    if isinstance(orig, ConnectionError):
        return True
    return "database is locked" in str(orig)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_sessionmakers(
    engine: AsyncEngine, writer: AsyncEngine | None = None
) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """Return (read, write) session factories: reads on ``engine``, writes on ``writer``
    (the same engine when not given).

    The write factory binds to an engine view carrying ``loopmall_write=True`` so that
    SQLite's begin hook issues ``BEGIN IMMEDIATE``.
    """
    read = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
    write_engine = (writer or engine).execution_options(loopmall_write=True)
    write = async_sessionmaker(write_engine, expire_on_commit=False, autoflush=True)
    return read, write


def make_sqlite_writer(url: str, pool_timeout: float = 30) -> AsyncEngine:
    """SQLite takes one writer at a time. Left to SQLite, waiting writers poll the lock with
    growing sleeps (busy_timeout), so under load a write waits seconds after the lock is
    free. One pooled connection for all of a process's writes makes them queue in the pool
    instead, first come first served, and each starts the moment the previous one ends.
    Measured with bench_checkout (8 shoppers, SQLite): see ADR 0005."""
    return make_engine(url, pool_size=1, max_overflow=0, pool_timeout=pool_timeout)
