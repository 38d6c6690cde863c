"""The consultation service as a run starts it: its own process on a fixed loopback port, so a
restart after a kill comes back at the same address (and behind the same proxy).

It remembers which defects the schedule has switched on, and switches them on again after a
restart, because a defect toggled at run time lives in the service's memory only.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from ackguard.harness.services.ports import free_port
from ackguard.harness.services.process import ManagedProcess

__all__ = ["ConsultationService", "DefectEntry"]

DefectEntry = Mapping[str, object]
"""One entry of the service's defect set, as ``PUT /admin/defects`` takes it."""


class ConsultationService:
    """Starts ``python -m ackguard.fakes.consultations`` and keeps its defect set."""

    def __init__(
        self,
        run_dir: Path,
        database_url: str,
        *,
        static_defects: Sequence[DefectEntry] = (),
        request_timeout_s: float = 5.0,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(16)
        self._static = list(static_defects)
        self._dynamic: dict[str, DefectEntry] = {}
        argv = [
            sys.executable, "-m", "ackguard.fakes.consultations",
            "--db", database_url,
            "--port", str(self.port),
            "--request-timeout", str(request_timeout_s),
        ]  # fmt: skip
        ready = run_dir / "service.ready"
        self._process = ManagedProcess(
            [*argv, "--ready-file", str(ready)],
            # In the environment, not the command line: /proc/PID/environ is private.
            env={**os.environ, "ACKGUARD_ADMIN_TOKEN": self.admin_token},
            cwd=run_dir,
            log_path=run_dir / "service.log",
            ready_file=ready,
            ready_timeout=ready_timeout_s,
        )

    @property
    def pid(self) -> int | None:
        pid: int | None = self._process.pid
        return pid

    def start(self) -> None:
        self._process.start()
        self._apply_defects()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self._process.kill(sig)

    def pause(self) -> None:
        self._process.pause()

    def resume(self) -> None:
        self._process.resume()

    def restart(self) -> None:
        """Start again after a kill (or stop and start), then restore the defect set."""
        self._process.restart()
        self._apply_defects()

    def stop(self) -> None:
        self._process.terminate(10.0)

    def set_static_defects(self, entries: Sequence[DefectEntry]) -> None:
        """The defects that stay on for the whole run (windows already in wall-clock time)."""
        self._static = list(entries)
        self._apply_defects()

    def enable_defect(self, name: str, entry: DefectEntry) -> None:
        self._dynamic[name] = entry
        self._apply_defects()

    def disable_defect(self, name: str) -> None:
        if self._dynamic.pop(name, None) is not None:
            self._apply_defects()

    def _apply_defects(self) -> None:
        body = json.dumps({"defects": [*self._static, *self._dynamic.values()]}).encode()
        request = urllib.request.Request(
            f"{self.url}/admin/defects",
            data=body,
            method="PUT",
            headers={
                "Authorization": f"Bearer {self.admin_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise RuntimeError(f"the service refused the defect set: {detail}") from exc

    def healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=timeout_s) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False
