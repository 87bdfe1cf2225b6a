"""A bound on large renders at once (issue #37): several users asking for 2048² canvases at the same
moment must not take the machine's memory.

A canvas render over LARGE_PIXELS pixels needs hundreds of MB while it runs (a 1024² canvas of
textures64 peaks ~500 MB above the idle process, measured 2026-12-07; larger ones paint in strips
and peak about as high). `LARGE` lets `slots` of them run at once and `waiting` more wait for a
slot (up to `wait_s` seconds each); a request beyond those is refused at once with a message that
says why and what to do (BusyError, which the studio shows as it shows any of our errors).

After every canvas render the freed memory goes back to the system (machine.give_back_freed_memory):
app.py keeps freed blocks in malloc's arenas for speed (machine.keep_freed_memory), and without the
trim each handler thread's arena would keep its own large render's peak for good (measured: a
768² render left +270 MB resident per thread that painted one; malloc_trim gave back ~290 MB).
"""
from __future__ import annotations

import contextlib
import threading

from ..errors import BusyError
from ..machine import give_back_freed_memory

LARGE_PIXELS = 512 * 512      # renders over this many pixels go through the gate


class RenderGate:
    def __init__(self, slots: int = 1, waiting: int = 1, wait_s: float = 300.0, large: int = LARGE_PIXELS):
        self.slots, self.waiting, self.wait_s, self.large = slots, waiting, wait_s, large
        self._cond = threading.Condition()
        self._running = 0
        self._queued = 0
        self.refused = 0          # requests refused since start (for the reliability runs)

    def busy(self) -> tuple[int, int]:
        """(running, waiting) large renders now."""
        with self._cond:
            return self._running, self._queued

    def _message(self, width: int, height: int, why: str) -> str:
        side = int(self.large ** 0.5)
        return (f"the server is busy painting other large canvases ({why}): a {width} x {height} canvas "
                f"is refused for now. Try again in a minute, or paint at most {side} x {side} meanwhile "
                "(those never wait here).")

    @contextlib.contextmanager
    def hold(self, width: int, height: int):
        """A slot for a width x height render: at once for small ones; for a large one, a free
        slot, else a place among the waiting (BusyError when none is left or the wait times out)."""
        if width * height <= self.large:
            try:
                yield
            finally:           # a canvas and its material set leave tens of MB free in a thread's arena
                give_back_freed_memory()
            return
        with self._cond:
            if self._running >= self.slots:
                if self._queued >= self.waiting:
                    self.refused += 1
                    raise BusyError(self._message(width, height, f"{self._running} painting, "
                                                                 f"{self._queued} waiting"))
                self._queued += 1
                try:
                    ok = self._cond.wait_for(lambda: self._running < self.slots, timeout=self.wait_s)
                finally:
                    self._queued -= 1
                if not ok:
                    self.refused += 1
                    raise BusyError(self._message(width, height, f"waited {self.wait_s:.0f} s for a slot"))
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify()
            give_back_freed_memory()


LARGE = RenderGate()
