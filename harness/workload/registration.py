"""Registering the practice with the system under test, before the load starts.

A target with :class:`~harness.workload.target.SupportsBulkRegistration` registers practitioners,
then patients, in chunks of :data:`BULK_CHUNK` with at most :data:`BULK_CONCURRENCY` calls in
flight; one with only :class:`~harness.workload.target.SupportsRegistration` registers them one
call each, :data:`SINGLE_CONCURRENCY` at a time. Either way the ids come back in the practice's
order, so the directory holds the same people in the same order (only the ids the system gives
may differ).

A call that is not acknowledged (the service unreachable, a 5xx, a timeout) is sent again, with
backoff, until ``timeout_s`` has passed without any registration succeeding (a long
registration that keeps progressing is never cut off); a 4xx, or an answer that breaks the
contract, is a :class:`SetupError` at once. A call sent again after an indeterminate answer may
register its people twice: harmless, the directory keeps the ids of the answer it got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ackguard.harness.workload.model import PractitionerProfile
from ackguard.harness.workload.target import (
    SupportsBulkRegistration,
    SupportsRegistration,
    TargetAnswer,
)

__all__ = [
    "BULK_CHUNK",
    "BULK_CONCURRENCY",
    "SINGLE_CONCURRENCY",
    "SetupError",
    "register_everyone",
]

BULK_CHUNK = 500
BULK_CONCURRENCY = 4  # the service writes through one writer: more in flight only queues
SINGLE_CONCURRENCY = 8

T = TypeVar("T")


class SetupError(RuntimeError):
    """Registering practitioners and patients failed (rejected, or out of time)."""


class _Patience:
    """The retry deadline: ``timeout_s`` after the last registration that succeeded."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.until = time.monotonic() + timeout_s

    def progressed(self) -> None:
        self.until = time.monotonic() + self.timeout_s  # one float store: safe across threads

    def left_s(self) -> float:
        return self.until - time.monotonic()


def register_everyone(
    target: SupportsRegistration | SupportsBulkRegistration,
    practice: Sequence[PractitionerProfile],
    timeout_s: float,
) -> tuple[list[str], list[str]]:
    """The system's ids of every practitioner and of every patient (practitioner by
    practitioner, in order), registered in bulk when the target can."""
    patience = _Patience(timeout_s)
    everyone = [patient for profile in practice for patient in profile.patients]
    if isinstance(target, SupportsBulkRegistration):
        return (
            _in_chunks(target.register_practitioners, practice, patience),
            _in_chunks(target.register_patients, everyone, patience),
        )
    with ThreadPoolExecutor(max_workers=SINGLE_CONCURRENCY) as pool:
        practitioner_ids = list(
            pool.map(lambda p: _one(target.register_practitioner, p, patience), practice)
        )
        patient_ids = list(pool.map(lambda p: _one(target.register_patient, p, patience), everyone))
    return practitioner_ids, patient_ids


def _in_chunks(
    register: Callable[[Sequence[T]], TargetAnswer], items: Sequence[T], patience: _Patience
) -> list[str]:
    chunks = [items[start : start + BULK_CHUNK] for start in range(0, len(items), BULK_CHUNK)]

    def one_chunk(chunk: Sequence[T]) -> list[str]:
        answer = _until_acknowledged(lambda: register(chunk), patience)
        if len(answer.entity_ids) != len(chunk):
            raise SetupError(
                f"bulk registration answered {len(answer.entity_ids)} ids for {len(chunk)} items"
            )
        return list(answer.entity_ids)

    with ThreadPoolExecutor(max_workers=BULK_CONCURRENCY) as pool:
        return [entity_id for ids in pool.map(one_chunk, chunks) for entity_id in ids]


def _one(register: Callable[[T], TargetAnswer], item: T, patience: _Patience) -> str:
    answer = _until_acknowledged(lambda: register(item), patience)
    if answer.entity_id is None:
        raise SetupError("registration answered ok without an id")
    return answer.entity_id


def _until_acknowledged(call: Callable[[], TargetAnswer], patience: _Patience) -> TargetAnswer:
    attempt = 0
    while True:
        answer = call()
        if answer.outcome == "ok":
            patience.progressed()
            return answer
        if answer.status is not None and 400 <= answer.status < 500:
            raise SetupError(f"registration rejected: {answer.error}")
        if patience.left_s() <= 0:
            raise SetupError(
                f"registration did not succeed in time: {answer.error or answer.outcome}"
            )
        time.sleep(min(0.1 * 2**attempt, 2.0, max(0.0, patience.left_s())))
        attempt += 1
