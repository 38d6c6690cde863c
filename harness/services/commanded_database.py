"""A ``url`` database the harness does not manage but may stop and start through the scenario's
``database.start`` / ``database.stop`` commands (a container, a systemd unit, ...).

It offers what ``database-crash`` uses from ManagedPostgres (``stop(mode)``, ``kill()``,
``start(timeout)``, ``running``), so that fault acts on it unchanged: the crash runs the stop
command, the heal runs the start command and waits until the database's port accepts
connections again. Each command's output is appended to ``<run_dir>/database-commands.log``; the
crash mode reaches the stop command as ``ACKGUARD_STOP_MODE`` (immediate, fast, smart, sigkill).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ackguard.harness.services.commands import CommandError, fill_placeholders, run_command

__all__ = ["CommandedDatabase"]

_COMMAND_TIMEOUT_S = 120.0
_POLL_S = 0.1


class CommandedDatabase:
    """A database at ``url`` with the commands that stop and start it."""

    def __init__(self, run_dir: Path, url: str, start: Sequence[str], stop: Sequence[str]) -> None:
        values = {"database_url": url, "run_dir": str(run_dir)}
        self.url = url
        self.start_command = tuple(fill_placeholders(part, values) for part in start)
        self.stop_command = tuple(fill_placeholders(part, values) for part in stop)
        self.log_path = run_dir / "database-commands.log"
        self.run_dir = run_dir
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port)
        self.running = True
        """False between a stop (or kill) and the next start."""

    def stop(self, mode: str = "fast", *, timeout: float = _COMMAND_TIMEOUT_S) -> None:
        """Run the stop command. ``running`` turns False before it runs: a stop that failed
        halfway must still be followed by a start at heal."""
        self.running = False
        run_command(
            self.stop_command,
            log_path=self.log_path,
            timeout=timeout,
            what=f"database stop ({mode})",
            env={"ACKGUARD_STOP_MODE": mode},
            cwd=self.run_dir,
        )

    def kill(self) -> None:
        """The stop command too: the harness has no PID of its own to SIGKILL."""
        self.stop("sigkill")

    def start(self, timeout: float = _COMMAND_TIMEOUT_S) -> None:
        """Run the start command, then wait until the database's port accepts connections
        (when the URL names a port), within ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        run_command(
            self.start_command,
            log_path=self.log_path,
            timeout=timeout,
            what="database start",
            cwd=self.run_dir,
        )
        host, port = self._address
        while port is not None:
            try:
                with socket.create_connection((host, port), timeout=1.0):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"database start: {host}:{port} did not accept connections within "
                        f"{timeout:g} s after the start command"
                    ) from None
                time.sleep(_POLL_S)
        self.running = True
