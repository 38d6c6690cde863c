"""A throwaway MariaDB server the harness owns: ``mariadb-install-db`` in the run directory, one
``mariadbd`` on a free loopback port (and a private unix socket) started as the harness's own
child through ``spawn`` (so it dies with the harness), and the faults a run inflicts on it:
SIGKILL, SIGSTOP, killed client connections.

It offers the surface of ManagedPostgres the fault kinds use (``start``, ``stop(mode)``,
``kill``, ``pause``, ``resume``, ``terminate_backends``, ``running``, ``url``). Only the harness
gets in: one account, ``ackguard@127.0.0.1``, with a generated password; the server's root
account is reachable only through the unix socket in the server's private directory. The
service reaches the database with ``service_url``, which names a 0600 option file holding the
password instead of carrying it.

As root the server runs as the ``mysql`` OS user; a data directory that user cannot reach is
made in the temporary directory and linked, as for PostgreSQL (``postgres_cluster``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote

import pymysql  # type: ignore[import-untyped]  # no stubs; pyproject is shared

from ackguard.harness.services import lifeline
from ackguard.harness.services.ports import free_port
from ackguard.harness.services.postgres_cluster import ServerUser, prepare_data_dir, server_user
from ackguard.harness.services.process import ProcessRef, log_tail, spawn, wait_stopped

__all__ = ["ManagedMariaDB", "MariaDBError", "check_setting_names", "find_mariadb_binaries"]

ACCOUNT = "ackguard"
DATABASE = "ackguard"
_OS_USER = "mysql"
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes
_STOP_TIMEOUT_S = 60.0


class MariaDBError(RuntimeError):
    """The managed server could not be created, started or stopped (the message says why and
    quotes the end of the server log)."""


def find_mariadb_binaries(path: str | None = None) -> tuple[Path, Path]:
    """(``mariadb-install-db``, ``mariadbd``) from PATH plus /usr/sbin and /usr/bin."""
    search = path or os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    install = shutil.which("mariadb-install-db", path=search)
    server = shutil.which("mariadbd", path=search)
    found = (("mariadb-install-db", install), ("mariadbd", server))
    missing = [name for name, where in found if where is None]
    if install is None or server is None:
        raise MariaDBError(
            f"MariaDB server binaries not found: {', '.join(missing)} (install the MariaDB "
            "server package)"
        )
    return Path(install), Path(server)


def check_setting_names(settings: Mapping[str, str]) -> None:
    for name in settings:
        if not _SETTING_NAME.match(name):
            raise ValueError(f"not a MariaDB server option name: {name!r}")


class ManagedMariaDB:
    """One server in ``data_dir`` on ``127.0.0.1:port``; database ``ackguard``, account
    ``ackguard`` with a generated password (loopback only)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._settings = {name: str(value) for name, value in (settings or {}).items()}
        check_setting_names(self._settings)
        self.port = port if port is not None else free_port()
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.option_file = self.data_dir.with_name(self.data_dir.name + ".cnf")
        """The harness's 0600 ``[client]`` file holding the account's password."""
        self.password = secrets.token_urlsafe(24)
        self._user: ServerUser | None = server_user(_OS_USER)
        self._outside_dir: Path | None = None
        self._socket_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ref: ProcessRef | None = None
        self._log: IO[bytes] | None = None
        self._paused = False

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``ackguard`` database, password included (in-process use)."""
        return (
            f"mysql+pymysql://{ACCOUNT}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"
            "?charset=utf8mb4"
        )

    @property
    def service_url(self) -> str:
        """The same database for a child process: the password stays in ``option_file``, so
        the URL may appear on a command line."""
        return (
            f"mysql+pymysql://{ACCOUNT}@127.0.0.1:{self.port}/{DATABASE}"
            f"?charset=utf8mb4&read_default_file={quote(str(self.option_file), safe='/')}"
        )

    @property
    def pid(self) -> int | None:
        """mariadbd's PID while it runs (also while paused)."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def cluster_dir(self) -> Path:
        """The real data directory (``data_dir`` itself, or where its link points)."""
        return self._outside_dir or self.data_dir

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Create the data directory on first start, start mariadbd and wait (at most
        ``timeout`` seconds) until the ``ackguard`` account can connect."""
        if self.running:
            return
        deadline = time.monotonic() + timeout
        install, server = find_mariadb_binaries()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        init_file: Path | None = None
        if not (self.cluster_dir / "mysql").is_dir():
            self._outside_dir = prepare_data_dir(self.data_dir, self._user, "ackguard-mariadb-")
            if self._outside_dir is not None:
                lifeline.remove_on_death(self._outside_dir)
            self._install(install, deadline - time.monotonic())
            init_file = self._write_init_file()
        self._write_option_file()
        self._launch(server, init_file)
        try:
            self._wait_ready(deadline)
        finally:
            if init_file is not None:
                init_file.unlink(missing_ok=True)  # it holds the password

    def stop(self, mode: str = "fast", *, timeout: float = _STOP_TIMEOUT_S) -> None:
        """``immediate`` or ``sigkill``: SIGKILL (InnoDB recovers at the next start); any
        other mode: SIGTERM, a clean shutdown, waited for at most ``timeout`` seconds."""
        if mode in ("immediate", "sigkill"):
            self.kill()
            return
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._after_exit()
            return
        self.resume()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise MariaDBError(f"MariaDB did not stop within {timeout:g} s; killed it") from None
        self._after_exit()

    def kill(self) -> None:
        """SIGKILL mariadbd (one process: its connections are threads) and wait for it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10.0)
        self._after_exit()

    def restart(self, timeout: float = 60.0) -> None:
        self.stop("fast")
        self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP mariadbd: connections are accepted by the kernel but never answered."""
        proc = self._proc
        if proc is None or proc.poll() is not None or self._paused:
            return
        proc.send_signal(signal.SIGSTOP)
        wait_stopped(proc.pid, timeout=5.0)
        self._paused = True

    def resume(self) -> None:
        proc, self._paused = self._proc, False
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """SIGKILL the server and remove its directories and option file. Never raises."""
        with contextlib.suppress(Exception):
            self.kill()
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
        elif self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.option_file.unlink(missing_ok=True)
        for directory in (self._outside_dir, self._socket_dir):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
                lifeline.keep(directory)
        self._outside_dir = self._socket_dir = None

    def __enter__(self) -> ManagedMariaDB:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- SQL-level faults ------------------------------------------------------------------
    def connect(self, timeout: float = 5.0, database: str | None = DATABASE) -> Any:
        """A harness connection to the server (autocommit)."""
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=ACCOUNT,
            password=self.password,
            database=database,
            connect_timeout=max(1, int(timeout)),
            autocommit=True,
            charset="utf8mb4",
        )

    def terminate_backends(self, application_name: str | None = None) -> int:
        """``KILL CONNECTION`` every client connection but the harness's own and wait up to
        5 s for them to go. MariaDB has no application name: ``application_name`` is accepted
        for the fault's sake and every connection of the service's account goes. Returns how
        many were killed."""
        del application_name
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM information_schema.processlist"
                " WHERE user = %s AND id <> CONNECTION_ID()",
                (ACCOUNT,),
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
            killed: list[int] = []
            for connection_id in ids:
                with contextlib.suppress(pymysql.err.OperationalError):  # gone meanwhile
                    cursor.execute(f"KILL CONNECTION {connection_id:d}")
                    killed.append(connection_id)
            deadline = time.monotonic() + 5.0
            while killed and time.monotonic() < deadline:
                marks = ",".join(["%s"] * len(killed))
                cursor.execute(
                    f"SELECT count(*) FROM information_schema.processlist WHERE id IN ({marks})",
                    killed,
                )
                row = cursor.fetchone()
                if row is None or row[0] == 0:
                    break
                time.sleep(0.02)
        return len(killed)

    # -- internals -------------------------------------------------------------------------
    def _popen_user(self) -> dict[str, object]:
        return {} if self._user is None else self._user.popen_kwargs()

    def _install(self, install: Path, timeout: float) -> None:
        argv = [
            str(install), "--no-defaults", f"--datadir={self.cluster_dir}",
            "--auth-root-authentication-method=socket", "--skip-test-db",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                check=False,
                timeout=max(1.0, timeout),
                cwd=self.cluster_dir,
                preexec_fn=lifeline.parent_death_preexec(),
                **self._popen_user(),  # type: ignore[call-overload]
            )
        except subprocess.TimeoutExpired as exc:
            raise MariaDBError(f"mariadb-install-db did not finish in {timeout:g} s") from exc
        with self.log_path.open("ab") as log:
            log.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise MariaDBError(
                f"mariadb-install-db failed with code {done.returncode} in {self.cluster_dir}:\n"
                + (done.stdout + done.stderr).decode("utf-8", "replace")[-3000:]
            )

    def _write_init_file(self) -> Path:
        """SQL the first start runs: the harness's account and its database."""
        path = self.cluster_dir / "ackguard-init.sql"
        path.write_text(
            f"CREATE USER '{ACCOUNT}'@'127.0.0.1' IDENTIFIED BY '{self.password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{ACCOUNT}'@'127.0.0.1' WITH GRANT OPTION;\n"
            f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4;\n",
            encoding="utf-8",
        )
        path.chmod(0o600)
        if self._user is not None:
            os.chown(path, self._user.uid, self._user.gid)
        return path

    def _write_option_file(self) -> None:
        fd = os.open(self.option_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"[client]\nuser={ACCOUNT}\npassword={self.password}\n")
        self.option_file.chmod(0o600)

    def _socket_path(self) -> Path:
        inside = self.cluster_dir / "mariadb.sock"
        if len(str(inside)) <= _SOCKET_PATH_MAX:
            return inside
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="ackguard-mariadb-sock-"))
            lifeline.remove_on_death(self._socket_dir)
            if self._user is not None:
                os.chown(self._socket_dir, self._user.uid, self._user.gid)
        return self._socket_dir / "mariadb.sock"

    def _launch(self, server: Path, init_file: Path | None) -> None:
        argv = [
            str(server), "--no-defaults", f"--datadir={self.cluster_dir}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self._socket_path()}",
            f"--pid-file={self.cluster_dir / 'mariadbd.pid'}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", "--max-connections=200",
            *(f"--{name}={value}" for name, value in self._settings.items()),
            *([f"--init-file={init_file}"] if init_file is not None else []),
        ]  # fmt: skip
        self._log = self.log_path.open("ab")
        self._proc, self._ref = spawn(
            argv,
            output=self._log,
            cwd=self.cluster_dir,
            env={**os.environ, "LC_ALL": "C"},
            **self._popen_user(),
        )

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                self._after_exit()
                raise MariaDBError(
                    f"mariadbd exited with code {code} while starting; end of {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            if self._pidfile_ready():
                try:
                    with self.connect(timeout=2.0):
                        return
                except pymysql.err.OperationalError:
                    pass
            if time.monotonic() > deadline:
                self.kill()
                raise MariaDBError(
                    f"MariaDB did not accept connections on port {self.port} in time; "
                    f"end of {self.log_path}:\n" + log_tail(self.log_path)
                )
            time.sleep(0.05)

    def _pidfile_ready(self) -> bool:
        """Whether our mariadbd wrote its PID file (so the port we probe is its own)."""
        try:
            written = (self.cluster_dir / "mariadbd.pid").read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError, PermissionError):
            return False
        return self._proc is not None and written == str(self._proc.pid)

    def _after_exit(self) -> None:
        self._paused = False
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
        """mariadbd's PID while it runs (for tests and diagnostics)."""
        if self.pid is not None:
            yield self.pid
