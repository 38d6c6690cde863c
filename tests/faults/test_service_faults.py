"""The service fault kinds on a real child process (a tiny HTTP server)."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.faults import service_kill, service_pause
from ackguard.harness.faults.base import FaultConfigError, FaultKind
from ackguard.harness.services.process import ManagedProcess
from tests.services.childproc import child_process, get_pid, state, wait_state

GONE: set[str | None] = {None, "Z", "X"}


class Components:
    def __init__(self, **components: object) -> None:
        self._components = components

    def component(self, name: str) -> Any:
        return self._components[name]


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        (service_kill.KIND, {"signal": "SIGINT"}, "signal"),
        (service_kill.KIND, {"signal": 9}, "signal"),
        (service_kill.KIND, {"sig": "SIGKILL"}, "sig"),
        (service_pause.KIND, {"for": "3s"}, "for"),
    ],
)
def test_bad_params_name_the_field(kind: FaultKind, params: Mapping[str, Any], field: str) -> None:
    with pytest.raises(FaultConfigError) as raised:
        kind.build(Components(), params)
    assert raised.value.field == field


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ManagedProcess]:
    process = child_process(tmp_path, "--grandchild", name="service")
    process.start()
    try:
        yield process
    finally:
        process.terminate(5.0)


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_kill_then_heal_restarts_and_waits_until_ready(
    service: ManagedProcess, signal_name: str
) -> None:
    first = dict(service.ready)
    fault = service_kill.KIND.build(Components(service=service), {"signal": signal_name})
    assert signal_name in fault.description
    fault.stop()  # never started: the service keeps running
    assert service.pid == first["pid"]
    fault.start()
    assert wait_state(int(str(first["pid"])), GONE) in GONE
    assert wait_state(int(str(first["grandchild"])), GONE) in GONE
    fault.stop()
    assert service.alive and service.pid != first["pid"]
    assert get_pid(str(service.ready["url"])) == service.pid
    fault.stop()  # idempotent: no second restart
    assert get_pid(str(service.ready["url"])) == service.pid


def test_pause_then_heal(service: ManagedProcess) -> None:
    url, pid = str(service.ready["url"]), int(str(service.ready["pid"]))
    fault = service_pause.KIND.build(Components(service=service), {})
    fault.start()
    try:
        assert wait_state(pid, {"T"}) == "T"
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            get_pid(url, timeout=0.5)
    finally:
        fault.stop()
    fault.stop()
    assert state(pid) != "T"
    assert get_pid(url, timeout=10.0) == pid


def test_a_run_without_a_service_fails_at_start_and_heals_safely() -> None:
    for kind in (service_kill.KIND, service_pause.KIND):
        fault = kind.build(Components(), {})
        with pytest.raises(KeyError):
            fault.start()
        fault.stop()
