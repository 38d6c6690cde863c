"""The project's contract with its users: the README's commands and the public API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ackguard import harness

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert block is not None, "the README must open with a sh block of two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "ackguard run" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_public_names_are_exactly_all() -> None:
    public = {name for name in dir(harness) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(harness, name)).__name__ == "module"}
    assert public - modules - {"annotations", "importlib", "TYPE_CHECKING", "Any"} == set(
        harness.__all__
    )
    for name in harness.__all__:
        assert getattr(harness, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = harness.no_such_name  # type: ignore[attr-defined]


@pytest.mark.process
def test_importing_the_engine_loads_nothing_heavy() -> None:
    heavy = "('pydantic', 'locust', 'gevent', 'sqlalchemy')"
    code = f"import sys, ackguard.harness; print([m for m in {heavy} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_readme_scenario_example_is_valid() -> None:
    from ackguard.harness.scenario import parse_scenario

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert example is not None
    scenario = parse_scenario(example.group(1), "README.md")
    assert scenario.faults and scenario.defects


def test_the_readme_command_fault_example_is_valid() -> None:
    from ackguard.harness.scenario import parse_scenario

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "kind: command" in b)
    head = "name: readme\nduration: 60s\npractitioners: 2\n"
    scenario = parse_scenario(head + block, "README.md")
    assert [f.kind for f in scenario.faults] == ["command"]
    assert scenario.faults[0].parsed is not None
