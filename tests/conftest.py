"""Test lanes, the unit lane's guard, and the session's one PostgreSQL cluster.

Every test is in exactly one lane (a pytest marker):
- ``unit``: in this process only, no child process; the fast lane (``pytest -m unit``);
- ``process``: starts real processes or servers (the service, the proxy, a PostgreSQL cluster,
  a browser), seconds each;
- ``integration``: whole runs through the command line, tens of seconds each.
A module says its lane with ``pytestmark``; else its folder does (:data:`FOLDER_LANES`), else
:data:`PROCESS_MODULES`, else it is ``unit``. A unit test that starts a process fails, naming
the lane it belongs in: the fast lane stays fast because it cannot silently grow slow parts.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LANES = ("unit", "process", "integration")
TESTS = Path(__file__).parent

FOLDER_LANES = {
    "integration": "integration",
    "examples": "integration",
    "packaging": "integration",
    "plugin": "integration",
    "fakes": "process",
    "services": "process",
    "proxy": "process",
}

PROCESS_MODULES = {
    "test_pipes.py",
    "faults/test_command_fault.py",
    "faults/test_database_faults.py",
    "faults/test_network_faults.py",
    "faults/test_service_faults.py",
    "harness/test_scenario_checks.py",
    "harness/test_scenario_cli.py",
    "reports/test_browser.py",
    "reports/test_timeline.py",
    "verifiers/test_database_read.py",
    "verifiers/test_evidence.py",
    "workload/test_classification.py",
    "workload/test_locust_run.py",
    "workload/test_public_api.py",
}


def _lane(item: pytest.Item) -> str:
    declared = [name for name in LANES if item.get_closest_marker(name) is not None]
    if declared:
        return declared[0]
    relative = Path(str(item.path)).resolve().relative_to(TESTS.resolve())
    folder = FOLDER_LANES.get(relative.parts[0]) if len(relative.parts) > 1 else None
    if folder is not None:
        return folder
    if relative.as_posix() in PROCESS_MODULES:
        return "process"
    if item.get_closest_marker("postgres") or item.get_closest_marker("browser"):
        return "process"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        lane = _lane(item)
        if item.get_closest_marker(lane) is None:
            item.add_marker(lane)


def _refuse_process(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError(
        "a unit test started a process: put its module in the process lane "
        "(pytestmark = pytest.mark.process, or tests/conftest.py PROCESS_MODULES)"
    )


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("unit") is None:
        return
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse_process)
    for name in ("fork", "posix_spawn", "posix_spawnp", "execv", "execve"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse_process)


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One throwaway PostgreSQL cluster for the whole session: tests that only need a database
    of their own make one in it (``CREATE DATABASE``) instead of a cluster each."""
    from ackguard.harness.services.postgres import ManagedPostgres, find_postgres_binaries

    try:
        find_postgres_binaries()
    except Exception as exc:  # no server binaries on this machine
        pytest.skip(f"PostgreSQL server binaries not found: {exc}")
    directory = tmp_path_factory.mktemp("pg")
    cluster = ManagedPostgres(directory / "data")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.close()
