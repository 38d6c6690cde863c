"""The workload package's public names, and importing it patches nothing."""

from __future__ import annotations

import subprocess
import sys

from ackguard.harness import workload as harness_workload


def test_public_names_are_exported() -> None:
    assert sorted(harness_workload.__all__) == sorted(set(harness_workload.__all__))
    for name in harness_workload.__all__:
        assert hasattr(harness_workload, name), name
    for name in ("Workload", "WorkloadConfig", "HttpTarget", "Target", "TargetAnswer", "in_cohort"):
        assert name in harness_workload.__all__


def test_importing_the_package_does_not_import_locust_or_gevent() -> None:
    code = (
        "import sys, ackguard.harness.workload; "
        "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
