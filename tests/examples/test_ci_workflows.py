"""The CI workflows in examples/ci parse, have the structure their CI reads (schedule, jobs,
steps or script, junit published, runs uploaded even on failure), every ``ackguard`` command
they call parses with the real command-line parser, and the suite file they name validates."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ackguard.harness.cli import _parser
from ackguard.harness.suite import plan_suite
from ackguard.harness.suite_file import collect_entries

pytestmark = pytest.mark.unit  # files and parsers only: no process, no run

ROOT = Path(__file__).parents[2]
CI = ROOT / "examples" / "ci"
CRON = re.compile(r"^(\S+\s+){4}\S+$")


def _load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((CI / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _commands(script: str) -> list[list[str]]:
    """The ``ackguard ...`` command lines of a shell script (continuations joined)."""
    joined = script.replace("\\\n", " ")
    return [
        shlex.split(line)
        for line in (raw.strip() for raw in joined.splitlines())
        if line.startswith("ackguard ")
    ]


def _check_commands(commands: list[list[str]]) -> list[Any]:
    """Each command parses with ackguard's own parser; each suite's file validates. Returns
    the parsed suite options."""
    assert commands, "the workflow never calls ackguard"
    suites = []
    for argv in commands:
        try:
            options = _parser().parse_args(argv[1:])
        except SystemExit as exc:  # argparse refused it
            pytest.fail(f"{shlex.join(argv)}: ackguard's parser refused it (exit {exc.code})")
        if options.command == "suite":
            items = [str(ROOT / item) for item in options.scenarios]
            for item in items:
                assert Path(item).exists(), f"{item} named by the workflow does not exist"
            _, entries = collect_entries(items)
            plan = plan_suite(entries, seed=options.seed)
            assert len(plan) >= 11, "the nightly suite covers the catalogue"
            suites.append(options)
    assert suites, "the workflow runs no ackguard suite"
    return suites


def test_github_nightly_workflow() -> None:
    workflow = _load("github-nightly.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict) and "workflow_dispatch" in triggers
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(CRON.match(cron) for cron in crons)
    jobs = workflow["jobs"]
    assert jobs
    for job in jobs.values():
        assert str(job["runs-on"]).startswith(("ubuntu", "debian"))
        steps = job["steps"]
        uses = [str(step.get("uses", "")) for step in steps]
        assert any(u.startswith("actions/checkout@") for u in uses)
        (python,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@")]
        assert str(python["with"]["python-version"]) == "3.11"
        scripts = [str(step.get("run", "")) for step in steps]
        assert any("apt-get install" in s and "postgresql" in s for s in scripts)
        assert any("pip install" in s for s in scripts)
        (suite,) = _check_commands([c for s in scripts for c in _commands(s)])
        published = [s for s in steps if str(s.get("uses", "")).startswith(_JUNIT_ACTIONS)]
        assert published, "junit.xml is not published"
        for step in published:
            assert step.get("if") == "always()"
            assert str(suite.junit) in str(step["with"].get("report_paths", step["with"]))
        uploads = [
            s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")
        ]
        assert uploads and all(s.get("if") == "always()" for s in uploads)
        paths = [Path(str(s["with"]["path"])) for s in uploads]
        assert Path(suite.runs_dir) in paths, "the runs are not uploaded"


_JUNIT_ACTIONS = ("mikepenz/action-junit-report@", "dorny/test-reporter@", "EnricoMi/")


def test_gitlab_ci_job() -> None:
    pipeline = _load("gitlab-ci.yml")
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    assert jobs
    for job in jobs.values():
        image = str(job["image"])
        assert image.startswith("python:3.11") and "bookworm" in image
        setup = "\n".join(job.get("before_script", []))
        assert "apt-get install" in setup and "postgresql" in setup and "pip install" in setup
        (suite,) = _check_commands([c for line in job["script"] for c in _commands(line)])
        artifacts = job["artifacts"]
        assert artifacts["when"] == "always"
        assert Path(artifacts["reports"]["junit"]) == Path(suite.junit)
        assert Path(suite.runs_dir) in [Path(p) for p in artifacts["paths"]]
        sources = " ".join(str(rule.get("if", "")) for rule in job["rules"])
        assert '"schedule"' in sources


def test_the_nightly_suite_expects_what_the_catalogue_says() -> None:
    from ackguard.harness.scenario import catalogue

    _, entries = collect_entries([str(CI / "nightly-suite.yaml")])
    plan = plan_suite(entries)
    assert sorted(p.scenario.name for p in plan) == sorted(catalogue())
    for planned in plan:
        assert planned.entry.expect is not None, f"{planned.label}: state the expectation"
        assert planned.expected == planned.scenario.expect, planned.label


def test_the_readme_command_is_the_workflows() -> None:
    readme = (CI / "README.md").read_text(encoding="utf-8")
    for name in ("github-nightly.yml", "gitlab-ci.yml"):
        text = (CI / name).read_text(encoding="utf-8")
        (line,) = re.findall(r"ackguard suite [^\n]*", text)
        assert line.strip() in readme, name
