"""A user's commands, run by the harness: the placeholders it fills, and one command run to its
end in its own process group (watched like every child), its output appended to a log, killed
with its group when it takes too long. Used by the ``command`` fault kind and by a ``url``
database with start/stop commands.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ackguard.harness.services import lifeline
from ackguard.harness.services.process import group_members, log_tail, spawn

__all__ = ["CommandError", "CommandResult", "fill_placeholders", "run_command"]

_POLL_S = 0.02


def _exited(pid: int) -> bool:
    """Whether child ``pid`` exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped (by gevent's child watcher, say)
        return True


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` for each name in ``values``; other braces are left alone (a command
    may well hold JSON)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


class CommandError(RuntimeError):
    """A command could not run, exited non-zero or timed out (the message quotes its output)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None
    """None when the command was killed after its timeout."""
    duration_s: float


def run_command(
    argv: Sequence[str],
    *,
    log_path: Path,
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> CommandResult:
    """Run ``argv`` to its end and return how it ended; raise CommandError (naming ``what``,
    e.g. "fault crash-db: start") when it cannot start, exits non-zero or runs longer than
    ``timeout`` seconds (its whole process group is then killed). A header line per command
    is written to ``log_path`` before its output. Processes it leaves running in its group
    are left alone (they end with the harness)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        log.write(f"--- {stamp} {what}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            process, ref = spawn(
                argv, output=log, cwd=cwd, env=None if env is None else {**os.environ, **env}
            )
        except OSError as exc:
            message = f"{what}: cannot run {argv[0]!r}: {exc.strerror or exc}"
            log.write(f"{message}\n".encode())
            raise CommandError(message) from exc
        deadline = started + timeout
        while not _exited(process.pid) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        timed_out = not _exited(process.pid)
        if timed_out:  # still unreaped, the leader pins the group id: the group is ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        returncode = process.wait()
        code = None if timed_out else returncode
        # What a command leaves running in its group (a server a heal restarted in the
        # background, say) stays watched: it goes when the harness goes.
        if not group_members(process.pid):
            lifeline.forget(ref)
        duration = time.monotonic() - started
        ending = "killed" if code is None else f"exit {code}"
        log.write(f"--- {ending} after {duration:.2f} s\n".encode())
    result = CommandResult(tuple(argv), code, duration)
    if code is None:
        raise CommandError(
            f"{what}: {argv[0]!r} did not finish within {timeout:g} s and was killed; "
            f"end of {log_path}:\n{log_tail(log_path)}"
        )
    if code != 0:
        raise CommandError(
            f"{what}: {argv[0]!r} exited with code {code}; end of {log_path}:\n{log_tail(log_path)}"
        )
    return result
