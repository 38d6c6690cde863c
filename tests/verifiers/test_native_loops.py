"""The C loops of the verifiers against their Python loops, which are the reference: the same
index, record by record and slot by slot, and the same split files, byte for byte, for any
history (damaged lines, system ops, misreads, values that do not fit the types)."""

from __future__ import annotations

import filecmp
import json
import os
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackguard.harness.final_read import FinalRead
from ackguard.harness.history import HistoryReading
from ackguard.harness.verifiers import c_build, history_split, index
from ackguard.harness.verifiers.history_split import line_ranges, split_range
from ackguard.harness.verifiers.index import HistoryIndex, Part, build_index_from_file
from tests.verifiers.test_fast_verdict import _final_read, _history, _lines, _operation_of
from tests.verifiers.test_index_parts import _SCALARS, _small_blocks, _state  # noqa: F401
from tests.verifiers.test_reader_agree import _histories, _scratch, _write

pytestmark = pytest.mark.unit

# Mostly acknowledged creates and listings, in the shape of test_fast_verdict's operations: a
# complete listing by practitioner (and patient) that misses a record known before it began is
# the absence the list step must see, and the other strategies make one rarely.
_listing = _operation_of(
    ("create", "create", "list", "list", "read", "update"),
    ("ok", "ok", "ok", "ok", "fail", "info"),
    listed=2,
)
_listings = st.tuples(
    st.lists(_listing, min_size=4, max_size=30).map(_lines), st.just([]), st.just(None)
)
_PARTS: list[Part | None] = [None, (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]


@pytest.fixture(autouse=True)
def _c_loops_after() -> Iterator[None]:
    """The C loops on again after each test, which turns them off and on (and _small_blocks,
    imported: blocks of a few lines, one history read partly typed, partly line by line)."""
    yield
    index.native_loop.on = True


def test_the_c_loops_are_built() -> None:
    """An install on a machine with a C compiler builds both (else the verifiers run the
    Python loops: the same verdicts, slower): a build that fails must not pass unseen."""
    assert index._typed_loop is not None, "reinstall with a C compiler and Python's headers"
    assert history_split._split_loop is not None
    assert index.native_loop.on


def _built(path: Path, final_read: FinalRead | None, part: Part | None, native: bool) -> Any:
    """The index, or the type of the error building it raised."""
    index.native_loop.on = native
    finals = () if final_read is None else final_read.records
    try:
        return build_index_from_file(path, HistoryReading(), finals, part=part)
    except Exception as exc:  # an unhashable process: both loops must refuse it alike
        return type(exc)


def _assert_same(c_loop: HistoryIndex, python: HistoryIndex) -> None:
    assert list(c_loop.records) == list(python.records)
    for key, record in python.records.items():
        assert _state(c_loop.records[key]) == _state(record), key
    for name in _SCALARS:
        assert getattr(c_loop, name) == getattr(python, name), name
    assert c_loop.op_tally == python.op_tally
    assert c_loop.operation_counts() == python.operation_counts()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_history, _histories, _listings), _final_read)
def test_the_c_loop_builds_the_index_the_python_loop_builds(
    history: tuple[list[Any], list[tuple[int, bytes]], Any], final_read: FinalRead | None
) -> None:
    path = _write(*history)
    for part in _PARTS:
        c_loop = _built(path, final_read, part, native=True)
        python = _built(path, final_read, part, native=False)
        if isinstance(python, type):
            assert c_loop is python
        else:
            _assert_same(c_loop, python)


def _split(path: Path, native: bool) -> Path:
    index.native_loop.on = native
    directory = Path(tempfile.mkdtemp(prefix="split-", dir=_scratch()))
    for number, (start, stop) in enumerate(line_ranges(path, 2)):
        try:
            split_range(path, 3, directory, number, start, stop)
        except TypeError:  # an unhashable process: both loops must refuse it alike
            (directory / f"refused-{number}").touch()
    return directory


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_history, _histories))
def test_the_c_loop_splits_the_history_as_the_python_loop_does(
    history: tuple[list[Any], list[tuple[int, bytes]], Any],
) -> None:
    path = _write(*history)
    c_loop, python = _split(path, native=True), _split(path, native=False)
    names = sorted(p.name for p in python.iterdir())
    assert sorted(p.name for p in c_loop.iterdir()) == names
    for name in names:
        assert filecmp.cmp(c_loop / name, python / name, shallow=False), name


_key_ops = st.lists(
    st.tuples(
        st.integers(0, 3), st.sampled_from(("invoke", "ok")), st.text(min_size=1, max_size=6)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_key_ops)
def test_keys_of_any_text_fall_in_the_same_part_both_ways(ops: list[tuple[int, str, str]]) -> None:
    """The C loops compute a key's part themselves (a CRC-32 of its UTF-8 text): for keys of
    any text, escaped in JSON, lone surrogates included (which part_of encodes with
    surrogatepass), records and split files are the Python loops'."""
    path = Path(tempfile.mkdtemp(prefix="keys-", dir=_scratch())) / "history.jsonl"
    lines = [
        json.dumps(
            {
                "index": n,
                "time": n,
                "process": process,
                "type": kind,
                "f": "read",
                "key": key,
                "value": {"id": "1"} if kind == "invoke" else {"found": False},
                "error": None,
            }
        )
        for n, (process, kind, key) in enumerate(ops)
    ]
    path.write_text("\n".join(lines) + "\n")
    for part in _PARTS:
        c_loop, python = _built(path, None, part, native=True), _built(path, None, part, False)
        assert not isinstance(python, type)
        _assert_same(c_loop, python)
    c_split, python_split = _split(path, native=True), _split(path, native=False)
    for name in sorted(p.name for p in python_split.iterdir()):
        assert filecmp.cmp(c_split / name, python_split / name, shallow=False), name


def test_a_build_older_than_its_sources_is_not_used(tmp_path: Path) -> None:
    """A checkout whose C sources changed after the build (a pull without an install) runs the
    Python loops, and the warning says which files and how to rebuild."""
    built = tmp_path / "_typed_loop.cpython-311-x86_64-linux-gnu.so"
    built.write_bytes(b"")
    source = tmp_path / "_typed_steps.c"
    source.write_text("")
    os.utime(built, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    module = types.ModuleType("_typed_loop")
    module.__file__ = str(built)
    with pytest.warns(RuntimeWarning, match=r"older than _typed_steps\.c.*install ackguard again"):
        assert not c_build.usable(module)
    os.utime(built, (3_000, 3_000))
    assert c_build.usable(module)  # newer than its sources: no warning (warnings are errors)
    assert not c_build.usable(None)
