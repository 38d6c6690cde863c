"""The single writer: every write of the service goes through one thread, with group commit.

Requests hand a job to the writer and wait (bounded by the request timeout) for its answer. The
writer takes every job waiting, runs them in one transaction, commits, and only then answers
each: every 2xx follows its own commit, and one commit (one fsync on PostgreSQL) serves many
requests. A job refused by validation (4xx) writes nothing and does not disturb the others. If the
database fails, a batch whose error came from one job (an integrity error) is retried job by job;
one whose database is unavailable is answered 503 at once.

The creates of a batch that no defect covers are inserted first, in one statement
(:func:`.multirow.insert_creates_together`), on PostgreSQL with no defect active its PATCHes are
updated together next (:func:`.multirow.update_patches_together`), then the other jobs run; all
are answered after the one commit as before.

Defects change exactly this sequence (see :mod:`.jobs` and the defect modules): a deferred job
is answered before the commit, a job with a fallback is answered 2xx although its write failed,
and follow-ups run after the commit in transactions of their own.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ackguard.fakes.consultations.database import describe, is_transient
from ackguard.fakes.consultations.defects import ActiveDefects
from ackguard.fakes.consultations.errors import Answer, ApiError, error_body, unavailable
from ackguard.fakes.consultations.jobs import (
    Directory,
    FollowUp,
    WriteContext,
    WriteJob,
    prefetch_keys,
)
from ackguard.fakes.consultations.multirow import (
    insert_creates_together,
    update_patches_together,
)
from ackguard.fakes.consultations.schema import consultations

__all__ = ["Writer"]

log = logging.getLogger("fakes.consultations.writer")

MAX_BATCH = 256


@dataclass
class _Pending:
    job: WriteJob
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answer]


def _expire(future: asyncio.Future[Answer], job: WriteJob, timeout_s: float) -> None:
    if not future.done():
        job.cancelled = True  # skipped if not started; if it was, the outcome is unknown
        future.set_result(unavailable(f"no answer from the database within {timeout_s:g} s"))


def _set_results(results: list[tuple[asyncio.Future[Answer], Answer]]) -> None:
    for future, answer in results:
        if not future.done():
            future.set_result(answer)


class Writer:
    def __init__(self, engine: Engine, defects: Callable[[], ActiveDefects]) -> None:
        self._engine = engine
        self._defects = defects
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._connection: Connection | None = None
        self._context = WriteContext(ActiveDefects(), datetime.now(UTC), Directory())
        self._deferred: list[WriteJob] = []  # answered, not yet committed
        self._flush_at: float | None = None
        self._followups: list[tuple[float, int, FollowUp]] = []
        self._followup_seq = 0

    def start(self) -> None:
        with self._engine.connect() as connection:
            found = connection.execute(select(func.max(consultations.c.id))).scalar()
        self._context.last_id = int(found or 0)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the queued jobs, commit what is deferred, run the follow-ups, close."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout_s)

    async def submit(self, job: WriteJob, timeout_s: float) -> Answer:
        """The job's answer, or 503 once ``timeout_s`` has passed. A timer settles the future
        itself: ``wait_for(shield(...))`` cost a fifth of the event loop's time per request."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.put(_Pending(job, loop, future))
        timer = loop.call_later(timeout_s, _expire, future, job, timeout_s)
        try:
            return await future
        finally:
            timer.cancel()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            try:
                first = self._queue.get(timeout=self._wait_s())
            except queue.Empty:  # woken by a timer: a deferred commit or a follow-up is due
                first = _NOTHING
            if first is None:
                stopping = True
            elif first is not _NOTHING:
                batch.append(first)
            while not stopping and len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            try:
                if batch:
                    self._run_batch(batch)
                self._tick(force=stopping)
            except Exception:  # never let the writer die: later requests would hang
                log.exception("writer error")
                self._discard_connection()
        self._discard_connection()

    def _wait_s(self) -> float | None:
        due = [t for t in (self._flush_at, self._followups[0][0] if self._followups else None) if t]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _tick(self, *, force: bool) -> None:
        now = time.monotonic()
        if self._flush_at is not None and (force or now >= self._flush_at):
            self._commit_deferred()
        if self._flush_at is None:
            while self._followups and (force or self._followups[0][0] <= now):
                _, _, followup = heapq.heappop(self._followups)
                self._run_followup(followup)

    def _open(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _discard_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                log.debug("closing a broken connection failed", exc_info=True)

    def _run_batch(self, batch: list[_Pending], *, alone: bool = False) -> None:
        live = [p for p in batch if not p.job.cancelled]
        if not live:
            return
        context = self._context
        context.defects = self._defects()
        context.now = datetime.now(UTC)
        answers: dict[int, Answer] = {}
        current: _Pending | None = None
        try:
            connection = self._open()
            jobs = [p.job for p in live]
            prefetch_keys(connection, context, jobs)
            together = insert_creates_together(connection, context, jobs)
            together.update(update_patches_together(connection, context, jobs))
            for index, pending in enumerate(live):
                current = pending
                try:
                    done = together.get(index)
                    answers[id(pending)] = (
                        done if done is not None else pending.job.execute(connection, context)
                    )
                except ApiError as refused:
                    answers[id(pending)] = refused.answer()
            current = None
            wrote = [p.job for p in live if p.job.wrote]
            if wrote and all(job.defer_s is not None for job in wrote):
                self._defer(wrote)
            elif wrote:
                connection.commit()
                self._after_commit([*self._deferred, *wrote])
                self._deferred, self._flush_at = [], None
            elif not self._deferred:
                connection.rollback()  # end the read-only transaction
        except SQLAlchemyError as exc:
            self._batch_failed(live, answers, current, exc, alone=alone)
            return
        self._answer([(p, answers[id(p)]) for p in live])

    def _defer(self, jobs: list[WriteJob]) -> None:
        interval = min(job.defer_s or 0.0 for job in jobs)
        self._deferred.extend(jobs)
        if self._flush_at is None:
            self._flush_at = time.monotonic() + interval

    def _after_commit(self, jobs: list[WriteJob]) -> None:
        for job in jobs:
            job.committed(self._context)
            for followup in job.followups:
                self._followup_seq += 1
                heapq.heappush(self._followups, (followup.due, self._followup_seq, followup))

    def _batch_failed(
        self,
        live: list[_Pending],
        answers: dict[int, Answer],
        current: _Pending | None,
        exc: SQLAlchemyError,
        *,
        alone: bool,
    ) -> None:
        self._discard_connection()
        if self._deferred:
            log.error("rollback lost %d acknowledged deferred writes: %s", len(self._deferred), exc)
            self._deferred, self._flush_at = [], None
        settled: list[tuple[_Pending, Answer]] = []
        rest: list[_Pending] = []
        for pending in live:
            job = pending.job
            answer = answers.get(id(pending))
            if answer is not None and (not job.wrote or job.fallback is not None):
                settled.append((pending, answer))  # a refusal, a replay, or a swallowed error
            elif pending is current and job.fallback is not None:
                settled.append((pending, job.fallback))
            else:
                rest.append(pending)
        for pending, _ in settled:
            if pending.job.fallback is not None:
                log.error("swallowed a database error, answering 2xx anyway: %s", describe(exc))
        self._answer(settled)
        if not rest:
            return
        if alone or len(live) == 1 or is_transient(exc):
            status = unavailable(describe(exc)) if is_transient(exc) else _failed(exc)
            self._answer([(p, status) for p in rest])
            return
        for pending in rest:  # one job's fault (e.g. an integrity error): retry one by one
            self._run_batch([pending], alone=True)

    def _commit_deferred(self) -> None:
        jobs, self._deferred, self._flush_at = self._deferred, [], None
        try:
            self._open().commit()
        except SQLAlchemyError as exc:
            log.error("deferred commit failed, %d acknowledged writes lost: %s", len(jobs), exc)
            self._discard_connection()
            return
        self._after_commit(jobs)

    def _run_followup(self, followup: FollowUp) -> None:
        try:
            connection = self._open()
            followup.action(connection)
            connection.commit()
        except SQLAlchemyError as exc:
            log.error("follow-up failed (%s): %s", followup.description, describe(exc))
            self._discard_connection()

    def _answer(self, results: list[tuple[_Pending, Answer]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], Answer]]] = {}
        for pending, answer in results:
            by_loop.setdefault(pending.loop, []).append((pending.future, answer))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_set_results, items)


def _failed(exc: SQLAlchemyError) -> Answer:
    return Answer(500, error_body(f"database error: {describe(exc)}"))


_NOTHING = _Pending.__new__(_Pending)  # marker: woke up for a timer, no job
