"""History shards: each Locust worker records its practitioners' ops in a file of its own, and at
the end of the load the harness merges them into ``history.jsonl``.

A shard is written by a :class:`~ackguard.harness.history.HistoryWriter` like the main history,
with the same clock origin (the harness's start), so its ``time`` values compare with the
harness's own. The merge is a k-way merge by ``time`` of the harness's lines so far (the nemesis
ops) and every shard, each already in time order (a writer reads its clock under its lock); the
``index`` of every line is renumbered in merged order, and the harness's writer then continues
the merged file, so the heal, the final read's end marker and every reader see one history.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ackguard.harness.history import HistoryWriter

__all__ = ["MergeReport", "ShardFile", "merge_shards", "shard_path"]

_HEAD = re.compile(rb'\{"index":\d+,"time":(-?\d+),')


def shard_path(run_dir: Path, k: int) -> Path:
    """The shard of worker ``k`` (0-based) in a run directory."""
    return run_dir / f"history.worker-{k}.jsonl"


@dataclass(slots=True)
class ShardFile:
    """One shard, with what the merge found in it."""

    path: Path
    lines: int = 0
    torn: bool = False
    """Its last line was cut off (its worker died mid-write): left out of the merge."""


@dataclass(slots=True)
class MergeReport:
    lines: int = 0
    """Lines of the merged history."""
    shards: list[ShardFile] = field(default_factory=list)


class _Source:
    """The lines of one file as (time, order, whole, line): ``whole`` says the line is kept as
    it is (a damaged line); otherwise ``line`` is what follows its index."""

    def __init__(self, shard: ShardFile, order: int) -> None:
        self.shard = shard
        self.order = order

    def __iter__(self) -> Iterator[tuple[int, int, bool, bytes]]:
        last = 0
        with self.shard.path.open("rb", buffering=1 << 20) as lines:
            for line in lines:
                if not line.endswith(b"\n"):
                    self.shard.torn = True  # only a last line can lack its newline
                    return
                self.shard.lines += 1
                head = _HEAD.match(line)
                if head is None:  # a damaged line stays, where it was: the verifiers say it
                    yield last, self.order, True, line
                    continue
                last = int(head.group(1))
                yield last, self.order, False, line[line.index(b",") :]


def merge_shards(writer: HistoryWriter, shards: Sequence[Path]) -> MergeReport:
    """Merge ``shards`` into ``writer``'s file (see the module docstring); the writer continues
    the merged history with the next index. Shards merged are deleted: the history holds them.
    The writer's lock is held throughout, so nothing it records can fall between."""
    report = MergeReport(shards=[ShardFile(path) for path in shards])
    own = ShardFile(writer.path)
    sources = [_Source(own, 0), *(_Source(s, k + 1) for k, s in enumerate(report.shards))]
    merging = writer.path.with_name(writer.path.name + ".merging")
    # The writer has no API to be re-pointed at a new file: this module and the writer live
    # together (same package), and the merge is the one place that needs it.
    with writer._lock:
        with merging.open("wb", buffering=1 << 20) as out:
            # One line of each source is in the heap at a time: a source's order is kept.
            merged = heapq.merge(*sources, key=lambda item: (item[0], item[1]))
            for index, (_time, _order, whole, line) in enumerate(merged):
                out.write(line if whole else b'{"index":%d%s' % (index, line))
                report.lines = index + 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(merging, writer.path)
        if writer._fd >= 0:
            os.close(writer._fd)
        writer._fd = os.open(writer.path, os.O_WRONLY | os.O_APPEND)
        writer._next_index = report.lines
    for shard in report.shards:
        shard.path.unlink(missing_ok=True)
    return report
