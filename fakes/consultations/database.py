"""Engines for SQLite, PostgreSQL (``postgresql+psycopg://``) and MariaDB/MySQL
(``mysql+pymysql://``), all bounded in time so that a dead database answers 503 quickly.

- SQLite: WAL journal, ``synchronous=NORMAL`` (a commit is in the WAL, in the OS, before it
  returns: durable against a killed process, which is the fault injected), foreign keys on, and a
  busy timeout.
- PostgreSQL: ``application_name=ackguard-consultations`` (so a fault can target our backends),
  connect timeout, server-side ``statement_timeout``.
- MariaDB: connect/read/write timeouts.

Readers use a bounded pool, without a ping at checkout: a read whose connection the database
dropped (a restart) runs once more on a new one (:mod:`.service`); the writer keeps one
connection and replaces it after any database error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["APPLICATION_NAME", "DatabaseSettings", "describe", "is_transient", "make_engine"]

APPLICATION_NAME = "ackguard-consultations"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    request_timeout_s: float = 5.0
    busy_timeout_ms: int = 1000
    read_pool_size: int = 8

    @property
    def parsed(self) -> URL:
        return make_url(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.parsed.get_backend_name() == "sqlite"


def _connect_args(settings: DatabaseSettings) -> dict[str, Any]:
    backend = settings.parsed.get_backend_name()
    timeout_s = max(1, math.ceil(settings.request_timeout_s / 2))
    if backend == "sqlite":
        return {"check_same_thread": False, "timeout": settings.busy_timeout_ms / 1000}
    if backend == "postgresql":
        statement_ms = int(settings.request_timeout_s * 800)
        return {
            "application_name": APPLICATION_NAME,
            "connect_timeout": max(2, timeout_s),
            "options": f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}",
        }
    if backend in ("mysql", "mariadb"):
        return {
            "connect_timeout": timeout_s,
            "read_timeout": math.ceil(settings.request_timeout_s),
            "write_timeout": math.ceil(settings.request_timeout_s),
        }
    return {}


def make_engine(
    settings: DatabaseSettings, *, pool_size: int, pre_ping: bool, single_statements: bool = False
) -> Engine:
    """``single_statements``: every use of a connection is one statement (the reads), so on
    PostgreSQL it runs in autocommit, seeing what was committed when it starts as a
    one-statement transaction would, without the BEGIN and ROLLBACK round trips around it
    (two of a read's four round trips, and more than half its CPU in profiles)."""
    url = settings.parsed
    extra: dict[str, Any] = {}
    if single_statements and url.get_backend_name() == "postgresql":
        extra["isolation_level"] = "AUTOCOMMIT"
    engine = create_engine(
        url,
        connect_args=_connect_args(settings),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=settings.request_timeout_s,
        pool_pre_ping=pre_ping,
        **extra,
    )
    if url.get_backend_name() == "sqlite":
        busy_ms = settings.busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.close()

    return engine


def is_transient(exc: BaseException) -> bool:
    """A connectivity/availability error (retrying request by request would only wait longer),
    as opposed to an integrity or data error that one request of a batch caused."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)


def describe(exc: BaseException) -> str:
    """A one-line description of a database error, without SQLAlchemy's long suffixes."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0] if text else ''}".rstrip(": ")
