"""Reports of a run directory: ``report.html``, ``junit.xml``, ``impact.csv`` and the runs index.

Reads only what a run stored (history, verdict, final read, run.json, directory.json,
scenario.yaml), so a report can be drawn again offline, also for a run cut short.

Each public name is imported when first used, so a process that needs one module of the
package (a history scan's worker process) does not load the charts and templates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = ["RenderedRun", "RunDirError", "main", "render_index", "render_run"]
