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
from sqlalchemy.exc import SQLAlchemyError

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
            config.database, pool_size=pool, pre_ping=True, single_statements=True
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
        """Run a read in the pool; raises :class:`ApiError` 503 (or 500) instead of hanging."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._readers, function), self.timeout_s
            )
        except TimeoutError:
            raise ApiError(
                503, f"database unavailable: no answer within {self.timeout_s:g} s"
            ) from None
        except SQLAlchemyError as exc:
            if is_transient(exc):
                raise ApiError(503, f"database unavailable: {describe(exc)}") from exc
            raise ApiError(500, f"database error: {describe(exc)}") from exc
