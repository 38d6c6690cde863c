"""Run several verifiers over one run and combine their answers into a :class:`Verdict`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ackguard.harness.final_read import RECORDS_FILE, FinalRead, load_final_read
from ackguard.harness.history import HistoryReading, Op, read_history
from ackguard.harness.history_read import paused_gc
from ackguard.harness.verifiers.base import IndexedVerifier, Verifier
from ackguard.harness.verifiers.index import HistoryIndex, build_index, build_index_from_file
from ackguard.harness.verifiers.parallel import PARTED, check_in_parts
from ackguard.harness.verifiers.read_your_writes import ReadYourWritesVerifier
from ackguard.harness.verifiers.records import RecordsVerifier
from ackguard.harness.verifiers.result import CLASSES, Result, Valid, Verdict, combine

__all__ = ["VERIFIERS", "Composed", "compose", "compose_file", "compose_history", "verifiers_named"]

VERIFIERS: dict[str, Callable[[], Verifier]] = {
    "records": RecordsVerifier,
    "read_your_writes": ReadYourWritesVerifier,
}
"""Every verifier by the name scenarios use, in one explicit table."""


def verifiers_named(names: Iterable[str]) -> list[Verifier]:
    """Fresh verifiers for ``names``; an unknown name is a ``ValueError`` listing the known ones."""
    chosen: list[Verifier] = []
    for name in names:
        if name not in VERIFIERS:
            raise ValueError(f"unknown verifier {name!r}; known: {', '.join(VERIFIERS)}")
        chosen.append(VERIFIERS[name]())
    return chosen


def compose(
    verifiers: Iterable[Verifier],
    history: Sequence[Op] | Iterable[Op],
    final_read: FinalRead | None,
    expected: Valid | None = None,
) -> Verdict:
    """Run every verifier and combine: false > unknown > true (no verifier at all: unknown).

    The history is read once: verifiers that can work from the grouped history share one
    index, so ``history`` may be a one-shot iterator (for example :func:`read_history`). A
    verifier that raises, or whose input could not be built, yields ``unknown`` with the error.
    Counts per class (:data:`CLASSES`) come from the first result that reports each class.
    """
    chosen = list(verifiers)
    needs_ops = any(not isinstance(v, IndexedVerifier) for v in chosen)
    if needs_ops and not isinstance(history, Sequence):
        history = list(history)  # more than one pass will read it
    ops = history
    composed = _compose(chosen, ops, lambda: build_index(ops), final_read, expected, eager=False)
    return composed.verdict


@dataclass(frozen=True, slots=True)
class Composed:
    """The verifiers' verdict over a history file, with the grouped history they shared
    (``None`` when it could not be built) for the checks that look at the run as a whole."""

    verdict: Verdict
    index: HistoryIndex | None
    # the final read judged: loaded, or its facts with the records the parts counted
    final_read: FinalRead | None = None


def compose_file(
    verifiers: Iterable[Verifier],
    history_path: Path,
    final_read: FinalRead | None,
    expected: Valid | None = None,
    *,
    reading: HistoryReading | None = None,
) -> Verdict:
    """:func:`compose` over a ``history.jsonl``, streamed: when every verifier works from the
    grouped history, lines are read as plain rows (no :class:`Op` objects) and memory holds only
    the index. The verdict is the same as ``compose`` gives. Damage to the file (a torn last
    line, a damaged line elsewhere) is said in ``reading``; without one, a damaged line other
    than the last makes every verifier unknown."""
    return compose_history(verifiers, history_path, final_read, expected, reading=reading).verdict


def compose_history(
    verifiers: Iterable[Verifier],
    history_path: Path,
    final_read: FinalRead | None,
    expected: Valid | None = None,
    *,
    reading: HistoryReading | None = None,
    final_dir: Path | None = None,
    jobs: int = 1,
    parts: int | None = None,
    keys: Collection[str] = (),
) -> Composed:
    """:func:`compose_file`, returning the grouped history too (always built, read once).

    With ``jobs`` > 1 and the final read also stored in ``final_dir``, verifiers that check
    records in parts (:mod:`harness.verifiers.parallel`) split them over ``jobs`` processes:
    the same verdict, sooner on a large history; with ``parts`` more than ``jobs``, in that many
    parts checked in waves (less memory, more time). The grouped history then holds every
    count but only the records the anomalies name and those of ``keys``. A final read whose
    records were left in ``final_dir`` (``load_final_read(..., records=False)``) is loaded
    there when one process checks them all."""
    chosen = list(verifiers)
    if (
        max(jobs, parts or 1) > 1
        and final_read is not None
        and final_dir is not None  # the parts read it there: it must be this read, all of it
        and ((final_dir / RECORDS_FILE).exists() or not final_read.records)
        and _parted(chosen)
    ):
        results, index, final_read = check_in_parts(
            [_name(v) for v in chosen],
            history_path,
            final_dir,
            final_read,
            jobs=jobs,
            parts=parts,
            reading=reading,
            keys=keys,
        )
        ordered = [results[_name(v)] for v in chosen]
        verdict = Verdict(
            combine(r.valid for r in ordered), _counts(ordered), tuple(ordered), expected
        )
        return Composed(verdict, index, final_read)
    if final_read is not None and final_read.stored is not None:
        if final_dir is None:
            raise ValueError("a final read whose records were not loaded needs its final_dir")
        final_read = load_final_read(final_dir)
    if any(not isinstance(v, IndexedVerifier) for v in chosen):
        try:
            ops: list[Op] = list(read_history(history_path, reading))
        except Exception as exc:  # an unreadable history must not crash the verdict
            return _unreadable(chosen, exc, expected, final_read)
        return _compose(chosen, ops, lambda: build_index(ops), final_read, expected, eager=True)
    return _compose(
        chosen,
        (),
        lambda: build_index_from_file(
            history_path, reading, () if final_read is None else final_read.records
        ),
        final_read,
        expected,
        eager=True,
    )


def _compose(
    chosen: list[Verifier],
    history: Iterable[Op],
    indexer: Callable[[], HistoryIndex],
    final_read: FinalRead | None,
    expected: Valid | None,
    *,
    eager: bool,
) -> Composed:
    index: HistoryIndex | None = None
    index_error: str | None = None
    if eager or any(isinstance(v, IndexedVerifier) for v in chosen):
        try:
            index = indexer()
        except Exception as exc:  # a damaged history must not crash the verdict
            index_error = f"reading the history failed: {_describe(exc)}"
    with paused_gc():  # the index is millions of acyclic objects: no collection walks them
        results = [_run(v, history, index, index_error, final_read) for v in chosen]
    verdict = Verdict(combine(r.valid for r in results), _counts(results), tuple(results), expected)
    return Composed(verdict, index, final_read)


def _parted(chosen: Sequence[Verifier]) -> bool:
    """Every verifier is one that checks records in parts (exactly: not a subclass)."""
    return bool(chosen) and all(type(v) is PARTED.get(_name(v)) for v in chosen)


def _unreadable(
    chosen: list[Verifier], exc: Exception, expected: Valid | None, final_read: FinalRead | None
) -> Composed:
    error = f"reading the history failed: {_describe(exc)}"
    results = [Result(_name(v), "unknown", error=error, reason=error) for v in chosen]
    verdict = Verdict(combine(r.valid for r in results), _counts(results), tuple(results), expected)
    return Composed(verdict, None, final_read)


def _run(
    verifier: Verifier,
    history: Iterable[Op],
    index: HistoryIndex | None,
    index_error: str | None,
    final_read: FinalRead | None,
) -> Result:
    name = _name(verifier)
    try:
        if isinstance(verifier, IndexedVerifier):
            if index is None:
                return Result(name, "unknown", error=index_error, reason=index_error)
            return verifier.check_index(index, final_read)
        return verifier.check(history, final_read)
    except Exception as exc:  # a checker bug yields unknown, never a crash
        return Result(name, "unknown", error=_describe(exc), reason=f"it raised {_describe(exc)}")


def _name(verifier: Verifier) -> str:
    return str(getattr(verifier, "name", type(verifier).__name__))


def _counts(results: Iterable[Result]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        for name in CLASSES:
            if name not in counts and name in result.counts:
                counts[name] = int(result.counts[name])
    return {name: counts.get(name, 0) for name in CLASSES}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
