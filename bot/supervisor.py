"""Keeps ``fraudbot serve``'s processes running: a child that dies is started again, with backoff.

One request once made Rasa's SQL tracker store call ``sys.exit(1)``; the rest of the bot went
down with it and nothing brought it back. Here every child (Rasa, the action server, the
alerts worker, the admin, the alerts API) is watched; when one exits it is restarted after
1 s, then 2, 4 … up to 60 s while it keeps failing, and the delay starts again from 1 s once a
child has stayed up for a while. Each restart is reported through :mod:`bot.health`, so it is
logged at ERROR with the ``FRAUDBOT_DEGRADED`` marker that monitoring alerts on, and
``FRAUDBOT_RECOVERED`` once the child has stayed up. Stopping (SIGTERM, Ctrl-C) restarts
nothing: every child is terminated, and killed if it does not stop in time.

The clock and the sleeper are injected so that the backoff is tested without waiting.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from bot import health

logger = logging.getLogger(__name__)


class Process(Protocol):
    """What the supervisor needs of a child (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: ``first`` doubling up to ``ceiling``; reset after ``stable`` seconds up."""

    first: float = 1.0
    ceiling: float = 60.0
    stable: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait before restart number ``failures`` (1 for the first failure in a row)."""
        return min(self.ceiling, self.first * 2 ** max(0, failures - 1))


@dataclass
class Child:
    """One supervised program: how to start it and what happened to it so far."""

    name: str
    start: Callable[[], Process]
    final: bool = False  # its exit ends the whole service (the terminal chat), instead of a restart
    process: Process | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row without staying up ``stable`` seconds
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Starts children, restarts those that exit, stops them all on :meth:`stop`."""

    def __init__(self, children: list[Child], backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] | None = None,
                 poll_interval: float = 0.5, stop_timeout: float = 20.0) -> None:
        self.children = children
        self.backoff = backoff or Backoff()
        self.clock = clock
        self._stopping = threading.Event()
        # waiting on the stop event means a stop request ends the wait at once
        self.sleep = sleep or self._stopping.wait
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self.exit_code = 0

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.process = child.start()
        child.started_at = self.clock()
        child.restart_at = None
        logger.info("started %s (pid %s)", child.name, child.process.pid)

    def check(self) -> None:
        """One round: notice exits, schedule restarts, restart what is due, clear recovered children."""
        now = self.clock()
        for child in self.children:
            if self.stopping:
                return
            if child.process is None:
                if child.restart_at is not None and now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                if child.failures and now - child.started_at >= self.backoff.stable:
                    child.failures = 0
                    health.recovered(f"process:{child.name}")
                continue
            self._exited(child, code, now)

    def _exited(self, child: Child, code: int, now: float) -> None:
        child.process = None
        if child.final:
            logger.info("%s exited with %s; stopping the others", child.name, code)
            self.exit_code = code
            self._stopping.set()
            return
        if now - child.started_at >= self.backoff.stable:
            child.failures = 0
        child.failures += 1
        delay = self.backoff.delay(child.failures)
        child.restart_at = now + delay
        health.degraded(f"process:{child.name}",
                        f"exited with code {code}; restart #{child.restarts + 1} in {delay:g} s")

    def run(self) -> int:
        """Start everything and supervise until :meth:`stop` (or a ``final`` child exits); then stop all."""
        try:
            self.start_all()
            while not self.stopping:
                self.check()
                if not self.stopping:
                    self.sleep(self.poll_interval)
        finally:
            self.stop()
            self.shutdown()
        return self.exit_code

    def stop(self, *_: object) -> None:
        """Ask :meth:`run` to end; usable as a signal handler."""
        self._stopping.set()

    def shutdown(self) -> None:
        """Terminate every running child; kill those still running after ``stop_timeout`` seconds."""
        running = [child.process for child in self.children if child.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        for process in running:
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in self.children:
            child.process = None
