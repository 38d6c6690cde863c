"""The live parts of one run, started around its load phase: the live verifier (unless the
scenario says ``live: false``) and the stop conditions (``stop_when``).

:func:`start_live` is called by the orchestrator just before the load, whichever drives it
(``ackguard run`` or ``ackguard web``); :meth:`LiveSession.stop` after it, before the faults
are healed and the final read begins. A stop condition sets ``prepared.stop_reason``, which the
load phases watch. With ``workers``, both also follow the workers' history shards
(:class:`~harness.live.feed.ShardFeed`): the practitioners' ops are there, not in the harness's
history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ackguard.harness.live.feed import ShardFeed
from ackguard.harness.live.stop import StopWatch
from ackguard.harness.live.verifier import LiveVerifier
from ackguard.harness.workload.recorder import OpRecorder
from ackguard.harness.workload.target import TargetContext

if TYPE_CHECKING:
    from ackguard.harness.run import Prepared

__all__ = ["LiveSession", "start_live"]


@dataclass
class LiveSession:
    verifier: LiveVerifier | None
    watch: StopWatch | None
    stopped_by: dict[str, Any] | None = None
    """``reason``, ``time_s`` (history time) and ``after_s`` (of load) once a condition fired."""
    feed: ShardFeed | None = None

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        if self.verifier is not None:
            self.verifier.stop()
        if self.feed is not None:
            self.feed.stop()


def _load_began(at_ns: int, load_started: list[int], watch: StopWatch | None) -> None:
    load_started[0] = at_ns
    if watch is not None:
        watch.load_started_ns = at_ns


def start_live(prepared: Prepared, say: Callable[[str], None], *, workers: int = 0) -> LiveSession:
    """Start what the scenario asks for; the load starts right after (on ``workers`` Locust
    workers, if any)."""
    scenario = prepared.scenario
    history = prepared.history
    session = LiveSession(None, None)
    feed = None
    if workers and (scenario.live is not None or scenario.stop_when is not None):
        feed = ShardFeed(prepared.stack.run_dir, workers)
    load_started = [history.now()]

    def fire(reason: str, at_ns: int) -> None:
        session.stopped_by = {
            "reason": reason,
            "time_s": round(at_ns / 1e9, 3),
            "after_s": round(max(0, at_ns - load_started[0]) / 1e9, 3),
        }
        prepared.stop_reason = reason
        say(f"stopping: {reason}")

    verifier: LiveVerifier | None = None
    if scenario.live is not None:
        workload = prepared.workload
        recorder: OpRecorder = workload._recorder  # one process counter for the whole workload
        assert prepared.stack.practitioner_url is not None
        context = TargetContext(prepared.stack.practitioner_url, workload.config.request_timeout_s)
        verifier = LiveVerifier(
            history,
            recorder,
            workload.target_factory(context),
            scenario.live.reads_per_second,
            confirm_after_s=scenario.live.confirm_after,
            sweep_reads_per_second=scenario.live.sweep_reads_per_second,
            found=prepared.live_damage,
            say=say,
            caught_up=feed.caught_up if feed is not None else lambda _time_ns: True,
        )
    watch: StopWatch | None = None
    if scenario.stop_when is not None:
        watch = StopWatch(
            scenario.stop_when,
            history,
            fire,
            load_started_ns=load_started[0],
            ignored=verifier.processes if verifier is not None else (),
        )
        if verifier is not None:
            verifier.on_damage = watch.damage
        watch.start()
        if feed is not None and watch.follows_ops:
            feed.listen(watch.observe)
    if verifier is not None:
        verifier.start()
        if feed is not None:
            feed.listen(verifier.observe)
    if feed is not None:
        feed.start()
        # The workers' load begins once they joined and built their practitioners: "after N s
        # of load" counts from their first op, as run.json's load_started_at does.
        feed.listen_first(lambda op: _load_began(op.time, load_started, watch))
    session.verifier, session.watch, session.feed = verifier, watch, feed
    return session
