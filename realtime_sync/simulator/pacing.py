"""Paced work on the simulator's loop: generators stepped by timers, never a sleeping thread.

A paced job (a response streaming, a recording replaying) is a generator. It
runs until it must wait, then yields what it waits for:

* a float: the loop time (``time.monotonic()``) when it is due again;
* ``None``: it gives the loop a turn and goes on at once (a long unpaced
  stream lets the other sessions in);
* an ``asyncio.Future``: it goes on once the future is done, and gets the
  future back from its ``yield`` (user code run off the loop, room in the
  connection's queue).

A :class:`Stepper` drives one job at a time with ``loop.call_at`` timers:
hundreds of sessions pace their streams on one thread at the cost of a
timer each. :meth:`Stepper.interrupt` (any thread) ends a timed wait at once,
so a cancel or a close is seen by the job within one step.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Generator, Optional

from .runtime import Runtime

__all__ = ["Job", "Stepper"]

logger = logging.getLogger(__name__)

#: A paced job: yields a due time, None or a future (see the module doc); its return value is ignored.
Job = Generator[Any, Any, Any]


class Stepper:
    """Steps one paced job at a time on the loop thread.

    Args:
        runtime: the simulator's loop.
        done: called on the loop thread when the job has ended (returned or
            raised: the exception, or None).
    """

    def __init__(self, runtime: Runtime, done: Callable[[Optional[BaseException]], None]) -> None:
        self.runtime = runtime
        self._done = done
        self._job: Optional[Job] = None
        self._timer: Optional[asyncio.Handle] = None
        self._waiting = False  # a future: the job goes on when it is done, not earlier

    @property
    def busy(self) -> bool:
        """A job is running (loop thread)."""
        return self._job is not None

    def run(self, job: Job) -> None:
        """Start ``job`` (loop thread; none may be running)."""
        assert self._job is None
        self._job = job
        self._step(None)

    def interrupt(self) -> None:
        """End the job's timed wait now (any thread): it is stepped on the loop at once."""
        self.runtime.soon(self._interrupt)

    def _interrupt(self) -> None:
        timer = self._timer
        if timer is not None and not self._waiting:
            timer.cancel()
            self._timer = None
            self._step(None)

    def stop(self) -> None:
        """Drop the job without stepping it again (loop thread)."""
        job, self._job = self._job, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if job is not None:
            job.close()

    def _resume(self, value: Any) -> None:
        self._timer = None
        self._waiting = False
        if self._job is not None:
            self._step(value)

    def _resume_job(self, job: Job, future: Any) -> None:
        if self._job is job:  # not a job stopped while it waited
            self._resume(future)

    def _step(self, value: Any) -> None:
        job = self._job
        assert job is not None
        try:
            wanted = job.send(value)
        except StopIteration:
            self._end(None)
            return
        except Exception as exc:  # handed to done()
            self._end(exc)
            return
        loop = self.runtime.loop
        assert loop is not None
        if wanted is None:
            self._timer = loop.call_soon(self._resume, None)
        elif isinstance(wanted, float):
            self._timer = loop.call_at(wanted, self._resume, None)
        else:
            self._waiting = True
            self._timer = None
            wanted.add_done_callback(lambda future: self._resume_job(job, future))

    def _end(self, error: Optional[BaseException]) -> None:
        self._job = None
        self._timer = None
        self._waiting = False
        self._done(error)
