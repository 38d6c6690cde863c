"""Piping a command's output into a reader that stops early (``| head -3``) ends quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [["scenarios"], ["--help"], ["run", "--help"]])
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "ackguard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the first line is written
    with child.stderr:
        errors = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
