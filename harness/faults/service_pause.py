"""Fault kind ``service-pause``: the consultation service process group is frozen with SIGSTOP
and continued with SIGCONT at heal. Clients time out while requests sit in its socket backlog;
after the pause those requests may still be served, which is why timeouts are indeterminate."""

from __future__ import annotations

from ackguard.harness.faults.pause import pause_kind

__all__ = ["KIND"]

KIND = pause_kind(
    component="service",
    name="service-pause",
    summary="freeze the consultation service (SIGSTOP) until heal (SIGCONT); no params",
    description="consultation service frozen (SIGSTOP to its process group) until heal (SIGCONT)",
)
