"""Reports of a run directory: ``report.html``, ``junit.xml``, ``impact.csv`` and the runs index.

Reads only what a run stored (history, verdict, final read, run.json, directory.json,
scenario.yaml), so a report can be drawn again offline, also for a run cut short.

Each public name is imported when first used, so a process that needs one module of the
package (a history scan's worker process) does not load the charts and templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ackguard.harness.lazy_names import lazy_names as _lazy_names

if TYPE_CHECKING:
    from ackguard.reports.cli import main
    from ackguard.reports.index import render_index
    from ackguard.reports.render import RenderedRun, render_run
    from ackguard.reports.rundata import RunDirError

_HOMES = {
    "main": "cli",
    "render_index": "index",
    "RenderedRun": "render",
    "render_run": "render",
    "RunDirError": "rundata",
}


__getattr__, __dir__ = _lazy_names(__name__, _HOMES)


__all__ = ["RenderedRun", "RunDirError", "main", "render_index", "render_run"]
