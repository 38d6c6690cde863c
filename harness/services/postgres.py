"""A throwaway PostgreSQL cluster the harness owns: ``initdb`` in the run directory, one
postmaster on a free loopback port started as the harness's own child (so its PID is known),
and the faults a run inflicts on it: immediate stop, SIGKILL, SIGSTOP, terminated backends.

As root the server runs as the ``postgres`` OS user; when that user cannot reach ``data_dir``,
the cluster lives in a temporary directory ``data_dir`` links to (see ``postgres_cluster``).
``close()`` removes both.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Literal
from urllib.parse import quote

import psycopg
from psycopg import sql

from ackguard.harness.services import lifeline
from ackguard.harness.services.ports import free_port
from ackguard.harness.services.postgres_cluster import (
    PostgresBinaries,
    PostgresError,
    append_settings,
    check_setting_names,
    find_postgres_binaries,
    prepare_data_dir,
    read_passfile,
    run_initdb,
    server_user,
    write_passfile,
)
from ackguard.harness.services.process import (
    ProcessRef,
    children_of,
    log_tail,
    signal_all,
    spawn,
    wait_gone,
    wait_stopped,
)

__all__ = ["ManagedPostgres", "PostgresBinaries", "PostgresError", "find_postgres_binaries"]

StopMode = Literal["smart", "fast", "immediate"]
_STOP_SIGNALS: Mapping[str, signal.Signals] = {
    "smart": signal.SIGTERM,  # wait for clients to disconnect
    "fast": signal.SIGINT,  # roll back and disconnect clients, checkpoint
    "immediate": signal.SIGQUIT,  # no checkpoint: crash recovery at the next start
}
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes, minus "/.s.PGSQL.NNNNN" and the NUL
_HARNESS_APPLICATION = "ackguard-harness"


class ManagedPostgres:
    """One cluster in ``data_dir`` on ``127.0.0.1:port``; database ``ackguard``, user
    ``postgres`` with a generated password (scram-sha-256): only the harness, and what it hands
    the password to, gets in. The password is kept in ``passfile`` (mode 0600, libpq's format)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._settings = dict(settings or {})
        check_setting_names(self._settings)
        self.port = port if port is not None else free_port()
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.passfile = self.data_dir.with_name(self.data_dir.name + ".pgpass")
        """The harness's 0600 password file (libpq ``passfile`` format, any host and port)."""
        # A cluster an earlier ManagedPostgres made in data_dir keeps its password.
        self.password = read_passfile(self.passfile) or secrets.token_urlsafe(24)
        self.pending_restart: tuple[str, ...] = ()
        """Settings changed by set_settings that take effect only at the next restart."""
        self._user = server_user()
        self._binaries: PostgresBinaries | None = None
        self._outside_dir: Path | None = None  # the real cluster when data_dir is a link
        self._proc: subprocess.Popen[bytes] | None = None
        self._ref: ProcessRef | None = None
        self._log: IO[bytes] | None = None
        self._paused: list[ProcessRef] = []

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``ackguard`` database, password included (in-process use)."""
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/ackguard"

    @property
    def service_url(self) -> str:
        """The same database for a child process: the URL names ``passfile`` instead of
        carrying the password, so it may appear on a command line."""
        passfile = quote(str(self.passfile), safe="/")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/ackguard?passfile={passfile}"

    def dsn(self, dbname: str = "ackguard") -> str:
        """libpq connection string (for psycopg), password included."""
        return (
            f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} "
            f"password={self.password}"
        )

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (also while paused)."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def cluster_dir(self) -> Path:
        """The real PGDATA (``data_dir`` itself, or where its link points)."""
        return self._outside_dir or self.data_dir

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Create the cluster on first start, start the postmaster and wait (at most
        ``timeout`` seconds) until it accepts connections and the ``ackguard`` database exists."""
        if self.running:
            return
        deadline = time.monotonic() + timeout
        self._binaries = self._binaries or find_postgres_binaries()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.data_dir.is_symlink():
            self._outside_dir = self.data_dir.resolve()
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._outside_dir = prepare_data_dir(self.data_dir, self._user)
            if self._outside_dir is not None:  # outside the run directory: gone with us
                lifeline.remove_on_death(self._outside_dir)
            run_initdb(
                self._binaries,
                self.cluster_dir,
                self._user,
                self.log_path,
                deadline - time.monotonic(),
                self.password,
            )
            append_settings(self.cluster_dir, self._settings)
        write_passfile(self.passfile, self.password)
        self._launch()
        self.pending_restart = ()
        self._wait_ready(deadline)
        self._create_database()

    def stop(self, mode: StopMode = "fast", *, timeout: float = 60.0) -> None:
        """Shut down with PostgreSQL's ``smart``/``fast``/``immediate`` mode (SIGTERM/SIGINT/
        SIGQUIT to the postmaster) and wait at most ``timeout`` seconds; past it, SIGKILL and
        PostgresError."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._after_exit([])
            return
        if self._paused:
            self.resume()
        children = children_of(proc.pid)
        proc.send_signal(_STOP_SIGNALS[mode])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise PostgresError(
                f"PostgreSQL did not stop ({mode}) within {timeout:g} s; killed it"
            ) from None
        self._after_exit(children)

    def kill(self) -> None:
        """SIGKILL the postmaster and every process it had forked, then wait until they are
        gone, so that no orphan backend keeps the shared memory and a restart works at once."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._after_exit([])
            return
        # Stopped first, the postmaster cannot fork a backend we would not see in the list.
        proc.send_signal(signal.SIGSTOP)
        wait_stopped(proc.pid, timeout=5.0)
        children = children_of(proc.pid)
        proc.kill()
        signal_all(children, signal.SIGKILL)
        proc.wait(10.0)
        self._after_exit(children)

    def restart(self, timeout: float = 30.0) -> None:
        """Fast stop if running (a no-op after a crash), then start."""
        self.stop("fast")
        self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP the postmaster, then each of its children (backends and auxiliary
        processes): connections are accepted by the kernel but never answered."""
        proc = self._proc
        if proc is None or proc.poll() is not None or self._paused:
            return
        proc.send_signal(signal.SIGSTOP)
        wait_stopped(proc.pid, timeout=5.0)
        children = children_of(proc.pid)
        signal_all(children, signal.SIGSTOP)
        self._paused = [ProcessRef.of(proc.pid), *children]

    def resume(self) -> None:
        """SIGCONT everything ``pause`` stopped."""
        paused, self._paused = self._paused, []
        signal_all(paused[1:], signal.SIGCONT)
        signal_all(paused[:1], signal.SIGCONT)

    def close(self) -> None:
        """Immediate stop (SIGKILL if that fails) and remove the data directory. Never raises."""
        with contextlib.suppress(Exception):
            self.stop("immediate", timeout=15.0)
        with contextlib.suppress(Exception):
            self.kill()
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
        elif self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.passfile.unlink(missing_ok=True)
        if self._outside_dir is not None:
            shutil.rmtree(self._outside_dir, ignore_errors=True)
            lifeline.keep(self._outside_dir)
            self._outside_dir = None

    def __enter__(self) -> ManagedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- SQL-level faults and settings -----------------------------------------------------
    def terminate_backends(self, application_name: str | None = None) -> int:
        """``pg_terminate_backend`` every client connection (or only those whose
        ``application_name`` matches) and wait up to 5 s for them to go. Returns how many."""
        with self._connect() as conn:
            # Chosen first, terminated one by one: SQL does not promise to evaluate a WHERE
            # clause's filter before a pg_terminate_backend() call beside it.
            candidates = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                " AND pid <> pg_backend_pid()"
                " AND (%(name)s::text IS NULL OR application_name = %(name)s)",
                {"name": application_name},
            ).fetchall()
            pids: list[int] = []
            for (pid,) in candidates:
                done = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                if done is not None and done[0]:
                    pids.append(pid)
            deadline = time.monotonic() + 5.0
            while pids and time.monotonic() < deadline:
                left = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
                ).fetchone()
                if left is None or left[0] == 0:
                    break
                time.sleep(0.02)
        return len(pids)

    def set_settings(self, settings: Mapping[str, str]) -> None:
        """Apply server settings. Running: ``ALTER SYSTEM`` and a reload, returning once new
        sessions see them; those that need a restart are listed in ``pending_restart``.
        Stopped: written to ``postgresql.conf`` for the next start."""
        check_setting_names(settings)
        self._settings.update(settings)
        if not self.running:
            if (self.cluster_dir / "PG_VERSION").exists():
                append_settings(self.cluster_dir, settings)
            return
        with self._connect() as conn:
            for name, value in settings.items():
                identifier = sql.SQL(".").join(sql.Identifier(p) for p in name.split("."))
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(identifier, sql.Literal(value))
                )
            before = conn.execute("SELECT pg_conf_load_time()").fetchone()
            conn.execute("SELECT pg_reload_conf()")
        self._wait_reloaded(None if before is None else before[0])

    def _wait_reloaded(self, before: object) -> None:
        # A new session inherits the postmaster's load time: once it moves, the reload is done.
        deadline = time.monotonic() + 10.0
        while True:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT pg_conf_load_time() > %s,"
                    " array(SELECT name FROM pg_settings WHERE pending_restart)",
                    (before,),
                ).fetchone()
            if row is not None and row[0]:
                self.pending_restart = tuple(row[1])
                return
            if time.monotonic() > deadline:
                raise PostgresError("PostgreSQL did not reload its configuration within 10 s")
            time.sleep(0.02)

    # -- internals -------------------------------------------------------------------------
    def _connect(self, dbname: str = "ackguard", timeout: float = 5.0) -> psycopg.Connection:
        return psycopg.connect(
            self.dsn(dbname),
            autocommit=True,
            connect_timeout=max(2, int(timeout)),
            application_name=_HARNESS_APPLICATION,
        )

    def _launch(self) -> None:
        assert self._binaries is not None
        sockets = str(self.cluster_dir)
        if len(sockets) > _SOCKET_PATH_MAX:
            sockets = ""  # too long for a Unix socket: TCP only, which is all the harness uses
        argv = [
            str(self._binaries.postgres), "-D", str(self.cluster_dir),
            "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={sockets}",
        ]  # fmt: skip
        self._log = self.log_path.open("ab")
        self._proc, self._ref = spawn(
            argv,
            output=self._log,
            cwd=self.cluster_dir,
            env={**os.environ, "LC_ALL": "C"},
            **({} if self._user is None else self._user.popen_kwargs()),
        )

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                self._after_exit([])
                raise PostgresError(
                    f"postgres exited with code {code} while starting; end of {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            if self._pidfile_ready():
                try:
                    with self._connect("postgres", timeout=2.0):
                        return
                except psycopg.OperationalError:
                    pass
            if time.monotonic() > deadline:
                self.kill()
                raise PostgresError(
                    f"PostgreSQL did not accept connections on port {self.port} in time; "
                    f"end of {self.log_path}:\n" + log_tail(self.log_path)
                )
            time.sleep(0.05)

    def _pidfile_ready(self) -> bool:
        """Whether our postmaster wrote "ready" in postmaster.pid (line 8): probing the port
        before that could hit somebody else's listener, or a stale file left by a crash."""
        try:
            lines = (self.cluster_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        return (
            self._proc is not None
            and len(lines) >= 8
            and lines[0].strip() == str(self._proc.pid)
            and lines[7].strip() == "ready"
        )

    def _create_database(self) -> None:
        with self._connect("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'ackguard'")
            if exists.fetchone() is None:
                conn.execute("CREATE DATABASE ackguard")

    def _after_exit(self, children: list[ProcessRef]) -> None:
        """The postmaster is gone: make sure its children are too, and drop handles."""
        signal_all(children, signal.SIGKILL)
        wait_gone(children, timeout=10.0)
        self._paused = []
        if self._proc is not None and self._proc.poll() is None:
            self._proc.wait()  # pragma: no cover - callers only come here after an exit
        self._proc = None
        if self._ref is not None:
            lifeline.forget(self._ref)
            self._ref = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def processes(self) -> Iterator[int]:
        """PIDs of the postmaster and its children (for tests and diagnostics)."""
        pid = self.pid
        if pid is not None:
            yield pid
            yield from (child.pid for child in children_of(pid))
