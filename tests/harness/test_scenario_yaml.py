"""Hostile YAML: every refusal is a ScenarioError naming the file and line, never a traceback,
and the loader stops early instead of expanding what it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from ackguard.harness.scenario import ScenarioError, load_scenario, parse_scenario
from ackguard.harness.scenario_yaml import MAX_BYTES, load_located, read_text

HEAD = "name: hostile\nduration: 10s\npractitioners: 2\n"

LAUGHS = HEAD + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
LOL = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
BOMB = LAUGHS.replace(HEAD, HEAD + LOL)
"""The "billion laughs": 9 levels of 9 aliases, 387,420,489 strings once expanded."""


def refusal(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "hostile.yaml")
    assert caught.value.source == "hostile.yaml"
    assert str(caught.value).startswith("hostile.yaml:")
    return caught.value


def test_an_alias_bomb_is_refused_by_its_budget() -> None:
    assert len(BOMB.encode()) < 600
    error = refusal(BOMB)
    assert error.line is not None and 5 <= error.line <= 13
    assert "anchor is used more than" in error.problem or "aliases are expanded" in error.problem


def test_a_wide_alias_fan_out_is_refused_by_the_node_budget() -> None:
    anchors = "".join(f"k{i}: &k{i} [{','.join(['1'] * 90)}]\n" for i in range(60))
    uses = "".join(f"u{i}: [{','.join(f'*k{j}' for j in range(60))}]\n" for i in range(3))
    error = refusal(HEAD + anchors + uses)
    assert "too many values once aliases are expanded" in error.problem


def test_a_plain_alias_still_works() -> None:
    text = HEAD + "faults:\n  - kind: service-kill\n    schedule: &s {at: 2s, duration: 1s}\n"
    text += "  - kind: service-kill\n    schedule: *s\n"
    scenario = parse_scenario(text, "ok.yaml")
    assert [f.schedule.start for f in scenario.faults] == [2.0, 2.0]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("description: !!python/name:os.system x", "unsupported tag !!python/name:os.system"),
        ("description: !!python/object/apply:os.system [echo]", "unsupported tag"),
        ("description: !custom x", "unsupported tag !custom"),
        ("description: !!binary aGk=", "unsupported tag !!binary"),
        ("system: !!set {a: null}", "unsupported tag !!set"),
    ],
)
def test_tags_other_than_plain_values_are_refused(line: str, words: str) -> None:
    error = refusal(HEAD + line + "\n")
    assert error.line == 4
    assert words in error.problem


def test_a_value_that_contains_itself_is_refused() -> None:
    error = refusal(HEAD + "system: &loop {defects: [*loop]}\n")
    assert error.line == 4 and "contains it" in error.problem


def test_deep_nesting_is_refused() -> None:
    error = refusal(HEAD + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in error.problem


def test_a_number_too_long_to_read_is_refused_on_its_line() -> None:
    error = refusal(HEAD + "seed: " + "9" * 5000 + "\n")
    assert error.line == 4 and error.field == "seed"


def test_a_key_must_be_a_plain_name() -> None:
    error = refusal(HEAD + "? [a, b]\n: 1\n")
    assert "plain name" in error.problem


def test_invalid_utf8_names_the_file_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + "description: café\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        read_text(path)
    assert str(caught.value).startswith(f"{path}:4: not valid UTF-8 (byte {len(HEAD) + 16}")
    with pytest.raises(ScenarioError, match="not valid UTF-8"):
        load_scenario(str(path))


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + "description: |\n" + ("  x\n" * (MAX_BYTES // 4 + 1)), "utf-8")
    with pytest.raises(ScenarioError, match=f"over {MAX_BYTES:,} bytes"):
        load_scenario(str(path))
    with pytest.raises(ScenarioError, match="bytes; at most"):
        load_located(path.read_text("utf-8"), "huge.yaml")


def test_values_keep_their_lines_and_paths() -> None:
    root = load_located("a:\n  b:\n    - x\n    - {c: 1}\n", "f.yaml")
    element = root.mapping()["a"].mapping()["b"].sequence()[1]
    assert (element.line, element.path) == (4, "a.b[1]")
    assert element.mapping()["c"].plain() == 1
