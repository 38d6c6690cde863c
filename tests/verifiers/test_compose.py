"""compose(): every verifier runs, errors become unknown, false > unknown > true."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

import ackguard.harness.verifiers as verifiers
from ackguard.harness.final_read import FinalRead, load_final_read, write_final_read
from ackguard.harness.history import HistoryWriter, Op, digest_fields, read_history
from ackguard.harness.verifiers import (
    CLASSES,
    ReadYourWritesVerifier,
    RecordsVerifier,
    Result,
    Valid,
    Verifier,
    compose,
    compose_file,
    verifiers_named,
)
from tests.verifiers.builder import FIELDS, History, final, record


class Answers:
    """A verifier that answers ``valid`` (to test how answers combine)."""

    def __init__(self, name: str, valid: Valid) -> None:
        self.name = name
        self.valid = valid

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result:
        return Result(self.name, self.valid, {"lost": len(list(history))})


class Raises:
    name = "broken"

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result:
        raise RuntimeError("checker bug")


def test_a_verifier_that_raises_yields_unknown_with_its_error() -> None:
    verdict = compose([Raises(), Answers("fine", True)], [], final())
    assert verdict.valid == "unknown"
    broken = verdict.results[0]
    assert broken.valid == "unknown" and broken.error == "RuntimeError: checker bug"


@pytest.mark.parametrize(
    ("answers", "combined"),
    [
        ((True, True), True),
        ((True, "unknown"), "unknown"),
        (("unknown", False), False),
        ((False, True), False),
        ((), "unknown"),
    ],
)
def test_verdicts_combine_false_over_unknown_over_true(
    answers: tuple[Valid, ...], combined: Valid
) -> None:
    chosen = [Answers(f"v{i}", valid) for i, valid in enumerate(answers)]
    assert compose(chosen, [], final()).valid == combined


def test_counts_per_class_come_from_the_first_result_reporting_them() -> None:
    h = History()
    h.create(1, "k1")
    h.create(1, "k2", type_="info", record_id="2")
    h.read(1, "k1", FIELDS)
    verdict = compose(
        verifiers_named(["records", "read_your_writes"]), h.ops, final(), expected=False
    )
    assert set(verdict.counts) == set(CLASSES)
    assert verdict.counts["lost"] == 1 and verdict.counts["indeterminate"] == 1
    assert verdict.counts["attempted"] == 2 and verdict.counts["acknowledged"] == 1
    assert verdict.valid is False and verdict.matched is True


def test_a_one_shot_iterator_is_read_once_for_every_verifier() -> None:
    h = History()
    h.create(1, "k1")
    h.read(1, "k1", FIELDS)
    chosen: list[Verifier] = [RecordsVerifier(), ReadYourWritesVerifier(), Answers("count", True)]
    verdict = compose(chosen, iter(h.ops), final(record("k1")))
    assert verdict.valid is True
    assert verdict.results[2].counts["lost"] == len(h.ops), "the plain verifier saw every op"


def test_a_damaged_history_yields_unknown_not_a_crash() -> None:
    def damaged() -> Iterable[Op]:
        yield Op(0, 1, 1, "invoke", "create", "k1", {"fields": {}})
        raise ValueError("history.jsonl: damaged history line")

    verdict = compose(verifiers_named(["records"]), damaged(), final())
    assert verdict.valid == "unknown"
    assert "damaged history line" in (verdict.results[0].error or "")


def test_unknown_verifier_names_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="records, read_your_writes"):
        verifiers_named(["records", "linearizable"])


def test_a_run_verified_from_its_files_ignores_a_torn_last_history_line(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "history.jsonl") as writer:
        created = {"practitioner_id": "pr1", "patient_id": "pa1", "fields": digest_fields(FIELDS)}
        writer.record(1, "invoke", "create", key="k1", value=created)
        writer.record(1, "ok", "create", key="k1", value=created | {"id": "1", "version": 1})
    with (tmp_path / "history.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps({"index": 2, "time": 5, "process": 1, "type": "invoke"})[:25])
    write_final_read(tmp_path, final(record("k1")))
    history = read_history(tmp_path / "history.jsonl")
    verdict = compose(verifiers_named(["records"]), history, load_final_read(tmp_path))
    assert verdict.valid is True and verdict.counts["intact"] == 1


def test_public_names_are_exactly_all() -> None:
    public = {n for n in vars(verifiers) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(verifiers, n)).__name__ == "module"}
    assert public - modules == set(verifiers.__all__)


def test_compose_file_streams_rows_and_agrees_with_compose(tmp_path: Path) -> None:
    h = History()
    h.create(1, "k1")
    h.create(2, "k2", record_id="2")
    h.update(1, "k1", {"conclusion": "bronchitis"})
    h.read(1, "k1", FIELDS)  # stale read: the update was acknowledged
    h.fault("start")
    path = tmp_path / "history.jsonl"
    lines = [json.dumps(op.to_json()) for op in h.ops]
    path.write_text("\n".join(lines) + "\n" + lines[0][:30], encoding="utf-8")  # torn last line
    final_read = final(record("k1", FIELDS))
    chosen = ["records", "read_your_writes"]
    from_file = compose_file(verifiers_named(chosen), path, final_read)
    from_ops = compose(verifiers_named(chosen), h.ops, final_read)
    assert from_file.to_json() == from_ops.to_json()
    assert from_file.valid is False and {a.kind for a in from_file.anomalies} == {"lost", "corrupt"}


def test_compose_file_refuses_a_history_damaged_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text('{"index": 0,\n{"index": 1}\n', encoding="utf-8")
    verdict = compose_file(verifiers_named(["records"]), path, final())
    assert verdict.valid == "unknown" and "damaged history line" in (verdict.results[0].error or "")
