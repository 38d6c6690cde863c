"""run.json and directory.json: one typed definition read by the harness and the reports alike;
older files still read, a bad field is named with its file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ackguard.harness.run_dir import RunMeta, load_run_info, read_run_file
from ackguard.harness.run_files import (
    CohortEntry,
    DirectoryFile,
    PatientRow,
    PractitionerRow,
    RunFileError,
    Span,
    read_file,
    write_file,
)
from ackguard.harness.scenario import load_scenario
from ackguard.harness.workload.directory import Directory, PatientEntry, PractitionerEntry
from ackguard.reports.rundata import load_run

pytestmark = pytest.mark.unit

STARTED = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
PRACTICE = {"from": "2026-03-02T09:00:00+01:00", "until": "2026-03-02T19:00:00+01:00"}


def _meta() -> RunMeta:
    meta = RunMeta(load_scenario("commit-ack-lost"), "ackguard run commit-ack-lost", "sqlite")
    meta.started_at = STARTED
    meta.load_started_at = STARTED + timedelta(seconds=2)
    meta.interrupted_at = STARTED + timedelta(seconds=9)
    meta.ended_at = STARTED + timedelta(seconds=12)
    meta.status = "interrupted"
    meta.stopped_by = {"reason": "first confirmed loss", "at_s": 7.5}
    meta.workers_lost = ["worker 1: no heartbeat"]
    meta.cohorts = [
        {
            "name": "lost-0",
            "defect": "lost_observations",
            "practice_window": PRACTICE | {"clock": "practice"},
            "window": {"from": "2026-03-02T07:00:03+00:00", "until": "2026-03-02T07:00:08+00:00"},
            "practitioner_ids": ["1", "3"],
        }
    ]
    return meta


def test_run_json_reads_back_as_the_harness_wrote_it(tmp_path: Path) -> None:
    meta = _meta()
    meta.write(tmp_path)
    data = read_run_file(tmp_path)
    assert data == meta.to_file()
    assert data.started_at == STARTED and data.duration_s == 12.0
    assert data.cohorts[0].practice_window == Span(PRACTICE["from"], PRACTICE["until"], "practice")
    info = load_run_info(tmp_path)
    assert info is not None and info.status == "interrupted" and info.interrupted_after_s == 7.0
    assert info.scenario == "commit-ack-lost"
    assert info.stopped_by == "first confirmed loss" and info.workers_lost == (
        "worker 1: no heartbeat",
    )
    report = load_run(tmp_path).info
    assert report is not None and report.scenario == "commit-ack-lost"
    assert report.cohorts[0].window == (
        datetime(2026, 3, 2, 7, 0, 3, tzinfo=UTC),
        datetime(2026, 3, 2, 7, 0, 8, tzinfo=UTC),
    )
    assert report.cohorts[0].practitioner_ids == {"1", "3"}


def test_the_run_json_of_an_older_run_still_reads(tmp_path: Path) -> None:
    """The first run.json versions had neither workers, nor load start, nor cohort windows."""
    old = {
        "scenario": "default",
        "seed": 7,
        "started_at": "2026-01-05T10:00:00",
        "status": "completed",
        "cohorts": [{"name": "c", "defect": "d", "practitioner_ids": ["2"]}],
    }
    (tmp_path / "run.json").write_text(json.dumps(old), encoding="utf-8")
    data = read_run_file(tmp_path)
    assert data.workers == 0 and data.workers_lost == [] and data.load_started_at is None
    assert data.cohorts == [CohortEntry("c", "d", None, None, ["2"])]
    report = load_run(tmp_path)
    assert report.info is not None and report.problems == ()
    assert report.info.started_at == datetime(2026, 1, 5, 10, tzinfo=UTC)  # no offset: UTC


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"seed": "seven"}', "`$.seed`"),
        ('{"status": "exploded"}', "`$.status`"),
        ('{"started_at": "yesterday"}', "`$.started_at`"),
        ('{"cohorts": [{"practitioner_ids": [1]}]}', "`$.cohorts[0].practitioner_ids[0]`"),
        ("[]", "Expected `object`"),
    ],
)
def test_a_bad_run_json_field_is_named(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / "run.json").write_text(content, encoding="utf-8")
    with pytest.raises(RunFileError) as raised:
        read_run_file(tmp_path)
    assert raised.value.file == "run.json" and named in raised.value.detail
    assert load_run_info(tmp_path) is None  # the verdict's reader: no run information
    (problem,) = load_run(tmp_path).problems
    assert problem.startswith("run.json could not be read: ") and named in problem


def test_directory_json_as_the_harness_writes_it(tmp_path: Path) -> None:
    directory = Directory(
        [PractitionerEntry("10", "10000000001", "Dr A", "GP")],
        [PatientEntry("20", "B", "1980-01-01", "180017500000112")],
    )
    path = tmp_path / "directory.json"
    write_file(path, DirectoryFile.of(directory.practitioners, directory.patients), indent=False)
    assert json.loads(path.read_bytes()) == directory.to_json()  # the layout it always had
    assert read_file(path, DirectoryFile) == DirectoryFile(
        [PractitionerRow("10", "10000000001", "Dr A", "GP")],
        [PatientRow("20", "B", "1980-01-01", "180017500000112")],
    )
    loaded = load_run(tmp_path).directory
    assert loaded is not None and loaded.practitioners["10"].name == "Dr A"
    path.write_text('{"practitioners": [{"rpps": "1"}]}', encoding="utf-8")
    with pytest.raises(RunFileError, match=r"directory\.json: .*`id`.*`\$\.practitioners\[0\]`"):
        read_file(path, DirectoryFile)
