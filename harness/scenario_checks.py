"""Checks that need the whole scenario, after the command-line overrides: they refuse, before
anything starts, a scenario whose faults could not act (a database fault without a database the
harness manages, a toxic on a path that is not proxied, a window outside the run, a toxic the
proxy in use does not have) or whose schedule would flood the run.

Each check yields ``(location, problem)``; the location is a path of keys and indexes into the
file, which :mod:`harness.scenario` turns into ``file:line: field``.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator

from ackguard.harness.scenario_model import FaultModel, ScenarioFile, ScheduleModel

__all__ = ["MAX_WINDOWS", "Finding", "check_scenario", "real_proxy_reason"]

Finding = tuple[tuple[str | int, ...], str]
MAX_WINDOWS = 10_000
DATABASE_FAULTS = ("database-crash", "database-pause", "database-terminate-backends")
PROXY_FAULTS = ("toxic", "partition")


def real_proxy_reason() -> str | None:
    """Why a run started now would use a real Toxiproxy, or None when it would use the built-in
    proxy. The same order as ``harness.services.proxy.start_proxy``. A server at
    ``TOXIPROXY_URL`` is asked which toxic types it has: the built-in proxy lists them."""
    url = os.environ.get("TOXIPROXY_URL", "").strip()
    if url:
        from ackguard.harness.faults.toxic import BUILT_IN_ONLY
        from ackguard.harness.services.proxy import toxic_types

        types = toxic_types(url)
        if types is not None and types.issuperset(BUILT_IN_ONLY):
            return None
        return "TOXIPROXY_URL is set"  # and the server there does not list ackguard's toxics
    if shutil.which("toxiproxy-server") is not None:
        return "toxiproxy-server is on PATH"
    return None


def check_scenario(
    model: ScenarioFile, *, duration: float, duration_from: str, real_proxy: str | None
) -> Iterator[Finding]:
    """Every cross-check problem, first found first. ``duration``: the run's duration after
    overrides (``duration_from`` says where it came from, for the message); ``real_proxy``: why
    a real Toxiproxy would be used (None: the built-in proxy)."""
    system = model.system
    if "database" in system.proxy and _is_file_database(model):
        yield (
            ("system", "proxy"),
            "the database path needs a network database (kind postgres or mariadb, or kind url "
            "to a server); this scenario's database is a SQLite file",
        )
    if system.service is not None and system.defects:
        yield (
            ("system", "defects"),
            "defects exist in the built-in consultation service only, not in system.service",
        )
    windows = 0
    for index, fault in enumerate(model.faults):
        yield from _fits_the_system(model, fault, index, real_proxy)
        yield from _inside_the_run(fault.schedule, index, duration, duration_from)
        windows += _most_windows(fault.schedule, duration)
        if windows > MAX_WINDOWS:
            problem = f"the faults would open up to {windows:,} windows in this run; at most "
            yield (("faults", index, "schedule"), f"{problem}{MAX_WINDOWS:,} in all")
            return


def _is_file_database(model: ScenarioFile) -> bool:
    database = model.system.database
    return database.kind == "sqlite" or (
        database.kind == "url" and (database.url or "").lower().startswith("sqlite")
    )


def _fits_the_system(
    model: ScenarioFile, fault: FaultModel, index: int, real_proxy: str | None
) -> Iterator[Finding]:
    database, where = model.system.database, ("faults", index)
    if fault.kind in DATABASE_FAULTS:
        if fault.kind == "database-crash" and database.kind == "url":
            if not (database.start and database.stop):
                problem = "database-crash on a url database needs the commands that stop and "
                yield ((*where, "kind"), f"{problem}start it: system.database.start and stop")
        elif database.kind not in ("postgres", "mariadb"):
            accepted = "postgres or mariadb"
            if fault.kind == "database-crash":
                accepted += " (or url with start and stop commands)"
            needs = f"{fault.kind} needs a database the harness manages: system.database.kind"
            yield ((*where, "kind"), f"{needs} {accepted}; this scenario's is {database.kind}")
    if fault.kind in PROXY_FAULTS:
        path = fault.params.get("proxy")
        if path not in model.system.proxy:
            listed = ", ".join(model.system.proxy) or "no path"
            problem = f"the {path} path is not in system.proxy (it lists {listed})"
            yield ((*where, "params", "proxy"), f"{problem}, so the run has no proxy to break")
    if fault.kind == "toxic" and real_proxy is not None:
        from ackguard.harness.faults.toxic import BUILT_IN_ONLY

        kind = fault.params.get("type")
        if kind in BUILT_IN_ONLY:
            problem = f"the {kind} toxic exists only in ackguard's built-in proxy"
            real = f"this run would use a real Toxiproxy ({real_proxy})"
            yield ((*where, "params", "type"), f"{problem}, and {real}")


def _inside_the_run(
    schedule: ScheduleModel, index: int, duration: float, duration_from: str
) -> Iterator[Finding]:
    """The first window must start, and heal, within the run."""
    start = schedule.at if schedule.at is not None else schedule.start
    late = ""
    if schedule.random is not None:
        start += schedule.random.max  # the latest the seed may draw
        late = " at the latest"
    heal = start + schedule.duration
    end = f"the end of the run at {duration:g}s ({duration_from})"
    where = ("faults", index, "schedule")
    if start >= duration:
        yield (where, f"the first window starts{late} at {start:g}s, not before {end}")
    elif heal > duration:
        window = f"the first window starts{late} at {start:g}s and heals at {heal:g}s"
        yield (where, f"{window}, after {end}")


def _most_windows(schedule: ScheduleModel, duration: float) -> int:
    """The most windows the schedule can open in a run of ``duration`` seconds."""
    if schedule.at is not None:
        return 1
    span = duration - schedule.start
    if span <= 0:
        return 0
    step = schedule.every if schedule.every is not None else schedule.duration
    if schedule.random is not None:
        step += schedule.random.min
    most = math.ceil(span / max(step or 0.1, 0.1))
    return most if schedule.count is None else min(most, schedule.count)
