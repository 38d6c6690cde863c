"""A user's service command (``system.service``) on a real tiny HTTP server: the placeholders,
the three ready checks, the process faults acting on it, and the errors a user sees when it
cannot start, with nothing left running."""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.faults import service_kill, service_pause
from ackguard.harness.services.user_service import UserService, UserServiceError
from tests.services.childproc import get_pid, wait_state

GONE: set[str | None] = {None, "Z", "X"}
SCRIPT = Path(__file__).with_name("user_server.py")


@dataclass(frozen=True)
class Ready:
    http: str | None = None
    tcp: bool = False
    log: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Spec:
    command: tuple[str, ...]
    ready: Ready
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def _spec(*extra: str, ready: Ready | None = None) -> Spec:
    return Spec(
        (sys.executable, str(SCRIPT), "{port}", *extra),
        ready or Ready(http="/health"),
        env={"NOTES_DIR": "{run_dir}/notes"},
    )


class Components:
    def __init__(self, **components: object) -> None:
        self._components = components

    def component(self, name: str) -> Any:
        return self._components[name]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[UserService]:
    started = UserService(tmp_path, _spec(), "sqlite:///unused.db", tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize(
    "ready", [Ready(http="/health"), Ready(tcp=True), Ready(log=r"listening on \d+")]
)
def test_each_ready_check_starts_the_command_with_its_placeholders(
    tmp_path: Path, ready: Ready
) -> None:
    service = UserService(tmp_path, _spec(ready=ready), "sqlite:///unused.db", tmp_path)
    try:
        service.start()
        assert get_pid(f"{service.url}/health") == service.pid
        assert service.healthy()
        log = (tmp_path / "service.log").read_text(encoding="utf-8")
        assert f"notes in {tmp_path}/notes" in log
        assert f"listening on {service.port}" in log
    finally:
        service.stop()
    assert not service.healthy(timeout_s=0.5)


def test_service_kill_fault_kills_it_and_heal_brings_it_back_on_the_same_port(
    service: UserService,
) -> None:
    service.start()
    first = service.pid
    assert first is not None
    fault = service_kill.KIND.build(Components(service=service), {"signal": "SIGKILL"})
    fault.start()
    assert wait_state(first, GONE) in GONE
    assert not service.healthy(timeout_s=0.5)
    fault.stop()
    assert service.pid not in (None, first)
    assert get_pid(f"{service.url}/health") == service.pid


def test_service_pause_fault_freezes_it_until_heal(service: UserService) -> None:
    service.start()
    pid = service.pid
    assert pid is not None
    fault = service_pause.KIND.build(Components(service=service), {})
    fault.start()
    assert wait_state(pid, {"T"}) == "T"
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        get_pid(f"{service.url}/health", timeout=0.5)
    fault.stop()
    assert get_pid(f"{service.url}/health", timeout=10.0) == pid


def _started_pid(log: Path) -> int:
    found = re.search(r"pid (\d+)", log.read_text(encoding="utf-8"))
    assert found is not None, "the service never started"
    return int(found.group(1))


@pytest.mark.parametrize(
    ("extra", "ready", "problem"),
    [
        (("--exit-at-start", "3"), Ready(http="/health"), "exited with code 3 before it was ready"),
        (("--never-listen",), Ready(http="/health", timeout=1.0), "was not ready within 1 s"),
        (("--never-listen",), Ready(log="listening", timeout=1.0), "was not ready within 1 s"),
    ],
)
def test_a_service_that_cannot_start_names_the_problem_with_its_log_and_leaves_nothing(
    tmp_path: Path, extra: tuple[str, ...], ready: Ready, problem: str
) -> None:
    service = UserService(tmp_path, _spec(*extra, ready=ready), "sqlite:///unused.db", tmp_path)
    with pytest.raises(UserServiceError) as raised:
        service.start()
    message = str(raised.value)
    assert problem in message
    assert "user service starting" in message  # the tail of service.log
    assert wait_state(_started_pid(tmp_path / "service.log"), GONE) in GONE
    assert service.pid is None


def test_a_command_not_found_is_named(tmp_path: Path) -> None:
    spec = Spec(("ackguard-no-such-service", "{port}"), Ready(tcp=True))
    service = UserService(tmp_path, spec, "sqlite:///unused.db", tmp_path)
    with pytest.raises(UserServiceError, match="'ackguard-no-such-service': not found"):
        service.start()
    assert service.pid is None


def test_a_missing_cwd_is_named(tmp_path: Path) -> None:
    spec = Spec((sys.executable, str(SCRIPT), "{port}"), Ready(tcp=True), cwd="no-such-folder")
    service = UserService(tmp_path, spec, "sqlite:///unused.db", tmp_path)
    with pytest.raises(UserServiceError, match="no-such-folder is not a directory"):
        service.start()


def test_defects_are_refused_with_what_to_use_instead(service: UserService) -> None:
    service.set_static_defects([])  # none asked: nothing to refuse
    with pytest.raises(UserServiceError, match="built-in consultation service"):
        service.set_static_defects([{"name": "lost_observations"}])
    with pytest.raises(UserServiceError, match="service-kill"):
        service.enable_defect("defect:lost_observations", {"name": "lost_observations"})
