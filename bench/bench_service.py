"""Is the consultation service ever the bottleneck? Its throughput (acknowledged creates/s and
reads/s, p50/p99 latency) and its CPU per request, beside the load generator's, on SQLite and on
a throwaway PostgreSQL cluster. Prints figures; not a test.

The service runs as its own process (``python -m ackguard.fakes.consultations``). Per database,
phases each bounded by ``--duration`` (and ``--max-requests``):

* creates, then reads and PATCHes of the records created: an asyncio HTTP/1.1 client of its
  own (uvloop, keep-alive connections), far cheaper per request than the practitioners, so the
  service is the limit;
* mix: the real load generator, the Locust practitioners in one process as ``ackguard run``
  drives them (``bench_workload.py``, their own mix: about two PATCHes per create, reads of
  records, day listings), against the same service.

Only 2xx answers count as acknowledged. On a shared 2-core machine requests per second say more
about the neighbours than about either process, so the verdict is drawn from CPU time per
request, which a busy machine bends least: the service's (its process, over each phase) and the
generator's (its process, over the mix). A capacity is one core over that figure; the summary
sets the generator's beside the service's for creates and for the mix, with their ratio: issue
12 asks the service to sustain at least twice what the generator sends. The mix runs at the
practitioners' pace, far below the asyncio client's, so each of its requests also carries the
service's fixed costs (a wake-up, a writer batch and a commit of its own): its figure is the
pessimistic one.

Example:
    .venv/bin/python bench/bench_service.py --db sqlite --duration 10 --connections 64
    .venv/bin/python bench/bench_service.py --db both
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTED_AT = "2026-03-02T09:00:00+01:00"


@dataclass
class Phase:
    name: str
    ok: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def line(self) -> str:
        lat = sorted(self.latencies_ms) or [0.0]

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))]

        return (
            f"{self.name:8s} {self.ok / self.seconds:8.0f}/s acknowledged  "
            f"p50 {pct(0.50):6.1f} ms  p99 {pct(0.99):6.1f} ms  "
            f"({self.ok} ok, {self.errors} not 2xx, {self.seconds:.1f} s)"
        )


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far: per acknowledged request, a
    figure a busy machine does not distort the way it distorts requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(url: str, body: object) -> dict[str, str]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, str] = json.loads(answer.read())
        return result


# -- the load generator (its own process) -------------------------------------------------


async def _connection_loop(
    port: int,
    make_request: Callable[[int], bytes],
    deadline: float,
    budget: list[int],
    out: tuple[list[float], list[int], list[str]],
) -> None:
    latencies, errors, ids = out
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            start = time.perf_counter()
            writer.write(make_request(budget[0]))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if 200 <= status < 300:
                latencies.append((time.perf_counter() - start) * 1000)
                if len(ids) < 5000 and body.startswith(b'{"id":"'):
                    ids.append(body[7 : body.index(b'"', 7)].decode())
            else:
                errors.append(status)
    finally:
        writer.close()


def _run_phase(
    kind: str, port: int, connections: int, duration: float, max_requests: int, arg: list[str]
) -> tuple[list[float], list[int], list[str], float]:
    import uvloop

    rng = random.Random(7)
    pid_or_ids = arg
    payload_cache: dict[int, bytes] = {}

    def create(n: int) -> bytes:
        doctor, patient = pid_or_ids[n % 2], pid_or_ids[2 + n % 2]
        body = json.dumps(
            {
                "practitioner_id": doctor,
                "patient_id": patient,
                "started_at": STARTED_AT,
                "visit_reason": f"visit {n}",
                "exam_report": "exam " * (20 + n % 50),
                "conclusion": "ok",
            }
        ).encode()
        return (
            b"POST /v1/consultations HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            + f"Idempotency-Key: bench-{os.getpid()}-{n}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    def read(_n: int) -> bytes:
        record_id = rng.choice(pid_or_ids)
        cached = payload_cache.get(int(record_id))
        if cached is None:
            cached = f"GET /v1/consultations/{record_id} HTTP/1.1\r\nHost: b\r\n\r\n".encode()
            payload_cache[int(record_id)] = cached
        return cached

    def patch(n: int) -> bytes:
        record_id = rng.choice(pid_or_ids)
        body = json.dumps({"exam_report": f"amended {n} " + "exam " * (n % 50)}).encode()
        return (
            f"PATCH /v1/consultations/{record_id} HTTP/1.1\r\nHost: b\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    make = {"create": create, "read": read, "patch": patch}[kind]
    out: tuple[list[float], list[int], list[str]] = ([], [], [])
    budget = [max_requests]

    async def main() -> float:
        start = time.monotonic()
        deadline = start + duration
        await asyncio.gather(
            *(_connection_loop(port, make, deadline, budget, out) for _ in range(connections))
        )
        return time.monotonic() - start

    seconds = uvloop.run(main())
    return out[0], out[1], out[2], seconds


def _phase_worker(queue: multiprocessing.Queue[object], *args: object) -> None:
    queue.put(_run_phase(*args))  # type: ignore[arg-type]


def run_phase(
    name: str, kind: str, port: int, args: argparse.Namespace, arg: list[str]
) -> tuple[Phase, list[str]]:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[object] = context.Queue()
    worker = context.Process(
        target=_phase_worker,
        args=(queue, kind, port, args.connections, args.duration, args.max_requests, arg),
    )
    worker.start()
    result = queue.get(timeout=args.duration + 120)
    assert isinstance(result, tuple)
    latencies, errors, ids, seconds = result
    worker.join(30)
    return Phase(name, len(latencies), len(errors), seconds, latencies), ids


# -- the real load generator: the Locust practitioners (their own process) ----------------


@dataclass
class Mix:
    """The practitioners' mix over its measured seconds: requests, each side's CPU time."""

    seconds: float
    requests: int
    failures: int
    generator_cpu_s: float
    service_cpu_s: float
    by_name: dict[str, int]

    def lines(self) -> list[str]:
        rate = self.requests / self.seconds
        names = ", ".join(f"{n} {name}" for name, n in self.by_name.items())
        return [
            f"mix      {rate:8.0f}/s sent by the Locust practitioners "
            f"({self.requests} requests, {self.failures} failed, {self.seconds:.1f} s: {names})",
            f"           generator CPU {_us(self.generator_cpu_s, self.requests):5.0f} us each, "
            f"service CPU {_us(self.service_cpu_s, self.requests):5.0f} us each",
        ]


def _us(cpu_s: float, requests: int) -> float:
    return 1e6 * cpu_s / max(1, requests)


def run_mix(url: str, pid: int, workdir: Path, args: argparse.Namespace) -> Mix:
    """``bench_workload.py`` against the running service, its figures read back from JSON."""
    figures = workdir / "mix.json"
    command = [
        sys.executable, str(ROOT / "bench" / "bench_workload.py"), "--url", url,
        "--service-pid", str(pid), "--json", str(figures), "--seconds", f"{args.duration:g}",
        "--practitioners", str(args.practitioners), "--users", str(args.users),
    ]  # fmt: skip
    with (workdir / "mix.log").open("wb") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              timeout=args.duration + 300, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the mix failed: {(workdir / 'mix.log').read_text()[-2000:]}")
    raw = json.loads(figures.read_text())
    return Mix(
        raw["seconds"], raw["requests"], raw["failures"],
        raw["generator_cpu_s"], raw["service_cpu_s"], raw["by_name"],
    )  # fmt: skip


# -- the system under test -----------------------------------------------------------------


@contextmanager
def service(db_url: str, workdir: Path, extra: list[str]) -> Iterator[tuple[int, int]]:
    ready = workdir / "ready.json"
    log = (workdir / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ackguard.fakes.consultations", "--db", db_url,
         "--ready-file", str(ready), "--log-level", "WARNING", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"the service did not start: {(workdir / 'service.log').read_text()}"
                )
            time.sleep(0.05)
        yield json.loads(ready.read_text())["port"], process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@dataclass
class Figures:
    """One database's figures for the summary."""

    label: str
    creates: Phase
    create_cpu_s: float
    mix: Mix | None


def bench(label: str, db_url: str, workdir: Path, args: argparse.Namespace) -> Figures:
    workdir = workdir / label
    workdir.mkdir()
    with service(db_url, workdir, args.service_arg) as (port, pid):
        base = f"http://127.0.0.1:{port}"
        doctors = [
            _post(
                f"{base}/v1/practitioners",
                {"name": f"Dr {i}", "specialty": "gp", "rpps": f"1000000000{i}"},
            )["id"]
            for i in range(2)
        ]
        patients = [
            _post(
                f"{base}/v1/patients",
                {"name": f"P{i}", "birth_date": "1980-01-02", "national_id": str(i)},
            )["id"]
            for i in range(2)
        ]
        print(f"== {label}: service pid {pid}, {args.connections} connections,", end=" ")
        print(f"{args.duration:g} s per phase")
        if args.profile_hint:
            print(f"   profile it with: py-spy record -p {pid} -o profile.svg -d {args.duration:g}")
        used = _cpu_s(pid)
        creates, ids = run_phase("creates", "create", port, args, [*doctors, *patients])
        after = _cpu_s(pid)
        print("  " + creates.line() + _per_ack(after - used, creates.ok), flush=True)
        if ids:
            for name, kind in (("reads", "read"), ("patches", "patch")):
                before = _cpu_s(pid)
                phase, _ = run_phase(name, kind, port, args, ids)
                print("  " + phase.line() + _per_ack(_cpu_s(pid) - before, phase.ok), flush=True)
        mix = None
        if not args.no_mix:
            mix = run_mix(base, pid, workdir, args)
            print("".join(f"  {line}\n" for line in mix.lines()), end="", flush=True)
    return Figures(label, creates, after - used, mix)


def summary(figures: list[Figures]) -> list[str]:
    """Capacities from CPU per request (one core's worth), the generator's beside the
    service's, with the factor by which the service's exceeds it."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"== side by side: capacity = 1 core / CPU per request (load average {load})",
        f"{'':11s}{'load generator':>24s}{'service: creates':>30s}{'service: mix':>30s}",
    ]
    for row in figures:
        create_us = _us(row.create_cpu_s, row.creates.ok)
        creates = f"{create_us:5.0f} us = {1e6 / create_us:6,.0f}/s"
        if row.mix is None:
            lines.append(f"{row.label:11s}{'(no mix)':>24s}{creates:>30s}")
            continue
        generator_us = _us(row.mix.generator_cpu_s, row.mix.requests)
        mix_us = _us(row.mix.service_cpu_s, row.mix.requests)
        lines.append(
            f"{row.label:11s}{generator_us:9.0f} us = {1e6 / generator_us:6,.0f}/s"
            f"{creates:>20s} (x{generator_us / create_us:.1f})"
            f"{mix_us:10.0f} us = {1e6 / mix_us:6,.0f}/s (x{generator_us / mix_us:.1f})"
        )
        lines.append(
            f"{'':11s}measured: the practitioners sent {row.mix.requests / row.mix.seconds:,.0f} "
            f"requests/s; the service acknowledged {row.creates.ok / row.creates.seconds:,.0f} "
            f"creates/s from the asyncio client"
        )
    lines.append("(xN: the service's capacity over the generator's; the item asks for x2 or more)")
    return lines


def _per_ack(cpu_s: float, ok: int) -> str:
    if not ok:
        return ""
    per = cpu_s / ok
    return f"\n           service CPU {per * 1e6:5.0f} us each: {1 / per:6.0f}/s per core"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase")
    parser.add_argument("--service-arg", action="append", default=[], help="extra service flag")
    parser.add_argument("--profile-hint", action="store_true", help="print a py-spy command")
    parser.add_argument("--practitioners", type=int, default=200, help="of the mix (default 200)")
    parser.add_argument("--users", type=int, default=50, help="Locust users of the mix")
    parser.add_argument("--no-mix", action="store_true", help="creates and reads only")
    args = parser.parse_args(argv)
    print(
        f"machine: {os.cpu_count()} cores (shared with whatever else runs: figures are pessimistic)"
    )
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="ackguard-bench-") as temp:
        workdir = Path(temp)
        if args.db in ("sqlite", "both"):
            figures.append(bench("sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir, args))
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT))
            from ackguard.harness.services.postgres import ManagedPostgres

            with ManagedPostgres(workdir / "pg" / "data") as cluster:
                cluster.start()
                figures.append(bench("postgresql", cluster.url, workdir, args))
    print("\n".join(summary(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
