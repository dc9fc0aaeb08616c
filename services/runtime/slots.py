"""A bounded number of running jobs plus a bounded FIFO queue of waiting ones."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Callable

from cryopick.errors import ResourceError


class JobSlots:
    """At most ``max_running`` jobs run; at most ``max_queued`` wait (first come, first served).

    Parameters
    ----------
    max_running : int
        Concurrent jobs (>= 1).
    max_queued : int
        Jobs allowed to wait for a slot (>= 0); beyond that :meth:`enter` raises ResourceError.
    """

    def __init__(self, max_running: int = 1, max_queued: int = 8):
        if max_running < 1 or max_queued < 0:
            raise ValueError("max_running must be >= 1 and max_queued >= 0")
        self.max_running = max_running
        self.max_queued = max_queued
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: deque[int] = deque()
        self._tickets = itertools.count()

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def enter(self) -> int | None:
        """Take a free slot (returns None) or join the queue (returns a ticket for :meth:`wait`).

        Raises
        ------
        ResourceError
            The queue is full.
        """
        with self._cond:
            if self._running < self.max_running and not self._waiting:
                self._running += 1
                return None
            if len(self._waiting) >= self.max_queued:
                raise ResourceError(
                    f"job queue full: {self._running} job(s) running and {len(self._waiting)} waiting "
                    f"(--max-concurrent-jobs {self.max_running}, --max-queued-jobs {self.max_queued}); try again later"
                )
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            return ticket

    def wait(self, ticket: int, stop: Callable[[], bool], poll_seconds: float = 0.1) -> bool:
        """Wait until ``ticket`` gets a slot (True) or ``stop()`` turns true (False, ticket dropped)."""
        with self._cond:
            while True:
                if self._waiting and self._waiting[0] == ticket and self._running < self.max_running:
                    self._waiting.popleft()
                    self._running += 1
                    self._cond.notify_all()
                    return True
                if ticket not in self._waiting:  # dropped (the RPC ended while queued)
                    return False
                if stop():
                    self._waiting.remove(ticket)
                    self._cond.notify_all()
                    return False
                self._cond.wait(poll_seconds)

    def drop(self, ticket: int) -> None:
        """Take ``ticket`` out of the queue if it is still waiting (no-op once it has a slot)."""
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def leave(self) -> None:
        """Give a slot back."""
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job runs or waits; True if that happened within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._running == 0 and not self._waiting, timeout)
