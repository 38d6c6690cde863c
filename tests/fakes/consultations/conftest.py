"""Fixtures: the consultation service as a real subprocess on a real database.

``database`` is parametrized: a SQLite file, and a database in a throwaway PostgreSQL cluster
(the session's cluster, ``postgres_cluster`` of tests/conftest.py, and one fresh database per
test; marked ``postgres``).
``start_service(db_url, *args)`` starts ``python -m ackguard.fakes.consultations`` and waits
(bounded) for its ready file; every service a test started is SIGKILLed by pid at teardown if
still running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy

READY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 15.0
STARTED_AT = "2026-03-02T09:00:00+01:00"


@dataclass
class Service:
    """A running service process and a small JSON client for it."""

    process: subprocess.Popen[bytes]
    url: str
    admin_token: str
    db_url: str
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        data = None if body is None else json.dumps(body)
        heads = {
            "Content-Type": "application/json",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        return self.session.request(
            method, self.url + path, data=data, headers=heads, timeout=HTTP_TIMEOUT_S
        )

    def admin(self, method: str, body: Any = None) -> requests.Response:
        return self.call(method, "/admin/defects", body, Authorization=f"Bearer {self.admin_token}")

    def create(
        self, key: str, practitioner_id: str, patient_id: str, **notes: str | None
    ) -> requests.Response:
        body = {
            "practitioner_id": practitioner_id,
            "patient_id": patient_id,
            "started_at": STARTED_AT,
            **notes,
        }
        return self.call("POST", "/v1/consultations", body, Idempotency_Key=key)

    def export(self) -> list[dict[str, Any]]:
        """Every record, through the paginated list (the final read's export)."""
        records: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(10_000):
            path = "/v1/consultations?limit=2" + (f"&cursor={cursor}" if cursor else "")
            answer = self.call("GET", path)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            records.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return records
        raise AssertionError("the export did not end")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        self.process.wait(timeout=30)
        self.session.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    started: list[Service] = []

    def start(db_url: str, *args: str) -> Service:
        index = len(started)
        ready = tmp_path / f"ready-{index}.json"
        log_path = tmp_path / f"service-{index}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ackguard.fakes.consultations",
                    "--db",
                    db_url,
                    "--ready-file",
                    str(ready),
                    *args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=tmp_path,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)
                raise AssertionError(f"the service did not start:\n{log_path.read_text()}")
            time.sleep(0.02)
        line = json.loads(ready.read_text(encoding="utf-8"))
        assert line["pid"] == process.pid
        service = Service(process, line["url"], line["admin_token"], db_url, log_path)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.kill()


def _fresh_postgres_database(cluster: Any) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return str(
        sqlalchemy.make_url(cluster.url).set(database=name).render_as_string(hide_password=False)
    )


@dataclass
class Database:
    kind: str
    url: str
    cluster: Any = None  # the ManagedPostgres for kind "postgres"

    def scalar(self, sql: str, **params: Any) -> Any:
        engine = sqlalchemy.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.execute(sqlalchemy.text(sql), params).scalar()
        finally:
            engine.dispose()

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = sqlalchemy.create_engine(self.url)
        try:
            with engine.connect() as connection:
                result = connection.execute(sqlalchemy.text(sql), params)
                return [dict(row) for row in result.mappings()]
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite:///{tmp_path / 'consultations.db'}")
    cluster = request.getfixturevalue("postgres_cluster")
    return Database("postgres", _fresh_postgres_database(cluster), cluster)


@pytest.fixture
def postgres_db(postgres_cluster: Any) -> Database:
    return Database("postgres", _fresh_postgres_database(postgres_cluster), postgres_cluster)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    return Database("sqlite", f"sqlite:///{tmp_path / 'consultations.db'}")


@dataclass
class People:
    practitioners: list[dict[str, str]]
    patients: list[dict[str, str]]


def seed(service: Service, rpps: list[str], patients: int = 2) -> People:
    """Practitioners with the given RPPS numbers and a few patients, created through the API."""
    made = People([], [])
    for number in rpps:
        answer = service.call(
            "POST", "/v1/practitioners", {"name": f"Dr {number}", "specialty": "gp", "rpps": number}
        )
        assert answer.status_code == 201, answer.text
        made.practitioners.append(answer.json())
    for index in range(patients):
        body = {
            "name": f"Patient {index}",
            "birth_date": "1980-01-02",
            "national_id": f"1800{index}",
        }
        answer = service.call("POST", "/v1/patients", body)
        assert answer.status_code == 201, answer.text
        made.patients.append(answer.json())
    return made
