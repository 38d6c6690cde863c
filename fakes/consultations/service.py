"""The running service's state: configuration, engines, the writer, the active defects."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ackguard.fakes.consultations.database import (
    DatabaseSettings,
    describe,
    is_transient,
    make_engine,
)
from ackguard.fakes.consultations.defects import ActiveDefects
from ackguard.fakes.consultations.defects import non_idempotent_retry as non_idempotent
from ackguard.fakes.consultations.errors import Answer, ApiError
from ackguard.fakes.consultations.jobs import WriteJob
from ackguard.fakes.consultations.schema import create_schema
from ackguard.fakes.consultations.writer import Writer

__all__ = ["Service", "ServiceConfig"]

log = logging.getLogger("fakes.consultations")

T = TypeVar("T")

MAX_BODY_BYTES = 256 * 1024


@dataclass
class ServiceConfig:
    database: DatabaseSettings
    admin_token: str
    defects: ActiveDefects = field(default_factory=ActiveDefects)
    max_body_bytes: int = MAX_BODY_BYTES
    startup_timeout_s: float = 30.0


class Service:
    """Owns the engines and the writer; the HTTP layer calls :meth:`write` and :meth:`read`."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.defects = config.defects
        self.timeout_s = config.database.request_timeout_s
        pool = config.database.read_pool_size
        self.read_engine: Engine = make_engine(
            config.database, pool_size=pool, pre_ping=False, single_statements=True
        )
        self._write_engine = make_engine(config.database, pool_size=1, pre_ping=False)
        self._readers = ThreadPoolExecutor(max_workers=pool, thread_name_prefix="reader")
        self.writer = Writer(self._write_engine, lambda: self.defects)

    def start(self) -> None:
        """Create the schema (waiting, bounded, for a database that is still starting), then
        start the writer."""
        deadline = time.monotonic() + self.config.startup_timeout_s
        unique = not self.defects.has(non_idempotent.KIND)
        while True:
            try:
                create_schema(self._write_engine, unique_keys=unique)
                break
            except SQLAlchemyError as exc:
                if not is_transient(exc) or time.monotonic() > deadline:
                    raise
                log.warning("database not ready yet: %s", describe(exc))
                time.sleep(0.5)
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        self._readers.shutdown(wait=False, cancel_futures=True)
        self.read_engine.dispose()
        self._write_engine.dispose()

    async def write(self, job: WriteJob) -> Answer:
        return await self.writer.submit(job, self.timeout_s)

    async def read(self, function: Callable[[], T]) -> T:
        """Run a read in the pool; raises :class:`ApiError` 503 (or 500) instead of hanging. A
        timer settles the read's future itself, as the writer's do (cheaper than ``wait_for``)."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._readers, _again_if_disconnected, function)
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            future.cancel()

        timer = loop.call_later(self.timeout_s, expire)
        try:
            return await future
        except asyncio.CancelledError:
            if not expired:
                raise  # the request itself was cancelled
            raise ApiError(
                503, f"database unavailable: no answer within {self.timeout_s:g} s"
            ) from None
        except SQLAlchemyError as exc:
            if is_transient(exc):
                raise ApiError(503, f"database unavailable: {describe(exc)}") from exc
            raise ApiError(500, f"database error: {describe(exc)}") from exc
        finally:
            timer.cancel()


def _again_if_disconnected(read: Callable[[], T]) -> T:
    """``read``, once more if its pooled connection turned out dead. Reads check connections
    out without a ping first (the ping was a round trip per read on PostgreSQL and a statement
    on SQLite, for an event as rare as a database restart): a read on a connection the
    database dropped fails with it invalidated, SQLAlchemy then replaces every pooled
    connection as old, and the read runs again on a new one, as the ping would have led to."""
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return read()
