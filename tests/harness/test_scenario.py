"""Scenario files: the catalogue loads, and every mistake names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ackguard.harness.scenario import (
    ScenarioError,
    catalogue,
    load_scenario,
    parse_duration,
    parse_scenario,
)

VALID = """\
name: t
seed: 3
duration: 20s
practitioners: 5
system:
  database: {kind: sqlite}
  defects:
    - name: lost_observations
      cohort: {fraction: 0.5}
      window: {from: 6h, until: 24h}
faults:
  - kind: service-kill
    params: {signal: SIGKILL}
    schedule: {every: 5s, duration: 1s}
expect: false
"""


def test_a_valid_scenario_parses_into_typed_fields() -> None:
    scenario = parse_scenario(VALID, "t.yaml")
    assert scenario.duration == 20.0
    assert scenario.defects[0].window == (6 * 3600.0, 24 * 3600.0)
    assert scenario.defects[0].cohort is not None and scenario.defects[0].cohort.fraction == 0.5
    assert scenario.faults[0].schedule.interval == 5.0
    assert scenario.expect is False
    assert scenario.consultation_steps == "full"
    brief = parse_scenario(VALID + "consultation_steps: create_only\n", "t.yaml")
    assert brief.consultation_steps == "create_only"


def test_every_catalogue_scenario_is_valid() -> None:
    names = catalogue()
    assert "default" in names
    for name in names:
        assert load_scenario(name).name == name


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (("duration: 20s", "duration: soon"), 3, "duration", "not a duration"),
        (("practitioners: 5", "practitioners: -1"), 4, "practitioners", "between"),
        (("kind: service-kill", "kind: meteor-strike"), 12, "faults[0].kind", "unknown fault kind"),
        (("signal: SIGKILL", "signal: SIGFOO"), 13, "faults[0].params.signal", ""),
        (
            ("every: 5s, duration: 1s", "every: 1s, duration: 5s"),
            14,
            "faults[0].schedule.every",
            "longer",
        ),
        (
            ("name: lost_observations", "name: lose_everything"),
            8,
            "system.defects[0].name",
            "one of",
        ),
        (("fraction: 0.5", "fraction: 2"), 9, "system.defects[0].cohort.fraction", "between"),
        (
            ("from: 6h, until: 24h", "from: 24h, until: 6h"),
            10,
            "system.defects[0].window.until",
            "after",
        ),
        (("expect: false", "expect: maybe"), 15, "expect", "true, false or unknown"),
        (("seed: 3", "seed: 3\ncolour: blue"), 3, "colour", "unknown field"),
        (
            ("seed: 3", "seed: 3\nconsultation_steps: create"),
            3,
            "consultation_steps",
            "one of full, create_only",
        ),
    ],
)
def test_errors_name_file_line_and_field(
    change: tuple[str, str], line: int, field: str, words: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(VALID.replace(*change), "bad.yaml")
    assert caught.value.source == "bad.yaml"
    assert caught.value.line == line
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"bad.yaml:{line}: {field}: ")


def test_missing_required_field_and_broken_yaml() -> None:
    with pytest.raises(ScenarioError, match="duration: is required"):
        parse_scenario(VALID.replace("duration: 20s\n", ""), "x.yaml")
    with pytest.raises(ScenarioError, match=r"x.yaml:\d+: not valid YAML"):
        parse_scenario("name: [unclosed\n", "x.yaml")


def test_unknown_scenario_name_lists_the_catalogue(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"known: .*default"):
        load_scenario("no-such-scenario")
    missing = tmp_path / "absent.yaml"
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(str(missing))


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30.0), ("2m", 120.0), ("18h", 64800.0), (7, 7.0)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds
