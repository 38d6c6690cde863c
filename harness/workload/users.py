"""The Locust users that drive practitioners.

Imported only by :meth:`Workload.user_classes`, after Locust (and with it gevent's monkey
patching) is loaded by the caller. Practitioners are split into groups, one per Locust user; a
user claims a group when it starts, drives its practitioners in the order of their simulated
agenda, and gives the group back when it stops, so the Locust web UI can stop and restart the
load and each practitioner continues its agenda where it was.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime

import gevent
from locust import FastHttpUser, task

from ackguard.harness.history_read import paused_gc
from ackguard.harness.workload.practitioner import PractitionerGroup
from ackguard.harness.workload.target import TargetContext, TargetFactory

__all__ = ["UserPool", "build_user_class"]

IDLE_USER_SLEEP_S = 1.0


class UserPool:
    """The groups not driven by a user right now (thread- and greenlet-safe)."""

    def __init__(
        self, groups: list[PractitionerGroup], target_factory: TargetFactory, timeout_s: float
    ) -> None:
        self._free = list(reversed(groups))
        self._lock = threading.Lock()
        self.target_factory = target_factory
        self.timeout_s = timeout_s

    def claim(self) -> PractitionerGroup | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def release(self, group: PractitionerGroup) -> None:
        with self._lock:
            self._free.append(group)


class _Driver:
    """Runs one group: the practitioner whose next action comes first acts next."""

    def __init__(self, group: PractitionerGroup) -> None:
        self.group = group
        self._queue: list[tuple[datetime, int]] = []
        with paused_gc():  # each agenda's first slot: long-lived objects, no garbage
            for index in range(len(group.agents)):
                if index in group.lives:
                    heapq.heappush(self._queue, (group.next_at[index], index))
                else:
                    self._begin(index)

    def _begin(self, index: int) -> None:
        """A fresh agenda generator for one practitioner; it continues with its next slot."""
        life = self.group.agents[index].life()
        when = next(life, None)  # life() yields before its first operation
        if when is None:
            self.group.ended.add(index)
            return
        self.group.lives[index] = life
        self.group.next_at[index] = when
        heapq.heappush(self._queue, (when, index))

    def delay(self) -> float:
        """Real seconds until the next action is due (Locust's wait between tasks)."""
        if not self._queue:
            return IDLE_USER_SLEEP_S
        return self.group.clock.real_delay(self._queue[0][0])

    def step(self) -> None:
        """The next action of the practitioner who acts first. Locust has normally waited
        :meth:`delay` already; what remains (the first task runs without a wait) is slept here."""
        if not self._queue:
            return
        when, index = self._queue[0]
        clock = self.group.clock
        gevent.sleep(clock.real_delay(when))
        clock.advance_to(when)
        heapq.heappop(self._queue)
        # Taken out while it acts: if the user is stopped mid-action (GreenletExit) the group
        # forgets this generator and the next user restarts the agenda at its next slot.
        life = self.group.lives.pop(index)
        del self.group.next_at[index]
        try:
            upcoming = life.send(None)
        except StopIteration:
            self.group.ended.add(index)
            return
        except Exception:
            self._begin(index)  # a bug in one action must not stop the practitioner; Locust logs it
            raise
        self.group.lives[index] = life
        self.group.next_at[index] = upcoming
        heapq.heappush(self._queue, (upcoming, index))


def build_user_class(pool: UserPool, host: str) -> type[FastHttpUser]:
    class PractitionerUser(FastHttpUser):
        """Drives a group of synthetic practitioners (see harness.workload)."""

        # Between tasks Locust waits for the simulated clock (and kills a waiting user at once
        # when the load stops; an action in flight completes if the environment's stop_timeout
        # allows, otherwise it is recorded as interrupted: info).
        def wait_time(self) -> float:
            return self._driver.delay() if self._driver is not None else IDLE_USER_SLEEP_S

        network_timeout = pool.timeout_s
        connection_timeout = pool.timeout_s
        max_retries = 0

        _driver: _Driver | None = None

        def on_start(self) -> None:
            self._practice_group = pool.claim()
            self._driver = None
            if self._practice_group is not None:
                target = pool.target_factory(
                    TargetContext(self.host or host, pool.timeout_s, self.client)
                )
                for agent in self._practice_group.agents:
                    agent.target = target
                self._driver = _Driver(self._practice_group)

        def on_stop(self) -> None:
            if self._practice_group is not None:
                pool.release(self._practice_group)
                self._practice_group = None

        @task
        def practise(self) -> None:
            if self._driver is not None:  # None: more users than groups, nothing to drive
                self._driver.step()

    PractitionerUser.host = host
    return PractitionerUser
