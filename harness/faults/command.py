"""Fault kind ``command``: the user's own commands break something and heal it (stop a
container, a systemd unit, kill a process the harness does not know). ``start`` runs when the
window opens, then ``check`` (if given: a non-zero exit means the fault did not act); ``heal``
runs when it closes. Each command runs without a shell, in its own process group, killed with
it after ``timeout`` seconds; its output is appended to ``<run_dir>/faults/<fault name>.log``.
A start or check that fails or times out is a failed start (the verdict cannot be trusted);
a heal that fails is a failed heal.

Placeholders in the commands, ``cwd`` and ``env`` values: ``{run_dir}``, ``{database_url}``
and ``{port}`` (the service's port), filled when the fault acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams
from ackguard.harness.scenario_fields import Command, seconds, text
from ackguard.harness.services.commands import fill_placeholders, run_command

__all__ = ["KIND", "CommandFault", "CommandParams"]

_NAME = "command"


class CommandParams(FaultParams):
    start: Command = Field(description="the command that breaks it, e.g. [docker, stop, db]")
    heal: Command = Field(description="the command that heals it, e.g. [docker, start, db]")
    check: Command | None = Field(
        None, description="optional, run after start: a non-zero exit means the fault did not act"
    )
    timeout: Annotated[float, BeforeValidator(seconds(0.1, 3600.0))] = Field(
        30.0, description="seconds each command may take before its process group is killed"
    )
    env: Mapping[str, Annotated[str, BeforeValidator(text(10_000))]] = Field(
        default_factory=dict, description="extra environment variables of the commands"
    )
    cwd: Annotated[str, BeforeValidator(text(4096))] | None = Field(
        None,
        description="working directory (relative: to the scenario file's folder; "
        "default: that folder)",
    )


def _attribute(context: FaultContext, name: str) -> Any:
    return getattr(context, name, None)


class CommandFault:
    """Runs ``start`` (+ ``check``) when the window opens and ``heal`` when it closes."""

    def __init__(self, context: FaultContext, params: CommandParams) -> None:
        self._context = context
        self.params = params
        self._started = False
        self.name = _NAME
        check = f", checked by {params.check[0]}" if params.check else ""
        self.description = (
            f"user command {' '.join(params.start)}{check}; healed by "
            f"{' '.join(params.heal)} (each command killed after {params.timeout:g} s)"
        )

    @property
    def log_path(self) -> Path:
        """Where the commands' output goes: ``<run_dir>/faults/<fault name>.log``."""
        return self._run_dir() / "faults" / f"{self.name}.log"

    def _run_dir(self) -> Path:
        run_dir = _attribute(self._context, "run_dir")
        if run_dir is None:
            raise RuntimeError("the command fault needs a run directory to write its output")
        return Path(run_dir)

    def _values(self) -> dict[str, str]:
        values = {"run_dir": str(self._run_dir())}
        database_url = _attribute(self._context, "database_url")
        if database_url:
            values["database_url"] = str(database_url)
        try:
            port = self._context.component("service").port
        except KeyError:
            port = None
        if port is not None:
            values["port"] = str(port)
        return values

    def _run(self, argv: tuple[str, ...], step: str) -> None:
        values = self._values()
        base = _attribute(self._context, "base_dir") or self._run_dir()
        cwd = Path(base)
        if self.params.cwd is not None:
            cwd = cwd / fill_placeholders(self.params.cwd, values)
        run_command(
            [fill_placeholders(part, values) for part in argv],
            log_path=self.log_path,
            timeout=self.params.timeout,
            what=f"{self.log_path.stem}: {step}",
            env={name: fill_placeholders(v, values) for name, v in self.params.env.items()},
            cwd=cwd,
        )

    def start(self) -> None:
        self._started = True  # before acting: a half-done start must still be healed
        self._run(self.params.start, "start")
        if self.params.check is not None:
            self._run(self.params.check, "check")

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._run(self.params.heal, "heal")


def build(context: FaultContext, params: CommandParams) -> CommandFault:
    return CommandFault(context, params)


KIND = FaultKind(
    name=_NAME,
    summary="run your own commands to break something and heal it "
    "(params: start, heal, check, timeout, env, cwd)",
    params=CommandParams,
    build=build,
)
