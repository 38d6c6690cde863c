"""A scenario is checked whole before anything starts: faults that could not act, windows outside
the run, toxics the proxy in use lacks, bad defect parameters and sizes past their bounds are
refused with ``file:line: field: problem``, the bound in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from ackguard.harness.scenario import (
    ScenarioError,
    catalogue,
    load_scenario,
    parse_scenario,
)

HEAD = "name: t\nduration: 20s\npractitioners: 2\n"  # lines 1-3


def refusal(text: str, **options: object) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml", **options)  # type: ignore[arg-type]
    error = caught.value
    where = "s.yaml" if error.line is None else f"s.yaml:{error.line}"
    assert str(error).startswith(f"{where}: {error.field}: ")
    return error


def fault(kind: str, params: str = "{}", schedule: str = "{at: 5s, duration: 1s}") -> str:
    return f"faults:\n  - kind: {kind}\n    params: {params}\n    schedule: {schedule}\n"


TOXIC = "{proxy: database, type: latency, attributes: {latency: 100}}"
DEFECTS = "system:\n  defects:\n"
POSTGRES = "system:\n  database: {kind: postgres}\n  proxy: [database]\n"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (HEAD + fault("toxic", TOXIC), 6, "faults[0].params.proxy", "not in system.proxy"),
        (HEAD + fault("partition", "{proxy: service}"), 6, "faults[0].params.proxy",
         "not in system.proxy (it lists no path)"),
        (HEAD + fault("database-crash"), 5, "faults[0].kind",
         "needs a database the harness manages: system.database.kind postgres or mariadb (or url "
         "with start and stop commands); this scenario's is sqlite"),
        (HEAD + "system:\n  database: {kind: url, url: 'postgresql://127.0.0.1/x'}\n"
         + fault("database-crash"), 7, "faults[0].kind", "needs the commands that stop and start"),
        (HEAD + "system:\n  database: {kind: url, url: 'postgresql://127.0.0.1/x', start: [a], "
         "stop: [b]}\n" + fault("database-pause"), 7, "faults[0].kind",
         "system.database.kind postgres or mariadb; this scenario's is url"),
        (HEAD + fault("database-terminate-backends"), 5, "faults[0].kind",
         "kind postgres or mariadb;"),
        (HEAD + "system:\n  proxy: [database]\n", 5, "system.proxy", "needs a network database"),
        (HEAD + fault("service-kill", schedule="{at: 30s, duration: 1s}"), 7, "faults[0].schedule",
         "the first window starts at 30s, not before the end of the run at 20s (duration)"),
        (HEAD + fault("service-kill", schedule="{start: 18s, every: 10s, duration: 5s}"), 7,
         "faults[0].schedule", "starts at 18s and heals at 23s, after the end of the run at 20s"),
        (HEAD + fault("service-kill", schedule="{start: 2s, random: {min: 1s, max: 30s}, "
                      "duration: 1s}"), 7, "faults[0].schedule", "starts at the latest at 32s"),
        (HEAD + POSTGRES + fault("toxic", "{proxy: database, type: latency, attributes: "
                                 "{latency: 99999999999999999999}}"), 9,
         "faults[0].params.attributes.latency",
         "must be at most 3,600,000 (ms), got 99,999,999,999,999,999,999"),
        (HEAD + POSTGRES + fault("toxic", "{proxy: database, type: limit_data, attributes: "
                                 "{bytes: 1099511627777}}"), 9, "faults[0].params.attributes.bytes",
         "at most 1,099,511,627,776 (bytes)"),
        (HEAD + DEFECTS + "    - name: lost_observations\n      params: {mode: sideways}\n",
         7, "system.defects[0].params.mode", "must be one of drop, stale, got 'sideways'"),
        (HEAD + DEFECTS + "    - name: silent_truncation\n      params: {max_chars: -1}\n",
         7, "system.defects[0].params.max_chars", "must be between 0 and 20000, got -1"),
        (HEAD + DEFECTS + "    - name: silent_truncation\n      cohort: {rpps: '1'}\n",
         7, "system.defects[0].cohort.rpps", "must be a list of RPPS numbers as text"),
        (HEAD + fault("defect", "{defect: lost_observations, params: {mode: sideways}}"), 6,
         "faults[0].params.params.mode", "got 'sideways'"),
        (HEAD + fault("defect", "{defect: silent_truncation, cohort: {fraction: 2}}"), 6,
         "faults[0].params.cohort.fraction", "between 0 and 1"),
        (HEAD + fault("defect", "{defect: meteor}"), 6, "faults[0].params.defect", "one of"),
    ],
)  # fmt: skip
def test_cross_checks_and_parameters_name_line_and_field(
    text: str, line: int, field: str, words: str
) -> None:
    error = refusal(text)
    assert (error.line, error.field) == (line, field), str(error)
    assert words in error.problem, str(error)


def test_a_duration_override_that_leaves_a_fault_outside_names_the_fault() -> None:
    text = HEAD + fault("service-kill", schedule="{at: 8s, duration: 1s}")
    assert parse_scenario(text, "s.yaml").duration == 20.0
    error = refusal(text, duration=6.0)
    assert (error.line, error.field) == (7, "faults[0].schedule")
    assert "starts at 8s, not before the end of the run at 6s (--duration)" in error.problem
    assert parse_scenario(text, "s.yaml", duration=10.0).duration == 10.0
    assert refusal(text, duration=1e9).field == "--duration"


@pytest.mark.parametrize("toxic", ["pg_commit_ack_drop", "cut"])
def test_built_in_toxics_are_refused_when_a_real_toxiproxy_would_run(toxic: str) -> None:
    attributes = "{every: 3}" if toxic == "pg_commit_ack_drop" else "{after_ms: 10}"
    text = HEAD + POSTGRES + fault("toxic", f"{{proxy: database, type: {toxic}, attributes: "
                                   f"{attributes}}}")  # fmt: skip
    assert parse_scenario(text, "s.yaml").faults[0].params["type"] == toxic
    error = refusal(text, real_proxy="TOXIPROXY_URL is set")
    assert (error.line, error.field) == (9, "faults[0].params.type")
    assert "only in ackguard's built-in proxy" in error.problem
    assert "real Toxiproxy (TOXIPROXY_URL is set)" in error.problem


def test_load_scenario_asks_which_proxy_a_run_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_scenario("commit-ack-lost").faults[0].params["type"] == "pg_commit_ack_drop"
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:9")
    with pytest.raises(ScenarioError, match="TOXIPROXY_URL is set"):
        load_scenario("commit-ack-lost")
    assert load_scenario("network-chaos").proxy_paths == ("service", "database")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("practitioners: 1000001", "practitioners", "between 1 and 1,000,000, got 1000001"),
        ("practitioners: 100001", "practitioners", "= 3,000,030 patients; at most 3,000,000"),
        ("practitioners: 2\npatients_per_practitioner: 10000\nusers: 99999", "users",
         "between 1 and 10,000"),
        ("practitioners: 3001\npatients_per_practitioner: 1000", "patients_per_practitioner",
         "= 3,001,000 patients; at most 3,000,000"),
        ("practitioners: 2\nduration: .inf", "duration", "must be a finite duration"),
        ("practitioners: 2\ntime_scale: .inf", "time_scale", "must be a finite number"),
        ("practitioners: 2\ntime_scale: 0", "time_scale", "between"),
        ("practitioners: 2\nname2: x", "name2", "unknown field (allowed here: name, description"),
        ("practitioners: 2\ndescription: " + "x" * 10_001, "description", "at most 10,000"),
        ("practitioners: 2\nmin_acknowledged: 0", "min_acknowledged", "between 1 and"),
        ("practitioners: 2\nseed: -1", "seed", "between 0 and"),
        ("practitioners: 2\nsim_start: 2026-03-02T07:30:00", "sim_start", "time zone"),
        ("practitioners: 2\nverifiers: []", "verifiers", "at least one verifier"),
        ("practitioners: 2\nverifiers: [records, psychic]", "verifiers[1]", "one of records"),
        ("practitioners: 2\nfaults:\n" + "  - {kind: service-kill, schedule: {at: 1s, "
         "duration: 1s}}\n" * 101, "faults", "at most 100 faults, got 101"),
        ("practitioners: 2\nfaults:\n  - {kind: service-kill, schedule: {every: 0.2s, "
         "duration: 0.1s}}\nduration: 7d", "faults[0].schedule", "at most 10,000 in all"),
    ],
)  # fmt: skip
def test_sizes_are_bounded_with_the_bound_in_the_message(
    change: str, field: str, words: str
) -> None:
    text = HEAD.replace("practitioners: 2", change)
    if "\nduration: 7d" in change or "duration: .inf" in change:
        text = text.replace("duration: 20s\n", "")
    error = refusal(text)
    assert error.field == field, str(error)
    assert words in error.problem, str(error)


def test_the_population_bounds_admit_the_reference_incident_at_full_scale() -> None:
    at_the_bounds = "practitioners: 1000000\npatients_per_practitioner: 3"
    assert parse_scenario(HEAD.replace("practitioners: 2", at_the_bounds), "s.yaml").practitioners
    example = Path(__file__).parents[2] / "examples" / "full-scale" / "incident-full-scale.yaml"
    scenario = load_scenario(str(example))
    assert (scenario.practitioners, scenario.expect) == (300_000, False)
    assert scenario.name not in catalogue(), "minutes long: not part of the default test run"


def test_a_long_name_is_refused_not_crashed() -> None:
    error = refusal(HEAD.replace("name: t", "name: " + "n" * 300))
    assert (error.line, error.field) == (1, "name")
    assert "at most 64 characters, got 300" in error.problem
    assert refusal(HEAD.replace("name: t", "name: ../up")).problem.startswith("use letters")


SERVICE = HEAD + (
    "system:\n  service:\n    command: [python3, app.py, --port, '{port}']\n"
    "    env: {DB: '{database_url}', WORKERS: 2}\n    ready: {http: /health, timeout: 10s}\n"
    "  target:\n    adapter: adapters/app.py:AppTarget\n    options: {token: abc}\n"
)


def test_a_user_service_and_target_are_typed() -> None:
    scenario = parse_scenario(SERVICE, "s.yaml")
    assert scenario.service is not None and scenario.target is not None
    assert scenario.service.command == ("python3", "app.py", "--port", "{port}")
    assert scenario.service.env == {"DB": "{database_url}", "WORKERS": "2"}
    assert (scenario.service.ready.http, scenario.service.ready.timeout) == ("/health", 10.0)
    assert scenario.service.cwd is None and not scenario.service.ready.tcp
    assert scenario.target.adapter == "adapters/app.py:AppTarget"
    assert scenario.target.options == {"token": "abc"}
    default = parse_scenario(HEAD, "s.yaml")
    assert default.service is None and default.target is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("[python3, app.py, --port, '{port}']", "[]"), "system.service.command", "non-empty list"),
        (("[python3, app.py, --port, '{port}']", "python3 app.py"), "system.service.command",
         "non-empty list"),
        (("'{port}']", "'{host}']"), "system.service.command[3]", "unknown placeholder {host}"),
        (("'{port}']", "7]"), "system.service.command[3]", "must be a non-empty text"),
        (("'{port}']", "'8080']"), "system.service.command", "free port as {port}"),
        (("WORKERS: 2", "2WORKERS: 2"), "system.service.env.2WORKERS", "environment variable"),
        (("{http: /health, timeout: 10s}", "{http: /health, tcp: true}"), "system.service.ready",
         "exactly one of http, tcp or log"),
        (("{http: /health, timeout: 10s}", "{timeout: 10s}"), "system.service.ready",
         "exactly one of http, tcp or log"),
        (("{http: /health, timeout: 10s}", "{tcp: false}"), "system.service.ready.tcp",
         "tcp: true"),
        (("{http: /health, timeout: 10s}", "{log: '(unclosed'}"), "system.service.ready.log",
         "not a regular expression"),
        (("{http: /health, timeout: 10s}", "{http: health}"), "system.service.ready.http",
         "a path such as /health"),
        (("timeout: 10s", "timeout: 100d"), "system.service.ready.timeout",
         "between 0.1s and 1h"),
        (("    ready: {http: /health, timeout: 10s}\n", ""), "system.service.ready", "is required"),
        (("adapters/app.py:AppTarget", "adapters/app.py"), "system.target.adapter",
         "package.module:Class or path/to/file.py:Class"),
        (("adapters/app.py:AppTarget", "my-pkg.mod:Cls"), "system.target.adapter", "got"),
    ],
)  # fmt: skip
def test_a_bad_service_or_target_is_refused(
    change: tuple[str, str], field: str, words: str
) -> None:
    error = refusal(SERVICE.replace(*change))
    assert error.field == field, str(error)
    assert words in error.problem, str(error)
    assert parse_scenario(SERVICE.replace("adapters/app.py:AppTarget", "pkg.mod:Cls"), "s.yaml")


def test_defects_need_the_built_in_service() -> None:
    text = SERVICE + "  defects: [{name: silent_truncation}]\n"
    assert refusal(text).field == "system.defects"


@pytest.mark.parametrize(
    ("database", "field", "words"),
    [
        ("{kind: url, url: 'postgresql://h/x', start: [pg_ctl, start]}", "system.database.stop",
         "give both start and stop"),
        ("{kind: postgres, start: [a], stop: [b]}", "system.database.start", "kind url only"),
        ("{kind: sqlite, settings: {fsync: off}}", "system.database.settings",
         "postgres or mariadb only"),
        ("{kind: url}", "system.database.url", "kind url needs a url"),
        ("{kind: postgres, settings: {fsync: [1]}}", "system.database.settings.fsync",
         "single value"),
    ],
)  # fmt: skip
def test_database_commands_and_settings_fit_the_kind(database: str, field: str, words: str) -> None:
    error = refusal(HEAD + f"system:\n  database: {database}\n")
    assert (error.field, error.line) == (field, 5), str(error)
    assert words in error.problem


def test_a_url_database_with_commands_can_be_crashed() -> None:
    text = (
        HEAD
        + (
            "system:\n  database:\n    kind: url\n    url: postgresql://127.0.0.1:5999/app\n"
            "    start: [pg_ctl, start, -D, '{run_dir}/data']\n"
            "    stop: [pg_ctl, stop, -m, immediate]\n"
        )
        + fault("database-crash", "{mode: immediate}")
    )
    database = parse_scenario(text, "s.yaml").database
    assert database.start == ("pg_ctl", "start", "-D", "{run_dir}/data")
    assert database.stop[-1] == "immediate"
    assert parse_scenario(HEAD, "s.yaml").database.start == ()


def test_a_missing_seed_is_drawn_and_said(tmp_path: Path) -> None:
    drawn = [parse_scenario(HEAD, "s.yaml") for _ in range(3)]
    assert all(not s.seed_given and 0 <= s.seed < 2**31 for s in drawn)
    assert len({s.seed for s in drawn}) > 1
    assert parse_scenario(HEAD + "seed: 7\n", "s.yaml").seed_given
    replay = parse_scenario(HEAD, "s.yaml", seed=drawn[0].seed)
    assert (replay.seed, replay.seed_given) == (drawn[0].seed, True)
    assert parse_scenario(HEAD + "seed: 7\n", "s.yaml", seed=9).seed == 9


def test_evidence_threshold_and_source_dir(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(HEAD + "min_acknowledged: 50\n", encoding="utf-8")
    scenario = load_scenario(str(path))
    assert scenario.min_acknowledged == 50
    assert scenario.source_dir == tmp_path.resolve()
    assert parse_scenario(HEAD, "s.yaml").min_acknowledged == 1
    shipped = load_scenario("default")
    assert (shipped.source_dir / "default.yaml").is_file()


def test_every_catalogue_scenario_passes_every_check() -> None:
    for name in catalogue():
        scenario = load_scenario(name)
        assert scenario.seed_given, f"{name}: catalogue scenarios keep a fixed seed"
        assert all(f.parsed is not None for f in scenario.faults)
