"""Process and data hygiene of ``ackguard run``, through the real command line:

- a harness killed with SIGKILL mid-run leaves no process of the run behind (service, proxy,
  managed PostgreSQL and its backends, the user's service command, the watchdog itself), and
  the managed cluster is really down;
- a user's service command that cannot start ends the run with exit 2, a message naming the
  problem with the end of its log, and nothing left running;
- the run directory is private (0700, files 0600) and the service's admin token never appears
  in any process's command line.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ackguard, run_dirs

USER_SERVER = Path(__file__).parents[1] / "services" / "user_server.py"
GONE_WITHIN_S = 20.0
Ref = tuple[int, int]  # (pid, start time): a PID reused by somebody else is not ours


# -- /proc -------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of ``pid``, None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _table() -> dict[int, tuple[str, int, int]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (seen := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = seen
    return found


def _alive(ref: Ref) -> bool:
    seen = _stat(ref[0])
    return seen is not None and seen[2] == ref[1] and seen[0] not in ("Z", "X")


def descendants(root: int) -> set[Ref]:
    """Every live process below ``root`` (not ``root`` itself)."""
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, seen in table.items():
        children.setdefault(seen[1], []).append(pid)
    found: set[Ref] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if table[child][0] not in ("Z", "X"):
                found.add((child, table[child][2]))
            pending.append(child)
    return found


def cmdlines() -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            found[int(entry.name)] = raw.replace(b"\0", b" ").decode("utf-8", "replace")
    return found


def wait_gone(refs: set[Ref], timeout: float = GONE_WITHIN_S) -> set[Ref]:
    """Wait (bounded) until none of ``refs`` is alive; return those still alive."""
    deadline = time.monotonic() + timeout
    while (left := {r for r in refs if _alive(r)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _describe(refs: set[Ref]) -> str:
    lines = cmdlines()
    return "\n".join(f"{pid}: {lines.get(pid, '?')}" for pid, _ in sorted(refs))


# -- runs ----------------------------------------------------------------------------------------
def scenario(system: str, *, name: str, duration: str = "60s") -> str:
    return (
        f"name: {name}\nseed: 7\nduration: {duration}\npractitioners: 4\ntime_scale: 3600\n"
        f"system:\n{system}"
    )


TINY_SERVICE = """\
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()
    do_POST = do_GET
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("tiny service listening on", sys.argv[1], flush=True)
server.serve_forever()
"""
# The server daemonizes (a session of its own, out of the command's process group): only the
# parent-death watch, not PR_SET_PDEATHSIG nor a group kill, can find it when the harness dies.
TINY_SYSTEM = f"""\
  database:
    kind: sqlite
  service:
    command: [sh, -c, "setsid {sys.executable} tiny_service.py {{port}} & wait"]
    ready: {{log: "listening on"}}
"""


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The ``ackguard run`` processes a test starts; killed at the end whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def start_run(
    tmp_path: Path, text: str, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with (tmp_path / "ackguard.out").open("wb") as output:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "ackguard", "run", str(path), "--runs-dir", "runs"],
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    started.append(process)
    return process


def wait_for_load(tmp_path: Path, process: subprocess.Popen[bytes], ops: int = 20) -> Path:
    """Wait until the run has recorded ``ops`` acknowledged operations; its run directory."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "ackguard.out").read_text(encoding="utf-8")
        dirs = run_dirs(tmp_path / "runs") if (tmp_path / "runs").exists() else []
        history = dirs[-1] / "history.jsonl" if dirs else None
        if history is not None and history.exists():
            text = history.read_text(encoding="utf-8", errors="replace")
            if text.count('"type":"ok"') + text.count('"type": "ok"') >= ops:
                return dirs[-1]
        time.sleep(0.2)
    raise AssertionError("the run never got going:\n" + (tmp_path / "ackguard.out").read_text())


def _postmaster(run_dir: Path) -> tuple[int, int, Path]:
    """(postmaster PID, port, real data directory) of the run's managed PostgreSQL."""
    cluster = (run_dir / "postgres").resolve()
    lines = (cluster / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    return int(lines[0]), int(lines[3]), cluster


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


# -- tests ----------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_sigkilled_run_on_managed_postgres_leaves_nothing(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    system = "  database:\n    kind: postgres\n  proxy: [service]\n"
    process = start_run(tmp_path, scenario(system, name="hygiene-pg"), started)
    run_dir = wait_for_load(tmp_path, process)
    postmaster, port, cluster = _postmaster(run_dir)
    of_the_run = descendants(process.pid)
    commands = cmdlines()
    assert any("fakes.consultations" in commands.get(pid, "") for pid, _ in of_the_run)
    assert any("fakes.toxiproxy" in commands.get(pid, "") for pid, _ in of_the_run)
    assert any(pid == postmaster for pid, _ in of_the_run)
    assert len([1 for pid, _ in of_the_run if "postgres" in commands.get(pid, "")]) > 1
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = wait_gone(of_the_run)
    assert not left, f"left running after the harness died:\n{_describe(left)}"
    assert not _accepts(port), "PostgreSQL still accepts connections"
    assert not any(str(cluster) in line for line in cmdlines().values())
    deadline = time.monotonic() + GONE_WITHIN_S
    while cluster.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cluster.exists(), "the throwaway cluster outlived the harness"


def test_sigkilled_run_on_a_user_service_command_leaves_nothing(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    # The tiny service answers 503 to the API: the harness keeps registering practitioners,
    # which is when it is killed.
    (tmp_path / "tiny_service.py").write_text(TINY_SERVICE, encoding="utf-8")
    process = start_run(tmp_path, scenario(TINY_SYSTEM, name="hygiene-user"), started)
    deadline = time.monotonic() + 120
    log = ""
    while "tiny service listening" not in log:
        assert process.poll() is None, (tmp_path / "ackguard.out").read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "the user's service never started"
        time.sleep(0.05)
        logs = list((tmp_path / "runs").glob("*/service.log"))
        log = logs[0].read_text(encoding="utf-8") if logs else ""
    of_the_run = descendants(process.pid)
    commands = cmdlines()
    daemons = [pid for pid, _ in of_the_run if "tiny_service.py" in commands.get(pid, "")]
    assert any(not commands.get(pid, "").startswith("sh ") for pid in daemons)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = wait_gone(of_the_run)
    assert not left, f"left running after the harness died:\n{_describe(left)}"
    port = log.split("listening on", 1)[1].split()[0]
    assert not any(f"tiny_service.py {port}" in line for line in cmdlines().values())


@pytest.mark.parametrize(
    ("service", "problem", "log_line"),
    [
        (
            '    command: [ackguard-no-such-service, "{port}"]\n    ready: {tcp: true}\n',
            "'ackguard-no-such-service': not found",
            "",
        ),
        (
            f'    command: [{sys.executable}, {USER_SERVER}, "{{port}}", --exit-at-start, "3"]\n'
            "    ready: {http: /health}\n",
            "exited with code 3 before it was ready",
            "fatal: cannot open the notes store",
        ),
        (
            f'    command: [{sys.executable}, {USER_SERVER}, "{{port}}", --never-listen]\n'
            "    ready: {http: /health, timeout: 2s}\n",
            "was not ready within 2 s",
            "waiting for a lock that never comes",
        ),
    ],
)
def test_a_user_service_that_cannot_start_ends_the_run_with_exit_2(
    tmp_path: Path, service: str, problem: str, log_line: str
) -> None:
    system = "  database:\n    kind: sqlite\n  service:\n" + service
    (tmp_path / "scenario.yaml").write_text(scenario(system, name="bad-service"), "utf-8")
    before = {pid for pid, line in cmdlines().items() if str(USER_SERVER) in line}
    done = ackguard("run", "scenario.yaml", "--runs-dir", "runs", "--no-report", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert problem in output
    assert log_line in output  # the end of service.log
    run_dir = run_dirs(tmp_path / "runs")[-1]
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["status"] == "error"
    after = {pid for pid, line in cmdlines().items() if str(USER_SERVER) in line}
    assert not after - before, "the service command was left running"


def test_run_directory_is_private_and_the_admin_token_never_in_a_command_line(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    system = "  database:\n    kind: sqlite\n"
    process = start_run(tmp_path, scenario(system, name="private", duration="6s"), started)
    run_dir = wait_for_load(tmp_path, process, ops=5)
    token = json.loads((run_dir / "service.ready").read_text(encoding="utf-8"))["admin_token"]
    assert len(token) >= 16
    seen = cmdlines()
    assert any("fakes.consultations" in line for line in seen.values())
    assert not [line for line in seen.values() if token in line]
    assert process.wait(timeout=180) in (0, 1, 2)
    assert (run_dir / "report.html").exists()
    assert run_dir.stat().st_mode & 0o777 == 0o700
    for path in run_dir.rglob("*"):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is readable by others ({mode:o})"
