"""Everything one run starts, in order, and stops in reverse: the database, the fault proxy and
the service (the built-in consultation service, or the scenario's own service command). It is
also the context faults act through: a fault reaches only the components this run started, or
the user's own commands for them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ackguard.harness.scenario import Scenario
from ackguard.harness.services import lifeline
from ackguard.harness.services.commanded_database import CommandedDatabase
from ackguard.harness.services.mariadb import ManagedMariaDB
from ackguard.harness.services.postgres import ManagedPostgres
from ackguard.harness.services.proxy import ProxyServer, start_proxy
from ackguard.harness.services.service import ConsultationService
from ackguard.harness.services.user_service import UserService

__all__ = ["RunStack", "UsedDatabaseError", "check_unused"]

RECORD_TABLES = ("consultations", "patients", "practitioners")
"""The tables a run's records live in (the brief's schema)."""


class UsedDatabaseError(RuntimeError):
    """A ``url`` database already holds records: another run's records would be judged as this
    run's (phantom, corrupt, misattributed), a false FAIL."""


def check_unused(url: str) -> None:
    """Raise UsedDatabaseError naming the record tables that already hold rows in the database
    at ``url``. A database that cannot be reached is left to the service to report."""
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return  # connecting would create the file
    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            held = {
                name: int(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() or 0)
                for name in RECORD_TABLES
                if name in present
            }
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()
    used = [f"{name} ({rows:,} rows)" for name, rows in held.items() if rows]
    if used:
        shown = parsed.render_as_string(hide_password=True)
        raise UsedDatabaseError(
            f"the url database {shown} was used before: it already holds {', '.join(used)}. "
            "Those records would be judged as this run's (a false FAIL); give each run an empty "
            "database, or drop these tables first"
        )


class RunStack:
    """Starts the scenario's system. ``component(name)`` serves the fault context."""

    def __init__(self, run_dir: Path, scenario: Scenario) -> None:
        self.run_dir = run_dir
        self.scenario = scenario
        self.database_url = ""  # as the harness reaches it (white-box final read)
        self.database_label: str = scenario.database.kind
        self.postgres: ManagedPostgres | None = None
        self.mariadb: ManagedMariaDB | None = None
        self.commanded_database: CommandedDatabase | None = None
        self.proxy: ProxyServer | None = None
        self.service: ConsultationService | UserService | None = None
        self.practitioner_url = ""  # where practitioners send requests (maybe through the proxy)
        self.base_dir = scenario.source_dir
        """Where a user's relative paths start: the scenario file's folder."""

    def component(self, name: str) -> Any:
        database = self.postgres or self.mariadb or self.commanded_database
        found = {"database": database, "proxy": self.proxy, "service": self.service}.get(name)
        if found is None:
            raise KeyError(f"this run has no {name} it could break (see the scenario's system)")
        return found

    def start(self) -> None:
        lifeline.lifeline.start()  # first: every child after it is watched from its start
        spec = self.scenario.database
        if spec.kind == "sqlite":
            self.database_url = f"sqlite:///{(self.run_dir / 'consultations.db').resolve()}"
            self.database_label = "sqlite"
        elif spec.kind == "postgres":
            self.postgres = ManagedPostgres(
                self.run_dir / "postgres",
                settings=dict(spec.settings),
                log_path=self.run_dir / "postgres.log",
            )
            self.postgres.start()
            self.database_url = self.postgres.url
            self.database_label = "postgresql (managed)"
        elif spec.kind == "mariadb":
            self.mariadb = ManagedMariaDB(
                self.run_dir / "mariadb",
                settings=dict(spec.settings),
                log_path=self.run_dir / "mariadb.log",
            )
            self.mariadb.start()
            self.database_url = self.mariadb.url
            self.database_label = "mariadb (managed)"
        else:
            self.database_url = str(spec.url)
            self.database_label = urlsplit(self.database_url).scheme
            check_unused(self.database_url)
            if spec.start and spec.stop:
                self.commanded_database = CommandedDatabase(
                    self.run_dir, self.database_url, spec.start, spec.stop
                )
        if self.scenario.proxy_paths:
            self.proxy = start_proxy(self.run_dir, self.scenario.seed)
        if self.scenario.service is None:
            self.service = ConsultationService(self.run_dir, self._service_url(True))
        else:
            # The user's command decides where {database_url} goes: it carries the password.
            self.service = UserService(
                self.run_dir, self.scenario.service, self._service_url(False), self.base_dir
            )
        self.service.start()
        self.practitioner_url = self.service.url
        if self.proxy is not None and "service" in self.scenario.proxy_paths:
            listen = self.proxy.create("service", f"127.0.0.1:{self.service.port}")
            self.practitioner_url = f"http://{listen}"

    def _service_url(self, credentials_file: bool) -> str:
        """The database URL the service gets, through the proxy when the scenario says so.
        With ``credentials_file``, a managed database's URL names its 0600 credentials file
        instead of carrying the password (the built-in service gets it on its command line)."""
        url = self.database_url
        managed = self.postgres or self.mariadb
        if credentials_file and managed is not None:
            url = managed.service_url
        if "database" in self.scenario.proxy_paths:
            url = self._through_proxy(url)
        return url

    def _through_proxy(self, url: str) -> str:
        assert self.proxy is not None
        parts = urlsplit(url)
        if parts.scheme.startswith("sqlite") or parts.port is None or parts.hostname is None:
            raise ValueError(
                "the database path can go through the proxy only for a network database"
            )
        listen = self.proxy.create("database", f"{parts.hostname}:{parts.port}")
        netloc = parts.netloc.rsplit("@", 1)
        auth = f"{netloc[0]}@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{auth}{listen}"))

    def close(self) -> None:
        """Stop everything started, in reverse order; never raises."""
        if self.service is not None:
            with contextlib.suppress(Exception):
                self.service.stop()
        if self.proxy is not None:
            with contextlib.suppress(Exception):
                self.proxy.close()
        for database in (self.postgres, self.mariadb):
            if database is not None:
                with contextlib.suppress(Exception):
                    database.close()
