"""A user's own service, started from ``system.service.command``: its own process group on a
loopback port the harness chose (the same across restarts, so practitioners and the proxy keep
their address), its output in ``<run_dir>/service.log``, ready when its ``ready`` check says so.

It offers what the run and the process faults use from the built-in service (start, stop, kill,
pause, resume, restart, healthy), so ``service-kill`` and ``service-pause`` act on it unchanged.
Defects belong to the built-in service only: asking for one here is an error that says so.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ackguard.harness.services.commands import fill_placeholders
from ackguard.harness.services.ports import free_port
from ackguard.harness.services.process import ManagedProcess, ProcessStartError, log_tail

__all__ = ["ReadyCheck", "ServiceCommand", "UserService", "UserServiceError"]

_POLL_S = 0.05
_PROBE_TIMEOUT_S = 1.0


class ReadyCheck(Protocol):
    """How to tell the service is ready (exactly one of http, tcp, log), see the scenario."""

    @property
    def http(self) -> str | None: ...
    @property
    def tcp(self) -> bool: ...
    @property
    def log(self) -> str | None: ...
    @property
    def timeout(self) -> float: ...


class ServiceCommand(Protocol):
    """``system.service`` of a scenario (harness.scenario.ServiceSpec)."""

    @property
    def command(self) -> Sequence[str]: ...
    @property
    def cwd(self) -> str | None: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def ready(self) -> ReadyCheck: ...


class UserServiceError(ProcessStartError):
    """The service command could not start, exited, or never became ready (the message says
    which and quotes the end of ``service.log``)."""


class UserService:
    """The user's service command with the placeholders filled: ``{port}``, ``{database_url}``,
    ``{run_dir}``. It runs in ``cwd`` (relative to ``base_dir``, the scenario file's folder,
    which is also the default)."""

    def __init__(
        self, run_dir: Path, spec: ServiceCommand, database_url: str, base_dir: Path | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.spec = spec
        values = {"port": str(self.port), "database_url": database_url, "run_dir": str(run_dir)}
        self.argv = [fill_placeholders(part, values) for part in spec.command]
        base = base_dir or Path.cwd()  # a relative cwd starts at the scenario file's folder
        self.cwd = base / fill_placeholders(spec.cwd, values) if spec.cwd else base
        env = {name: fill_placeholders(value, values) for name, value in spec.env.items()}
        self.log_path = run_dir / "service.log"
        self._ready_pattern = re.compile(spec.ready.log) if spec.ready.log else None
        self._process = ManagedProcess(
            self.argv, env={**os.environ, **env}, cwd=self.cwd, log_path=self.log_path
        )

    @property
    def pid(self) -> int | None:
        pid: int | None = self._process.pid
        return pid

    @property
    def ready_description(self) -> str:
        ready = self.spec.ready
        if ready.http:
            return f"GET {ready.http} answering 2xx on port {self.port}"
        if ready.log:
            return f"a line of its output matching {ready.log!r}"
        return f"a connection accepted on port {self.port}"

    def start(self) -> None:
        """Start the command and wait (bounded by ``ready.timeout``) until it is ready."""
        if self._process.alive:
            return
        if not self.cwd.is_dir():
            raise UserServiceError(f"service command: its cwd {self.cwd} is not a directory")
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            self._process.start()
        except OSError as exc:
            problem = "not found" if isinstance(exc, FileNotFoundError) else exc.strerror
            raise UserServiceError(
                f"service command {self.argv[0]!r}: {problem} (system.service.command); "
                f"end of {self.log_path}:\n{log_tail(self.log_path)}"
            ) from exc
        self._wait_ready(offset)

    def _wait_ready(self, log_offset: int) -> None:
        timeout = self.spec.ready.timeout
        deadline = time.monotonic() + timeout
        while True:
            if self._ready(log_offset):
                return
            if not self._process.alive:
                self._process.terminate()  # reaps it, and ends what it left in its group
                code = self._process.last_exit_code
                raise UserServiceError(
                    f"service command {self.argv[0]!r} exited with code {code} before it was "
                    f"ready ({self.ready_description}); end of {self.log_path}:\n"
                    f"{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self._process.kill()
                raise UserServiceError(
                    f"service command {self.argv[0]!r} was not ready within {timeout:g} s "
                    f"(system.service.ready: {self.ready_description}); killed it; end of "
                    f"{self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

    def _ready(self, log_offset: int) -> bool:
        if self._ready_pattern is not None:
            try:
                with self.log_path.open("rb") as log:
                    log.seek(log_offset)
                    text = log.read().decode("utf-8", "replace")
            except OSError:
                return False
            return any(self._ready_pattern.search(line) for line in text.splitlines())
        return self.healthy(_PROBE_TIMEOUT_S)

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """The ready check's http path answers 2xx, else the port accepts a connection."""
        path = self.spec.ready.http
        if path:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
            try:
                connection.request("GET", path)
                return 200 <= connection.getresponse().status < 300
            except (OSError, http.client.HTTPException):
                return False
            finally:
                connection.close()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout_s):
                return True
        except OSError:
            return False

    # -- what the process faults use ------------------------------------------------------------
    def kill(self, sig: int = signal.SIGKILL) -> None:
        self._process.kill(sig)

    def pause(self) -> None:
        self._process.pause()

    def resume(self) -> None:
        self._process.resume()

    def restart(self) -> None:
        """Stop if still running (SIGTERM, then SIGKILL), start again, wait until ready."""
        self._process.terminate()
        self.start()

    def stop(self) -> None:
        self._process.terminate(10.0)

    # -- defects belong to the built-in service -----------------------------------------------
    def set_static_defects(self, entries: Sequence[Mapping[str, object]]) -> None:
        if entries:
            raise UserServiceError(_NO_DEFECTS.format(what="the scenario's defects"))

    def enable_defect(self, name: str, entry: Mapping[str, object]) -> None:
        raise UserServiceError(_NO_DEFECTS.format(what=f"fault {name}"))

    def disable_defect(self, name: str) -> None:
        """Nothing was ever switched on."""


_NO_DEFECTS = (
    "{what}: defects are switches of the built-in consultation service; this scenario runs "
    "its own service command (system.service). Break it with service-kill, service-pause, "
    "network faults or a command fault instead"
)
