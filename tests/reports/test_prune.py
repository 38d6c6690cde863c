"""Retention (``ackguard prune``, ``ackguard run --keep-last``) on run directories shaped as the
harness writes them, next to things that are not runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ackguard.harness.cli import main
from ackguard.harness.retention import RetentionError, prune_runs
from tests.reports.runbuilder import nightly_run

NO_SUCH_PID = 2**22 + 1  # above Linux's largest pid_max: never a live process


def _disk_usage(path: Path) -> int:
    return sum(
        os.lstat(os.path.join(root, name)).st_blocks * 512
        for root, dirs, files in os.walk(path)
        for name in (*dirs, *files)
    )


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Four nights of ``crash``, two of ``baseline``, and things that are not runs."""
    runs = tmp_path / "runs"
    for night in range(4):
        nightly_run(runs, "crash", night, night != 2, write_ms=[10.0] * (night + 1) * 50)
    for night in (1, 3):
        nightly_run(runs, "baseline", night, True)
    (runs / "notes").mkdir()
    (runs / "notes" / "keep.txt").write_text("mine", "utf-8")
    (runs / "verdict-only").mkdir()  # a verdict without run.json: not a run directory
    (runs / "verdict-only" / "verdict.json").write_text('{"verdict": true}', "utf-8")
    (runs / "torn-run").mkdir()  # a run.json that cannot be read: never ours to delete
    (runs / "torn-run" / "run.json").write_text('{"scenario": "crash", "sta', "utf-8")
    (runs / "README.txt").write_text("nightly runs", "utf-8")
    elsewhere = nightly_run(tmp_path / "elsewhere", "crash", -30, True)
    (runs / "20261030T040000-crash").symlink_to(elsewhere, target_is_directory=True)
    return runs


def _names(runs: Path) -> set[str]:
    return {path.name for path in runs.iterdir()}


def test_keeps_the_newest_n_of_each_scenario_and_nothing_else_is_touched(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _names(runs)
    oldest = [runs / "20261129T040000-crash", runs / "20261130T040000-crash"]
    sizes = sum(_disk_usage(path) for path in oldest)
    assert main(["prune", str(runs), "--keep-last", "2"]) == 0
    out = capsys.readouterr().out
    assert _names(runs) == before - {path.name for path in oldest} | {"index.html"}
    for path in oldest:
        assert f"removed {path} (crash, " in out
    assert f"removed 2 runs, freed {sizes / 1024:,.1f} KB; kept 4 " in out
    assert (tmp_path / "elsewhere" / "20261030T040000-crash" / "run.json").is_file()
    assert (runs / "notes" / "keep.txt").read_text("utf-8") == "mine"
    page = (runs / "index.html").read_text("utf-8")  # the index no longer lists them
    assert "20261201T040000-crash" in page and "20261129T040000-crash" not in page
    assert not [name for name in _names(runs) if name.startswith(".")]  # nothing left aside
    # Once pruned, pruning again removes nothing.
    assert main(["prune", str(runs), "--keep-last", "2"]) == 0
    assert "removed 0 runs, freed 0 bytes; kept 4" in capsys.readouterr().out


def test_prune_runs_is_the_function_other_commands_call(runs: Path) -> None:
    result = prune_runs(runs, 1)
    assert sorted(run.path.name for run in result.kept) == [
        "20261202T040000-baseline",
        "20261202T040000-crash",
    ]
    assert len(result.removed) == 4 and not result.failed and not result.dry_run
    assert result.freed_bytes == sum(run.size_bytes for run in result.removed) > 0
    assert not (runs / "index.html").exists()  # rendering is the command's part, not this one's
    with pytest.raises(RetentionError, match="1 or more"):
        prune_runs(runs, 0)


def test_a_dry_run_deletes_nothing(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _names(runs)
    assert main(["prune", str(runs), "--keep-last", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert _names(runs) == before  # no index written either
    assert out.count("would remove ") == 5  # four lines and the total
    assert "would remove 4 runs, would free " in out
    assert f"would remove {runs / '20261201T040000-crash'} (crash, " in out


def test_a_run_whose_harness_is_at_work_is_kept_and_not_counted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    now = datetime.now(UTC).isoformat()
    nightly_run(runs, "live", 0, True)
    finished = nightly_run(runs, "live", 1, True)
    ours = nightly_run(runs, "live", 2, None, status="running", harness_pid=os.getpid())
    # A finished run whose harness (another live process) has not exited yet, e.g. rendering.
    other = nightly_run(runs, "live", 3, True, harness_pid=os.getppid(), started_at=now)
    dead = nightly_run(runs, "dead", 0, None, status="running", harness_pid=NO_SUCH_PID)
    nightly_run(runs, "dead", 1, True)
    result = prune_runs(runs, 1)
    assert {run.path for run in result.live} == {ours, other}
    assert {run.path for run in result.kept} == {finished, runs / "20261130T040000-dead"}
    assert {run.path.name for run in result.removed} == {"20261129T040000-live", dead.name}
    assert ours.is_dir() and other.is_dir() and not dead.exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing", "does not exist"),
        ("runs/README.txt", "is not a directory"),
        ("runs/20261202T040000-crash", "is a run directory, not a runs folder"),
        ("runs/notes", "is not a runs folder: none of its sub-folders holds a run.json"),
    ],
)
def test_a_path_that_is_not_a_runs_folder_is_refused(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, message: str
) -> None:
    before = _names(runs)
    assert main(["prune", str(tmp_path / path), "--keep-last", "1"]) == 2
    assert message in capsys.readouterr().err
    assert _names(runs) == before


@pytest.mark.parametrize("count", ["0", "-3", "two", "1.5"])
def test_keep_last_must_be_a_number_of_runs(
    runs: Path, capsys: pytest.CaptureFixture[str], count: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["prune", str(runs), "--keep-last", count])
    assert exit_.value.code == 2
    assert f"argument --keep-last: {count!r} is not a number of runs (1 or more)" in (
        capsys.readouterr().err
    )


def test_a_run_that_cannot_be_deleted_is_reported_and_the_rest_go(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = runs / "20261129T040000-crash"
    leftover = runs / f".{stuck.name}.pruning"  # what an earlier, failed removal left aside
    leftover.mkdir()
    (leftover / "run.json").write_text('{"scenario": "leftover"}', "utf-8")
    assert main(["prune", str(runs), "--keep-last", "2"]) == 2
    captured = capsys.readouterr()
    assert f"could not remove {stuck}: cannot rename it aside" in captured.err
    assert "removed 1 run, " in captured.out
    assert stuck.is_dir() and not (runs / "20261130T040000-crash").exists()
    assert leftover.name not in (runs / "index.html").read_text("utf-8")  # hidden: not listed


def test_a_run_json_with_no_scenario_is_left_alone(runs: Path) -> None:
    anonymous = nightly_run(runs, "anon", 0, True)
    data = json.loads((anonymous / "run.json").read_text("utf-8"))
    del data["scenario"]
    (anonymous / "run.json").write_text(json.dumps(data), "utf-8")
    result = prune_runs(runs, 1)
    assert anonymous.is_dir() and anonymous not in {run.path for run in result.removed}


@pytest.mark.integration
def test_run_keep_last_prunes_after_a_real_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    older = [nightly_run(runs, "keep", night, True) for night in (-3, -2, -1)]
    other = nightly_run(runs, "other", -5, True)
    (tmp_path / "keep.yaml").write_text(
        "name: keep\nseed: 7\nduration: 3s\npractitioners: 2\ntime_scale: 7200\n", "utf-8"
    )
    command = ["run", "keep.yaml", "--runs-dir", "runs", "--keep-last", "2", "--no-report"]
    done = subprocess.run(
        [sys.executable, "-m", "ackguard", *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    new = re.search(r"^run: (\S+) \(completed\)$", done.stdout, re.M)
    assert new is not None, done.stdout
    assert {path.name for path in runs.iterdir()} == {
        Path(new.group(1)).name,
        older[-1].name,
        other.name,
        "index.html",
    }
    for gone in older[:2]:
        assert f"removed runs/{gone.name} (keep, " in done.stdout
    assert "removed 2 runs, freed " in done.stdout
    assert older[0].name not in (runs / "index.html").read_text("utf-8")
