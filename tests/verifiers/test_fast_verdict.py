"""The fast path (``compose_file``: typed blocks, the index built without a dict per value)
gives exactly the verdict of the reference (the reference decoder's lines, as
:func:`harness.history.read_lines` reads them, then ``compose``; a client op needs no
``index``, as the verifiers never required one): the same counts, the same anomalies in the
same order, the same extras, on random
histories with damaged lines, a torn last line, concurrent processes, ``info`` and ``fail``
outcomes, lists, misreads and reads of values never written, against random final reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackguard.harness import history_read
from ackguard.harness.final_read import FinalRead, FinalRecord
from ackguard.harness.history import FieldDigest, HistoryReading, digest_fields, read_lines
from ackguard.harness.verifiers import compose, compose_file, verifiers_named
from tests.verifiers.test_reader_agree import KEYS, TEXTS, _edit, _histories, _tail, _write

NAMES = ("visit_reason", "exam_report", "conclusion", "prescription")
_texts = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(TEXTS))
_seen = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {
            "seen_key": st.one_of(st.none(), st.sampled_from(KEYS)),
            "seen_practitioner_id": st.sampled_from(("p1", "p2")),
            "seen_patient_id": st.one_of(st.none(), st.sampled_from(("a", "b"))),
        }
    ),
)


# (process, f, key, practitioner, patient, fields sent or read, found / complete, listed keys,
#  outcome: ok, fail, info or None for never completed, what the answer says of its owner)
def _operation_of(
    kinds: tuple[str, ...], outcomes: tuple[str | None, ...], listed: int = 3
) -> st.SearchStrategy[tuple[Any, ...]]:
    """Operations of these kinds and outcomes (drawn as often as each is named), listings of up
    to ``listed`` keys."""
    return st.tuples(
        st.integers(0, 3),
        st.sampled_from(kinds),
        st.sampled_from(KEYS),
        st.sampled_from(("p1", "p2")),
        st.sampled_from(("a", "b")),
        _texts,
        st.booleans(),
        st.lists(st.sampled_from(KEYS), max_size=listed, unique=True),
        st.sampled_from(outcomes),
        _seen,
    )


_operation = _operation_of(
    ("create", "create", "update", "read", "read", "list"), ("ok", "ok", "ok", "fail", "info", None)
)


def _lines(operations: list[tuple[Any, ...]]) -> list[tuple[Any, str, str, Any, Any]]:
    """Client ops as the writer records them: each operation's invoke, and its completion
    when the same process starts its next one (or at the end): processes run concurrently."""
    lines: list[tuple[Any, str, str, Any, Any]] = []
    in_flight: dict[int, tuple[Any, str, str, Any, Any] | None] = {}
    for process, f, key, practitioner, patient, texts, flag, keys, outcome, seen in operations:
        done = in_flight.pop(process, None)
        if done is not None:
            lines.append(done)
        record_id = str(KEYS.index(key) + 1)
        if f == "create":
            sent = {"practitioner_id": practitioner, "patient_id": patient}
            sent["fields"] = digest_fields({n: texts.get(n) for n in NAMES})
            answer: Any = {"id": record_id, **seen}
        elif f == "update":
            sent = {"id": record_id, "fields": digest_fields(texts)}
            answer = {"id": record_id, "version": 2, **seen}
        elif f == "read":
            sent = {"id": record_id}
            answer = {"id": record_id, "found": flag, "fields": digest_fields(texts), **seen}
        else:
            sent = {"practitioner_id": practitioner, "patient_id": patient if flag else None}
            answer = {"keys": keys, "complete": flag or bool(keys)}
        lines.append((process, "invoke", f, None if f == "list" else key, sent))
        if outcome is not None:
            value = answer if outcome == "ok" else None
            in_flight[process] = (process, outcome, f, None if f == "list" else key, value)
    lines.extend(done for done in in_flight.values() if done is not None)
    return lines


_history = st.tuples(
    st.lists(_operation, max_size=30).map(_lines),
    st.lists(_edit, max_size=2),
    _tail,
)
_final_record = st.builds(
    lambda key, practitioner, patient, texts: FinalRecord(
        str(KEYS.index(key) + 1),
        key,
        practitioner,
        patient,
        1,
        {name: FieldDigest.of(text) for name, text in texts.items() if text is not None},
    ),
    st.sampled_from(KEYS),
    st.sampled_from(("p1", "p2")),
    st.sampled_from(("a", "b")),
    _texts,
)
_final_read = st.one_of(
    st.none(),
    st.builds(
        lambda records, complete, at: FinalRead("database", complete, records, None, at),
        st.lists(_final_record, max_size=4),
        st.booleans(),
        st.one_of(st.none(), st.integers(0, 1 << 62)),
    ),
)


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines: one history is read partly typed, partly line by line."""
    monkeypatch.setattr(history_read, "BLOCK_BYTES", 700)


def _reference(path: Path, final_read: FinalRead | None) -> Any:
    chosen = verifiers_named(["records", "read_your_writes"])
    lines = list(read_lines(path, history_read._from_json, HistoryReading()))
    return compose(chosen, lines, final_read)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_history, _histories), _final_read)
def test_the_fast_path_gives_the_reference_verdict(
    history: tuple[list[Any], list[tuple[int, bytes]], Any], final_read: FinalRead | None
) -> None:
    path = _write(*history)
    expected = _reference(path, final_read)
    chosen = verifiers_named(["records", "read_your_writes"])
    got = compose_file(chosen, path, final_read, reading=HistoryReading())
    assert got.counts == expected.counts
    assert got.anomalies == expected.anomalies
    assert got == expected
