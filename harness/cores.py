"""The CPUs this process may use, for the work that splits itself over them (the verification's
parts, the report's history scan)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["usable_cores"]

_CGROUP_QUOTA = Path("/sys/fs/cgroup/cpu.max")


def usable_cores() -> int:
    """Its CPU affinity, within a container's CPU quota (cgroup v2, where the affinity names
    every CPU of the host); at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    try:
        quota, period = _CGROUP_QUOTA.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            count = min(count, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota
    return max(1, count)
