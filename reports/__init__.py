"""Reports of a run directory: ``report.html``, ``junit.xml``, ``impact.csv`` and the runs index.

Reads only what a run stored (history, verdict, final read, run.json, directory.json,
scenario.yaml), so a report can be drawn again offline, also for a run cut short.
"""

from ackguard.reports.cli import main
from ackguard.reports.index import render_index
from ackguard.reports.render import RenderedRun, render_run
from ackguard.reports.rundata import RunDirError

__all__ = ["RenderedRun", "RunDirError", "main", "render_index", "render_run"]
