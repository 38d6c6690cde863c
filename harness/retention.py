"""Retention: keep the newest N runs of each scenario in a runs folder, delete the older ones.

Only *run directories* are candidates: direct sub-folders (not symbolic links) holding a
readable ``run.json`` that names its scenario and start time. Anything else in the folder (other
files, other folders, a run whose ``run.json`` cannot be read) is left alone and never counted.
A run whose harness is still at work (``run.json`` status ``running`` with its harness alive or
unknown, or any run whose harness is another live process) is kept and does not count among
the N: a run in progress must not push out the last finished one.

A run is deleted by renaming it to a hidden name first (the runs index skips hidden folders), so
an index drawn meanwhile never lists a half-deleted run; then its tree is removed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ackguard.harness.run_dir import RUN_FILE, harness_alive, load_run_info

__all__ = ["PruneResult", "PrunedRun", "RetentionError", "prune_command", "prune_runs"]


class RetentionError(ValueError):
    """The request cannot be carried out as asked: not a runs folder, or N below 1."""


@dataclass(frozen=True, slots=True)
class PrunedRun:
    path: Path
    scenario: str
    started_at: datetime
    size_bytes: int  # disk space its files take (allocated blocks)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """``removed``: deleted (or, on a dry run, that would be). ``kept``: the newest N per
    scenario. ``live``: kept because their harness is still at work. ``failed``: could not be
    deleted, with why; ``freed_bytes`` counts only what was removed."""

    removed: tuple[PrunedRun, ...]
    kept: tuple[PrunedRun, ...]
    live: tuple[PrunedRun, ...]
    failed: tuple[tuple[PrunedRun, str], ...]
    dry_run: bool

    @property
    def freed_bytes(self) -> int:
        return sum(run.size_bytes for run in self.removed)


def prune_runs(runs_dir: Path, keep_last: int, *, dry_run: bool = False) -> PruneResult:
    """Keep the newest ``keep_last`` runs of each scenario in ``runs_dir``; delete the others
    (none on a dry run). Raise :class:`RetentionError` when ``runs_dir`` is not a runs folder."""
    if keep_last < 1:
        raise RetentionError(f"--keep-last must be a whole number of runs, 1 or more: {keep_last}")
    runs = _runs(_check_runs_dir(runs_dir))
    by_scenario: dict[str, list[tuple[PrunedRun, bool]]] = {}
    for run, live in runs:
        by_scenario.setdefault(run.scenario, []).append((run, live))
    removed: list[PrunedRun] = []
    kept: list[PrunedRun] = []
    live_runs: list[PrunedRun] = []
    failed: list[tuple[PrunedRun, str]] = []
    for group in by_scenario.values():
        group.sort(key=lambda item: (item[0].started_at, item[0].path.name), reverse=True)
        finished = [run for run, live in group if not live]
        live_runs.extend(run for run, live in group if live)
        kept.extend(finished[:keep_last])
        for run in finished[keep_last:]:
            if dry_run:
                removed.append(run)
                continue
            problem = _delete(run.path)
            if problem is None:
                removed.append(run)
            else:
                failed.append((run, problem))
    return PruneResult(tuple(removed), tuple(kept), tuple(live_runs), tuple(failed), dry_run)


def _check_runs_dir(runs_dir: Path) -> Path:
    if not runs_dir.exists():
        raise RetentionError(f"{runs_dir} does not exist")
    if not runs_dir.is_dir():
        raise RetentionError(f"{runs_dir} is not a directory")
    if (runs_dir / RUN_FILE).is_file():
        raise RetentionError(
            f"{runs_dir} is a run directory, not a runs folder: give the folder that holds it "
            f"({runs_dir.resolve().parent})"
        )
    try:
        has_run = any(_is_run_dir(path) for path in runs_dir.iterdir())
    except OSError as exc:
        raise RetentionError(f"{runs_dir} cannot be read: {exc}") from exc
    if not has_run:
        raise RetentionError(
            f"{runs_dir} is not a runs folder: none of its sub-folders holds a {RUN_FILE}"
        )
    return runs_dir


def _is_run_dir(path: Path) -> bool:
    return (
        not path.name.startswith(".")
        and not path.is_symlink()
        and path.is_dir()
        and (path / RUN_FILE).is_file()
    )


def _runs(runs_dir: Path) -> list[tuple[PrunedRun, bool]]:
    """Every run directory with a readable run.json, and whether its harness is at work."""
    found = []
    for path in sorted(runs_dir.iterdir()):
        if not _is_run_dir(path):
            continue
        info = load_run_info(path)
        scenario = info.scenario if info is not None else None
        if not scenario or info is None or info.started_at is None:
            continue  # not readable as an ackguard run: never ours to delete
        alive = harness_alive(info)
        live = (info.status == "running" and alive is not False) or (
            alive is True and info.harness_pid != os.getpid()
        )
        found.append((PrunedRun(path, scenario, info.started_at, _disk_usage(path)), live))
    return found


def _disk_usage(path: Path) -> int:
    total = 0
    for entry in _walk(path):
        try:
            total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return total


def _walk(path: Path) -> Iterator[os.DirEntry[str]]:
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        yield entry
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))


def _delete(run_dir: Path) -> str | None:
    """Rename to a hidden name, then remove the tree; why not, when it could not be done."""
    hidden = run_dir.with_name(f".{run_dir.name}.pruning")
    try:
        run_dir.rename(hidden)
    except OSError as exc:
        return f"cannot rename it aside: {exc.strerror or exc}"
    try:
        shutil.rmtree(hidden)
    except OSError as exc:
        return f"partly removed, what is left is in {hidden}: {exc}"
    return None


def prune_command(
    runs_dir: Path, keep_last: int, *, dry_run: bool = False, out: TextIO | None = None
) -> int:
    """``ackguard prune``: prune, say what was removed and the space freed, re-render the index.
    Exit 0 when done, 2 when the request is refused or a run could not be deleted."""
    out = out or sys.stdout
    try:
        result = prune_runs(runs_dir, keep_last, dry_run=dry_run)
    except RetentionError as exc:
        print(f"ackguard: prune: {exc}", file=sys.stderr)
        return 2
    verb = "would remove" if dry_run else "removed"
    for run in result.removed:
        print(f"{verb} {run.path} ({run.scenario}, {_size(run.size_bytes)})", file=out)
    for run in result.live:
        print(f"kept {run.path}: its harness is still running", file=out)
    for run, why in result.failed:
        print(f"ackguard: prune: could not remove {run.path}: {why}", file=sys.stderr)
    runs = "run" if len(result.removed) == 1 else "runs"
    freed = "would free" if dry_run else "freed"
    print(
        f"{verb} {len(result.removed)} {runs}, {freed} {_size(result.freed_bytes)}; kept "
        f"{len(result.kept)} (the newest {keep_last} of each scenario)"
        + (f" and {len(result.live)} still running" if result.live else ""),
        file=out,
    )
    if not dry_run and result.removed:
        _render_index(runs_dir)
    return 2 if result.failed else 0


def _render_index(runs_dir: Path) -> None:
    from ackguard import reports  # the harness runs without the reports' dependencies loaded

    try:
        reports.render_index(runs_dir)
    except Exception as exc:  # the runs are pruned whether or not the page can be drawn
        print(f"ackguard: prune: the runs index could not be rendered: {exc}", file=sys.stderr)


def _size(count: int) -> str:
    """Bytes for humans: 512 bytes, 4.0 KB, 75.3 MB, 1.2 GB (powers of 1024)."""
    if count < 1 << 10:
        return f"{count:,} bytes"
    if count < 1 << 20:
        return f"{count / (1 << 10):,.1f} KB"
    if count < 1 << 30:
        return f"{count / (1 << 20):,.1f} MB"
    return f"{count / (1 << 30):,.1f} GB"
