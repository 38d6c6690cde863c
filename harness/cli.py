"""``ackguard``: the command line. Exit codes: 0 verdict true, 1 verdict false, 2 unknown or a
harness error (a bad scenario file included)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_TRUE, EXIT_FALSE, EXIT_UNKNOWN = 0, 1, 2
_EXPECTATIONS: dict[object, str] = {
    True: "expect PASS",
    False: "expect FAIL",
    "unknown": "expect UNKNOWN",
}

_EPILOG = """examples:
  ackguard run                         # the default scenario: SQLite, service crashes, ~1 minute
  ackguard run async-commit-crash      # a catalogue scenario by name
  ackguard run my-scenario.yaml --runs-dir nightly/
  ackguard verify runs/20261129T040000-default
  ackguard report runs/20261129T040000-default
  ackguard scenarios
  ackguard suite --catalogue           # every catalogue scenario, judged by its expect:
  ackguard prune runs --keep-last 14   # delete all but the newest 14 runs of each scenario
  ackguard serve --db sqlite:///notes.db --port 8000 --defect silent_truncation
  ackguard proxy --port 8474 --seed 7
  ackguard run incident-2023-lost-observations --workers 2   # practitioners on 2 Locust workers
  ackguard worker --master 10.0.0.5:5557   # join a run started with --remote-workers
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)  # run directories and reports hold patient-like data: private to the user
    if args and args[0] in ("serve", "proxy"):
        module = "ackguard.fakes." + ("consultations" if args[0] == "serve" else "toxiproxy")
        os.execv(sys.executable, [sys.executable, "-m", module, *args[1:]])
    if args and args[0] in ("run", "web", "suite", "worker"):
        # Locust patches the standard library with gevent on import; it must come before
        # anything imports ssl or threading (the scenario's fault modules do).
        import locust  # noqa: F401
    try:
        try:
            code = _dispatch(args)
        finally:
            sys.stdout.flush()  # here, not at exit (``--help`` too): a closed pipe is caught below
    except BrokenPipeError:
        return _reader_went_away()
    return code


def _dispatch(args: list[str]) -> int:
    parser = _parser()
    options = parser.parse_args(args)
    handler = {
        "run": _run,
        "verify": _verify,
        "report": _report,
        "scenarios": _scenarios,
        "web": _web,
        "suite": _suite,
        "prune": _prune,
        "worker": _worker,
    }[options.command]
    try:
        return handler(options)
    except BrokenPipeError:
        raise  # the reader went away: not a harness error
    except Exception as exc:  # a harness failure is no verdict: exit 2, never 1 ("data lost")
        traceback.print_exc()
        print(f"ackguard: harness error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN


def _reader_went_away() -> int:
    """``ackguard scenarios | head -3``: the reader closed the pipe. End quietly, as ``cat`` does;
    stdout points at /dev/null so that the interpreter's last flush cannot complain either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_TRUE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ackguard",
        description="Chaos-test a medical-records service: prove no acknowledged record was "
        "lost or damaged.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run a scenario and write its report",
        epilog="example: ackguard run incident-2023-lost-observations --runs-dir runs",
    )
    run.add_argument(
        "scenario", nargs="?", help="a scenario file or catalogue name (default: default)"
    )
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where runs are stored")
    run.add_argument("--duration", help="override the scenario's duration, e.g. 20s")
    run.add_argument(
        "--seed", type=int, help="override the scenario's seed (replay a run with a random seed)"
    )
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    run.add_argument(
        "--keep-last",
        type=_runs_count,
        metavar="N",
        help="after the run, keep the newest N runs of each scenario (as ackguard prune does)",
    )
    _workers_options(run)
    verify = commands.add_parser(
        "verify",
        help="re-run the verifiers on a stored run",
        epilog="example: ackguard verify runs/20261129T040000-default",
    )
    verify.add_argument("run_dir", type=Path)
    verify.add_argument(
        "--db", help="read the final state from this database URL when the run has no final read"
    )
    verify.add_argument(
        "--jobs",
        type=_jobs_count,
        metavar="N",
        help="processes checking the records, each a part of them (default: one per idle "
        "core, at most 4, for a history over 64 MB; 1 for a smaller one)",
    )
    verify.add_argument(
        "--parts",
        type=_parts_count,
        metavar="K",
        help="check the records in K parts, in waves when K is more than --jobs: a process "
        "holds one part's index at a time, for less memory and more time (default: one "
        "part per process, more when their indexes would outgrow half the available memory)",
    )
    report = commands.add_parser(
        "report",
        help="render report.html, junit.xml and impact.csv of a run again",
        epilog="example: ackguard report runs/20261129T040000-default",
    )
    report.add_argument("run_dir", type=Path)
    commands.add_parser(
        "scenarios", help="list the scenario catalogue", epilog="example: ackguard scenarios"
    )
    web = commands.add_parser(
        "web",
        help="drive the practitioners from Locust's web UI",
        epilog="example: ackguard web default --web-port 8089",
    )
    web.add_argument("scenario", nargs="?")
    web.add_argument("--web-port", type=int, default=8089)
    web.add_argument("--runs-dir", type=Path, default=Path("runs"))
    web.add_argument("--seed", type=int, help="override the scenario's seed")
    _suite_parser(commands)
    _prune_parser(commands)
    _worker_parser(commands)
    commands.add_parser("serve", help="start the consultation service (see ackguard serve --help)")
    commands.add_parser("proxy", help="start the fault proxy (see ackguard proxy --help)")
    return parser


def _suite_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    suite = commands.add_parser(
        "suite",
        help="run scenarios one after another; exit 0 when each ends as expected",
        description="Run scenarios one after another, each judged against its expectation\n"
        "(an expected FAIL that fails is OK). Exit 0: every one as expected; 1: a verdict\n"
        "differs; 2: a verdict is unknown or a scenario did not run (Ctrl-C included).",
        epilog="examples:\n  ackguard suite --catalogue --runs-dir nightly\n"
        "  ackguard suite examples/ci/nightly-suite.yaml --junit junit.xml\n"
        "  ackguard suite my-scenarios/ default --duration 20s",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    suite.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="catalogue names, scenario files, folders (their *.yaml) or suite files",
    )
    suite.add_argument("--catalogue", action="store_true", help="every shipped scenario")
    suite.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where runs are stored")
    suite.add_argument("--duration", help="every scenario's duration unless its entry sets one")
    suite.add_argument("--seed", type=int, help="every scenario's seed unless its entry sets one")
    suite.add_argument(
        "--junit", type=Path, help="the junit.xml (default <runs-dir>/suite-<timestamp>/junit.xml)"
    )


def _workers_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="drive the practitioners from N Locust worker processes (this process is the master)",
    )
    run.add_argument(
        "--remote-workers",
        type=int,
        default=0,
        metavar="M",
        help="of the N workers, M join from elsewhere (ackguard worker --master HOST:PORT)",
    )
    run.add_argument(
        "--master-bind",
        default="127.0.0.1",
        metavar="HOST",
        help="the address the Locust master listens on for workers (default 127.0.0.1)",
    )
    run.add_argument(
        "--master-port", type=int, metavar="PORT", help="its port (default: a free one)"
    )


def _worker_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="join a run as a Locust worker that drives a share of its practitioners",
        epilog="example: ackguard worker --master 10.0.0.5:5557",
    )
    worker.add_argument("--master", required=True, metavar="HOST:PORT", help="the run's master")
    worker.add_argument("--shard-dir", type=Path, help=argparse.SUPPRESS)  # a local worker's


def _worker(options: argparse.Namespace) -> int:
    from ackguard.harness.worker_cli import parse_master, worker_main

    try:
        parse_master(options.master)
    except ValueError as exc:
        print(f"ackguard: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    return worker_main(options.master, options.shard_dir)


def _workers_arguments_problem(options: argparse.Namespace) -> str | None:
    from ackguard.harness.workers import workers_problem

    if options.workers is None:
        if options.remote_workers:
            return "--remote-workers needs --workers"
        return None
    if options.master_port is not None and not 1 <= options.master_port <= 65535:
        return f"--master-port {options.master_port} is not a port number (1-65535)"
    return workers_problem(options.workers, options.remote_workers)


def _suite(options: argparse.Namespace) -> int:
    from ackguard.harness.suite import suite_command

    return suite_command(options)


def _load(name: str | None, duration: str | None, seed: int | None = None) -> object:
    """The scenario checked whole (overrides included), or None after printing why not."""
    from ackguard.harness.scenario import ScenarioError, load_scenario, parse_duration

    try:
        seconds = parse_duration(duration) if duration is not None else None
    except ValueError as exc:
        print(f"ackguard: --duration: {exc}", file=sys.stderr)
        return None
    try:
        scenario = load_scenario(name, duration=seconds, seed=seed)
    except ScenarioError as exc:
        print(f"ackguard: {exc}", file=sys.stderr)
        return None
    if not scenario.seed_given:
        print(f"seed {scenario.seed} (random; replay with --seed {scenario.seed})", file=sys.stderr)
    return scenario


def _run(options: argparse.Namespace) -> int:
    problem = _workers_arguments_problem(options)
    if problem is not None:
        print(f"ackguard: {problem}", file=sys.stderr)
        return EXIT_UNKNOWN
    scenario = _load(options.scenario, options.duration, options.seed)
    if scenario is None:
        return EXIT_UNKNOWN
    from ackguard.harness.run import run_scenario
    from ackguard.harness.scenario import Scenario
    from ackguard.harness.summary import exit_code, summary

    assert isinstance(scenario, Scenario)
    named = options.scenario or "default"
    replay = ["--duration", f"{scenario.duration:g}s", "--seed", str(scenario.seed)]
    command = shlex.join(["ackguard", "run", named, *replay])
    if options.workers is not None:
        command += f" --workers {options.workers}"
    outcome = run_scenario(
        scenario,
        runs_dir=options.runs_dir,
        command=command,
        workers=options.workers or 0,
        remote_workers=options.remote_workers,
        master_bind=options.master_bind,
        master_port=options.master_port,
    )
    report = None if options.no_report else _render(outcome.run_dir)
    print(summary(outcome.run_dir, outcome.verdict, outcome.status, report))
    if options.keep_last is not None:  # the verdict's exit code stands whatever pruning says
        _prune_runs_dir(options.runs_dir, options.keep_last, dry_run=False)
    return exit_code(outcome.verdict)


def _prune_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prune = commands.add_parser(
        "prune",
        help="delete old runs, keeping the newest N of each scenario",
        epilog="example: ackguard prune runs --keep-last 14 --dry-run",
    )
    prune.add_argument("runs_dir", type=Path, help="the runs folder (where index.html is)")
    prune.add_argument(
        "--keep-last", type=_runs_count, required=True, metavar="N", help="runs kept per scenario"
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")


def _count_of(things: str) -> Callable[[str], int]:
    """An argparse type: a whole number of ``things``, 1 or more, else an error naming it."""

    def count_of(text: str) -> int:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {things} (1 or more)")
        return count

    return count_of


_runs_count = _count_of("runs")
_jobs_count = _count_of("processes")
_parts_count = _count_of("parts")


def _prune(options: argparse.Namespace) -> int:
    return _prune_runs_dir(options.runs_dir, options.keep_last, dry_run=options.dry_run)


def _prune_runs_dir(runs_dir: Path, keep_last: int, *, dry_run: bool) -> int:
    from ackguard.harness.retention import prune_command

    return prune_command(runs_dir, keep_last, dry_run=dry_run)


def _render(run_dir: Path) -> Path | None:
    from ackguard import reports

    try:
        rendered = reports.render_run(run_dir)
        reports.render_index(run_dir.parent)
    except Exception as exc:  # the verdict stands even if the page cannot be drawn
        print(f"ackguard: the report could not be rendered: {exc}", file=sys.stderr)
        return None
    return Path(rendered.html)


def _verify(options: argparse.Namespace) -> int:
    from ackguard.harness.summary import exit_code, summary
    from ackguard.harness.verify import verify_run

    if not (options.run_dir / "history.jsonl").exists():
        print(
            f"ackguard: {options.run_dir} is not a run directory (no history.jsonl)",
            file=sys.stderr,
        )
        return EXIT_UNKNOWN
    verdict = verify_run(
        options.run_dir, database_url=options.db, jobs=options.jobs, parts=options.parts
    )
    report = _render(options.run_dir)
    print(summary(options.run_dir, verdict, "verified offline", report))
    return exit_code(verdict)


def _report(options: argparse.Namespace) -> int:
    from ackguard import reports

    code: int = reports.main([str(options.run_dir)])
    return code


def _scenarios(_options: argparse.Namespace) -> int:
    from ackguard.harness.scenario import ScenarioError, catalogue, parse_scenario

    for name, text in catalogue().items():
        try:
            scenario = parse_scenario(text, f"scenarios/{name}.yaml")
        except ScenarioError as exc:
            print(f"{name:34} INVALID: {exc}")
            continue
        first = scenario.description.strip().splitlines()[0] if scenario.description.strip() else ""
        expect = _EXPECTATIONS.get(scenario.expect, "no expectation")
        print(f"{name:34} {expect:14} {scenario.duration:5.0f}s  {first}")
    return 0


def _web(options: argparse.Namespace) -> int:
    busy = _web_port_problem(options.web_port)
    if busy is not None:
        print(f"ackguard: --web-port {options.web_port} {busy}", file=sys.stderr)
        return EXIT_UNKNOWN
    scenario = _load(options.scenario, None, options.seed)
    if scenario is None:
        return EXIT_UNKNOWN
    from ackguard.harness.run import RunOutcome
    from ackguard.harness.scenario import Scenario
    from ackguard.harness.summary import exit_code, summary
    from ackguard.harness.web import serve_web

    assert isinstance(scenario, Scenario)

    def announce(outcome: RunOutcome) -> Path | None:
        report = _render(outcome.run_dir)
        print(summary(outcome.run_dir, outcome.verdict, outcome.status, report), flush=True)
        return report

    outcome = serve_web(
        scenario, runs_dir=options.runs_dir, web_port=options.web_port, announce=announce
    )
    return exit_code(outcome.verdict)


def _web_port_problem(port: int) -> str | None:
    """Why the web UI cannot listen on 127.0.0.1:``port``, checked before anything starts (the
    way Locust's server binds, address reuse included); None if it can."""
    import socket

    if not 1 <= port <= 65535:
        return "is not a port number (1-65535)"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except PermissionError:
            return "cannot be used by this user"
        except OSError:
            return "is in use"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
