"""Suite files and the command line's list of scenarios, turned into :class:`SuiteEntry` items.

A suite file is YAML with a top-level ``suite:`` list; each entry names a scenario and may set
what the suite expects of it and how long and with which seed it runs::

    name: nightly            # optional: the suite's name in junit.xml and on its page
    suite:
      - scenario: async-commit-crash     # a catalogue name, or a file relative to this file
        expect: FAIL                     # PASS, FAIL or UNKNOWN; default: the scenario's own
        duration: 30s
        seed: 7
      - scenario: ../mine/durable.yaml

An entry's ``expect`` overrides the scenario's own ``expect:`` for the suite's outcome (the run's
own report keeps the scenario's); a scenario with no expectation at all is expected to PASS.
Errors read ``file:line: field: problem`` like scenario errors, and come before any run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, ValidationError

from ackguard.harness.scenario_fields import (
    Strict,
    describe,
    maybe,
    seconds,
    text,
    whole,
)
from ackguard.harness.scenario_yaml import ScenarioError, load_located, read_text
from ackguard.harness.verifiers.result import Valid

__all__ = [
    "EXPECT_WORDS",
    "SuiteEntry",
    "SuiteFile",
    "collect_entries",
    "expect_word",
    "is_suite_text",
    "parse_suite",
]

EXPECT_WORDS: dict[str, Valid] = {"PASS": True, "FAIL": False, "UNKNOWN": "unknown"}
MAX_ENTRIES = 1000


def expect_word(expected: Valid | None) -> str:
    """``PASS``, ``FAIL`` or ``UNKNOWN`` for a verdict value (None: ``-``)."""
    if expected is None:
        return "-"
    return next(word for word, value in EXPECT_WORDS.items() if value == expected)


def _expect(value: object) -> Valid | None:
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str) and value.strip().upper() in EXPECT_WORDS:
        return EXPECT_WORDS[value.strip().upper()]
    raise ValueError(f"must be PASS, FAIL or UNKNOWN, got {value!r}")


def _entries(value: object) -> object:
    if isinstance(value, list) and not value:
        raise ValueError("must list at least one scenario")
    if isinstance(value, list) and len(value) > MAX_ENTRIES:
        raise ValueError(f"must list at most {MAX_ENTRIES:,} scenarios, got {len(value):,}")
    return value


class EntryModel(Strict):
    scenario: Annotated[str, BeforeValidator(text(4096))]
    expect: Annotated[Valid | None, BeforeValidator(_expect)] = None
    duration: Annotated[float | None, BeforeValidator(maybe(seconds(1.0, 7 * 86400.0)))] = None
    seed: Annotated[int | None, BeforeValidator(maybe(whole(0, 2**63 - 1)))] = None


class SuiteModel(Strict):
    name: Annotated[str | None, BeforeValidator(maybe(text(200)))] = None
    description: Annotated[str | None, BeforeValidator(maybe(text(10_000)))] = None
    suite: Annotated[tuple[EntryModel, ...], BeforeValidator(_entries)]


@dataclass(frozen=True, slots=True)
class SuiteEntry:
    """One scenario to run: a catalogue name or a file path (already resolved against the suite
    file's folder), with the suite's overrides (None: the scenario's or the command line's)."""

    scenario: str
    expect: Valid | None = None
    duration: float | None = None
    seed: int | None = None
    where: str = ""
    """Where the entry was named (``suite.yaml:4`` or ``command line``), for error messages."""


@dataclass(frozen=True, slots=True)
class SuiteFile:
    name: str | None
    entries: tuple[SuiteEntry, ...]


def is_suite_text(text_: str, source: str) -> bool:
    """Whether a YAML file is a suite file (a mapping with a ``suite`` key), not a scenario."""
    root = load_located(text_, source)
    return isinstance(root.value, dict) and "suite" in root.value


def parse_suite(text_: str, source: str, *, base_dir: Path | None = None) -> SuiteFile:
    """The suite in ``text_``; file paths in it are taken relative to ``base_dir`` (default:
    the folder of ``source``). Raises :class:`ScenarioError` (``file:line: field: problem``)."""
    root = load_located(text_, source)
    try:
        model = SuiteModel.model_validate(root.plain())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise root.error_at(first["loc"], describe(first)) from None
    folder = base_dir if base_dir is not None else Path(source).parent
    items = root.mapping()["suite"].sequence()
    entries = tuple(
        SuiteEntry(
            scenario=_resolve(entry.scenario, folder),
            expect=entry.expect,
            duration=entry.duration,
            seed=entry.seed,
            where=f"{source}:{item.line}",
        )
        for entry, item in zip(model.suite, items, strict=True)
    )
    return SuiteFile(model.name, entries)


def _resolve(name: str, folder: Path) -> str:
    """A name that looks like a file is relative to the suite file; a bare name is a
    catalogue scenario."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        path = Path(name)
        return str(path if path.is_absolute() else folder / path)
    return name


def collect_entries(
    items: Sequence[str], *, catalogue_names: Sequence[str] = ()
) -> tuple[str | None, list[SuiteEntry]]:
    """The suite's name (from the first suite file, if any) and its entries, in the order
    given: each item a catalogue name, a scenario file, a folder (its ``*.yaml``/``*.yml`` in
    name order) or a suite file; then ``catalogue_names`` (``--catalogue``). Raises
    :class:`ScenarioError` for a missing path, an empty folder or a bad suite file."""
    name: str | None = None
    entries: list[SuiteEntry] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if not found:
                raise ScenarioError(item, None, "", "the folder holds no .yaml scenario")
            entries += [SuiteEntry(str(p), where=item) for p in found if p.is_file()]
        elif path.is_file():
            content = read_text(path)
            if is_suite_text(content, item):
                suite = parse_suite(content, item)
                name = name or suite.name or path.stem
                entries += suite.entries
            else:
                entries.append(SuiteEntry(item, where="command line"))
        elif "/" in item or item.endswith((".yaml", ".yml")):
            raise ScenarioError(item, None, "", "no such file or folder")
        else:
            entries.append(SuiteEntry(item, where="command line"))
    entries += [SuiteEntry(n, where="--catalogue") for n in catalogue_names]
    return name, entries
