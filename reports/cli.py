"""``ackguard report RUN_DIR [--index]``: render a run's report files again, offline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ackguard.reports.index import render_index
from ackguard.reports.render import render_run
from ackguard.reports.rundata import RunDirError

__all__ = ["main"]

EXIT_OK = 0
EXIT_UNREADABLE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ackguard report",
        description="Render report.html, junit.xml and impact.csv of a run directory "
        "(and, with --index, the runs index one level up). Needs nothing running.",
        epilog="example: ackguard report runs/20261129T040000-default --index",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory: runs/<timestamp>-<scenario>")
    parser.add_argument(
        "--index", action="store_true", help="also write index.html in the run directory's parent"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the files were written, 2 when the run directory cannot be read."""
    options = _parser().parse_args(argv)
    run_dir: Path = options.run_dir
    try:
        rendered = render_run(run_dir)
        index = render_index(run_dir.resolve().parent) if options.index else None
    except (RunDirError, OSError) as exc:
        print(f"ackguard report: cannot read the run directory {run_dir}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"report: {rendered.html}")
    print(f"junit: {rendered.junit}")
    print(f"impact: {rendered.impact_csv}")
    if index is not None:
        print(f"index: {index}")
    return EXIT_OK
