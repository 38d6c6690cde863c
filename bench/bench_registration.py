"""Registration before a run: practitioners and patients registered per second, one at a time
(``SupportsRegistration``, the built-in target through ``one_at_a_time``) against in bulk
(``SupportsBulkRegistration``, the batch endpoints), the latter also through an adapter's checked
wrapper (``adapter``: the built-in target named as a scenario's adapter, every answer checked),
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
from pathlib import Path

from bench_service import service

from ackguard.harness.workload import (
    AdapterFactory,
    HttpTarget,
    OneAtATime,
    SupportsBulkRegistration,
    TargetContext,
    Workload,
    WorkloadConfig,
    one_at_a_time,
)
from ackguard.harness.workload.registration import register_everyone

PATHS = ("bulk", "adapter", "single")


def measure(path: str, db_url: str, workdir: Path, workload: Workload) -> tuple[float, int]:
    """Seconds of the registration and the number of people it registered."""
    workdir.mkdir(parents=True)
    with service(db_url, workdir, []) as (port, _pid):
        context = TargetContext(f"http://127.0.0.1:{port}", 5.0)
        if path == "adapter":
            adapter = AdapterFactory("bench:HttpTarget", HttpTarget, {})(context)
            assert isinstance(adapter, SupportsBulkRegistration)
            target: HttpTarget | SupportsBulkRegistration | OneAtATime = adapter
        else:
            target = HttpTarget(context) if path == "bulk" else one_at_a_time(HttpTarget(context))
        start = time.perf_counter()
        doctors, patients = register_everyone(target, workload.practice, timeout_s=120)
        seconds = time.perf_counter() - start
    people = len(doctors) + len(patients)
    print(
        f"  {path:7s} {seconds:7.1f} s  {people / seconds:9.0f} registrations/s ({people} people)",
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
                for path in PATHS:
                    if path == "single" and size > args.single_max:
                        if single_rate:
                            people = size * (1 + args.patients)
                            print(f"  single  ~{people / single_rate:.0f} s  (estimated)")
                        continue
                    url = _database(args.db, root / f"{run}-{path}", cluster)
                    seconds, people = measure(path, url, root / f"{run}-{path}", workload)
                    if path == "single":
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
