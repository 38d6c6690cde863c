"""Registration before a run: practitioners and patients registered per second, one at a time
(``SupportsRegistration``) against in bulk (``SupportsBulkRegistration``, the batch endpoints),
through the workload's registration (what ``Workload.setup`` runs before it builds the agents)
against the built-in service on SQLite (or PostgreSQL). Prints figures; not a test.

Each size runs on a fresh database. The one-at-a-time path is measured up to ``--single-max``
practitioners (beyond, it is extrapolated from its rate); ``--sizes`` lists the sizes in bulk.
Building the practice (names, NIRs: ``build_practice``) is timed apart: it is the workload's own
cost, not the service's.

Example:
    .venv/bin/python bench/bench_registration.py                       # 3,000 and 30,000
    .venv/bin/python bench/bench_registration.py --sizes 300000 --single-max 0
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from bench_service import service

from ackguard.harness.workload import (
    ConsultationRecord,
    HttpTarget,
    PatientEntry,
    PatientProfile,
    PractitionerEntry,
    PractitionerProfile,
    Target,
    TargetAnswer,
    TargetContext,
    Workload,
    WorkloadConfig,
)
from ackguard.harness.workload.registration import register_everyone


class OneAtATime:
    """The built-in target without its bulk ability."""

    def __init__(self, context: TargetContext) -> None:
        self.inner = HttpTarget(context)

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        return self.inner.register_practitioner(practitioner)

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        return self.inner.register_patient(patient)

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: Mapping[str, str | None],
    ) -> TargetAnswer:
        return self.inner.create(practitioner, patient, key, started_at, fields)

    def update(self, record_ref: str, fields: Mapping[str, str | None]) -> TargetAnswer:
        return self.inner.update(record_ref, fields)

    def read(self, record_ref: str) -> TargetAnswer:
        return self.inner.read(record_ref)

    def export(self) -> Iterator[ConsultationRecord]:
        return self.inner.export()


def one_at_a_time(context: TargetContext) -> Target:
    return OneAtATime(context)


def measure(
    label: str, db_url: str, workdir: Path, workload: Workload, bulk: bool
) -> tuple[float, int]:
    """Seconds of the registration and the number of people it registered."""
    workdir.mkdir(parents=True)
    factory = HttpTarget if bulk else one_at_a_time
    with service(db_url, workdir, []) as (port, _pid):
        target = factory(TargetContext(f"http://127.0.0.1:{port}", 5.0))
        assert isinstance(target, HttpTarget | OneAtATime)
        start = time.perf_counter()
        doctors, patients = register_everyone(target, workload.practice, timeout_s=120)
        seconds = time.perf_counter() - start
    people = len(doctors) + len(patients)
    print(
        f"  {label:6s} {seconds:7.1f} s  {people / seconds:9.0f} registrations/s ({people} people)",
        flush=True,
    )
    return seconds, people


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000])
    parser.add_argument("--patients", type=int, default=5, help="patients per practitioner")
    parser.add_argument("--single-max", type=int, default=3000, help="one at a time up to this")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.sizes) or args.patients < 1:
        parser.error("--sizes and --patients must be positive")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} (shared: pessimistic)")
    single_rate = None
    with tempfile.TemporaryDirectory(prefix="ackguard-bench-reg-") as temp:
        root = Path(temp)
        cluster = None
        if args.db == "postgres":
            from ackguard.harness.services.postgres import ManagedPostgres

            cluster = ManagedPostgres(root / "pg" / "data")
            cluster.start()
        try:
            for run, size in enumerate(args.sizes):
                config = WorkloadConfig(
                    seed=7, practitioners=size, patients_per_practitioner=args.patients
                )
                start = time.perf_counter()
                workload = Workload(config, None)
                built = time.perf_counter() - start
                print(f"== {size} practitioners x {args.patients} patients ({args.db}); "
                      f"practice built in {built:.1f} s")  # fmt: skip
                for bulk in (True, False):
                    if not bulk and size > args.single_max:
                        if single_rate:
                            people = size * (1 + args.patients)
                            print(f"  single  ~{people / single_rate:.0f} s  (estimated)")
                        continue
                    url = _database(args.db, root / f"{run}-{bulk}", cluster)
                    seconds, people = measure(
                        "bulk" if bulk else "single", url, root / f"{run}-{bulk}", workload, bulk
                    )
                    if not bulk:
                        single_rate = people / seconds
        finally:
            if cluster is not None:
                cluster.close()
    return 0


def _database(kind: str, where: Path, cluster: object) -> str:
    if kind == "sqlite":
        return f"sqlite:///{where}.db"
    import sqlalchemy

    url = str(getattr(cluster, "url"))  # noqa: B009
    name = f"reg_{where.name.replace('-', '_').lower()}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return sqlalchemy.make_url(url).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    sys.exit(main())
