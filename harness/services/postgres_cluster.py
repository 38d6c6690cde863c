"""Creating a PostgreSQL cluster on disk for ManagedPostgres: the server binaries, the OS user
the server runs as, the data directory and ``initdb``.

As root, ``initdb`` and ``postgres`` run as the ``postgres`` OS user (they refuse root). That
user must be able to traverse every parent of the data directory; when it cannot (a run
directory under ``/root`` or pytest's 0700 temporary directory, say), the cluster is created in
a fresh ``ackguard-pg-*`` directory under the temporary directory, owned by ``postgres`` with
mode 0700, and the data directory becomes a symbolic link to it. Parents' permissions are never
changed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ackguard.harness.services.lifeline import parent_death_preexec

__all__ = [
    "PostgresBinaries",
    "PostgresError",
    "ServerUser",
    "append_settings",
    "check_setting_names",
    "find_postgres_binaries",
    "prepare_data_dir",
    "read_passfile",
    "run_initdb",
    "server_user",
    "write_passfile",
]

_OS_USER = "postgres"
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class PostgresError(RuntimeError):
    """The managed cluster could not be created, started or stopped (the message says why and
    quotes the end of the server log)."""


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    initdb: Path
    postgres: Path


def find_postgres_binaries(
    search_root: Path = Path("/usr/lib/postgresql"), path: str | None = None
) -> PostgresBinaries:
    """``initdb`` and ``postgres`` from the highest ``<search_root>/<version>/bin``, else from
    ``path`` (default: PATH). Raises PostgresError naming what is missing."""

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", bin_dir.parent.name)) or (0,)

    for bin_dir in sorted(search_root.glob("*/bin"), key=version, reverse=True):
        initdb, postgres = bin_dir / "initdb", bin_dir / "postgres"
        if os.access(initdb, os.X_OK) and os.access(postgres, os.X_OK):
            return PostgresBinaries(initdb, postgres)
    found = {name: shutil.which(name, path=path) for name in ("initdb", "postgres")}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        raise PostgresError(
            f"PostgreSQL server binaries not found: {', '.join(missing)} (looked in "
            f"{search_root}/*/bin and PATH; install the PostgreSQL server package)"
        )
    return PostgresBinaries(Path(str(found["initdb"])), Path(str(found["postgres"])))


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The OS user the server runs as when the harness is root."""

    uid: int
    gid: int
    groups: list[int]

    def popen_kwargs(self) -> dict[str, object]:
        """Arguments for subprocess: the child switches to this user before it runs."""
        return {"user": self.uid, "group": self.gid, "extra_groups": self.groups}


def server_user(os_user: str = _OS_USER) -> ServerUser | None:
    """The ``os_user`` OS user (``postgres`` by default) when we are root, else None (the
    server runs as us)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError as exc:
        raise PostgresError(
            f"running as root, but there is no {os_user!r} OS user to run the server as"
        ) from exc
    return ServerUser(entry.pw_uid, entry.pw_gid, os.getgrouplist(os_user, entry.pw_gid))


def _run_kwargs(user: ServerUser | None) -> dict[str, object]:
    return {} if user is None else user.popen_kwargs()


def _reachable(directory: Path, user: ServerUser | None) -> bool:
    """Whether ``user`` can traverse ``directory`` (hence all its parents)."""
    probe = subprocess.run(
        ["test", "-x", str(directory)],
        check=False,
        timeout=10,
        **_run_kwargs(user),  # type: ignore[call-overload]
    )
    return bool(probe.returncode == 0)


def prepare_data_dir(
    data_dir: Path, user: ServerUser | None, prefix: str = "ackguard-pg-"
) -> Path | None:
    """Create an empty data directory the server's user owns (mode 0700). Returns the real
    directory when it had to be made outside (``data_dir`` is then a link to it, the real one
    named ``<prefix>*`` in the temporary directory), else None."""
    if data_dir.is_dir() and any(data_dir.iterdir()):
        raise PostgresError(f"{data_dir} exists, is not empty and holds no cluster")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    outside: Path | None = None
    if user is not None and not _reachable(data_dir.parent, user):
        for base in (Path(tempfile.gettempdir()), Path("/tmp")):
            if _reachable(base, user):
                break
        else:
            raise PostgresError(
                f"the server's OS user can reach neither {data_dir.parent} nor a "
                "temporary directory"
            )
        outside = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        with contextlib.suppress(FileNotFoundError):
            data_dir.rmdir()
        data_dir.symlink_to(outside, target_is_directory=True)
    target = outside or data_dir
    target.mkdir(exist_ok=True)
    if user is not None:
        os.chown(target, user.uid, user.gid)
    target.chmod(0o700)
    return outside


def run_initdb(
    binaries: PostgresBinaries,
    cluster_dir: Path,
    user: ServerUser | None,
    log_path: Path,
    timeout: float,
    password: str,
) -> None:
    """``initdb`` with superuser ``postgres`` whose ``password`` every connection must give
    (scram-sha-256, TCP and socket alike), UTF-8 and the C locale; its output is appended to
    ``log_path``. The password reaches initdb in a private 0600 file, never its command line."""
    with _password_file(password, user) as pwfile:
        _initdb(binaries, cluster_dir, user, log_path, timeout, pwfile)


@contextlib.contextmanager
def _password_file(password: str, user: ServerUser | None) -> Iterator[Path]:
    """``password`` in a file only the server's user can read, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ackguard-pw-"))
    try:
        path = directory / "password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{password}\n")
        if user is not None:
            os.chown(path, user.uid, user.gid)
            os.chown(directory, user.uid, user.gid)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _initdb(
    binaries: PostgresBinaries,
    cluster_dir: Path,
    user: ServerUser | None,
    log_path: Path,
    timeout: float,
    pwfile: Path,
) -> None:
    argv = [
        str(binaries.initdb), "-D", str(cluster_dir), "-U", "postgres",
        "--auth=scram-sha-256", f"--pwfile={pwfile}",
        "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            check=False,
            timeout=max(1.0, timeout),
            cwd=cluster_dir,
            preexec_fn=parent_death_preexec(),  # a harness killed mid-initdb leaves no initdb
            **_run_kwargs(user),  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired as exc:
        raise PostgresError(f"initdb did not finish in {timeout:g} s in {cluster_dir}") from exc
    with log_path.open("ab") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise PostgresError(
            f"initdb failed with code {done.returncode} in {cluster_dir}:\n"
            + (done.stdout + done.stderr).decode("utf-8", "replace")[-3000:]
        )


def check_setting_names(settings: Mapping[str, str]) -> None:
    for name in settings:
        if not _SETTING_NAME.match(name):
            raise ValueError(f"not a PostgreSQL setting name: {name!r}")


def append_settings(cluster_dir: Path, settings: Mapping[str, str]) -> None:
    """Append ``name = 'value'`` lines to postgresql.conf (a later line wins)."""
    if not settings:
        return
    with (cluster_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# ackguard scenario settings\n")
        for name, value in settings.items():
            conf.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")


def write_passfile(path: Path, password: str) -> None:
    """``password`` for user ``postgres`` at any host and port, in libpq's passfile format, mode
    0600 (libpq ignores a passfile others can read)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"*:*:*:postgres:{password}\n")
    path.chmod(0o600)


def read_passfile(path: Path) -> str | None:
    """The password ``write_passfile`` wrote, None when there is no such file."""
    try:
        line = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return line.rsplit(":", 1)[-1] or None
