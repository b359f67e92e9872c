"""A progress line on stderr for long work: runs done/total, failures, runs per second, time left.

On a terminal the line is redrawn in place (at most a few times a second) by ``tqdm`` and a cost
estimate is printed once the first runs are in. When stderr is not a terminal (a log file, CI)
only the final line is written, so logs stay short: tqdm is then disabled and the final line is
written here. ``quiet=True`` writes nothing. The line's text (and its time left, at the average
rate so far) is built here, so it reads the same in a terminal and in a log.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


def duration(seconds: float) -> str:
    """Seconds as '45s', '3m05s' or '2h07m'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _Bar(tqdm):
    """tqdm drawing our text: no monitor thread (the engine forks worker processes)."""

    monitor_interval = 0


class Progress:
    """Progress of `total` units of work (runs), fed by `update(done, failed)`."""

    def __init__(self, total: int, *, quiet: bool = False, stream: TextIO | None = None,
                 workers: int = 1, unit: str = "runs", interval: float = 0.2,
                 tty: bool | None = None):
        self.total = total
        self.unit = unit
        self.workers = workers
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = (self.stream.isatty() if hasattr(self.stream, "isatty") else False) \
            if tty is None else tty
        self.interval = interval
        self.start = time.perf_counter()
        self.done = 0
        self.failed = 0
        self._last_draw = 0.0
        self._estimated = False
        self._closed = False
        # bar_format "{desc}": tqdm draws (pads, trims to the terminal width, clears for
        # messages) the line built by `line()`; it is not created at all when not drawing live
        self._bar = _Bar(total=total, file=self.stream, bar_format="{desc}", mininterval=0,
                         miniters=0, leave=True, dynamic_ncols=True) if self.live else None

    @property
    def live(self) -> bool:
        """Whether in-place updates are drawn."""
        return self.tty and not self.quiet

    def rate(self) -> float:
        """Units per second so far (0 before the first one)."""
        elapsed = time.perf_counter() - self.start
        return self.done / elapsed if elapsed > 0 and self.done else 0.0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.rate()
        pct = 100.0 * self.done / self.total if self.total else 100.0
        text = f"{self.done}/{self.total} {self.unit} ({pct:.0f}%)"
        if self.failed:
            text += f", {self.failed} failed"
        if rate:
            text += f", {rate:.1f}/s" if rate >= 1 else f", {1 / rate:.1f}s each"
            if self.done < self.total:
                text += f", {duration((self.total - self.done) / rate)} left"
        return text + f", {duration(elapsed)} elapsed"

    def update(self, done: int, failed: int = 0) -> None:
        self.done, self.failed = done, failed
        if self._bar is None:
            return
        now = time.perf_counter()
        if not self._estimated and self._ready_to_estimate(now):
            self._estimated = True
            self._bar.write(self.estimate(), file=self.stream)
        if now - self._last_draw >= self.interval or done == self.total:
            self._last_draw = now
            self._draw(self.line())

    def _draw(self, text: str) -> None:
        self._bar.set_description_str(text, refresh=False)
        self._bar.n = self.done
        self._bar.refresh()

    def _ready_to_estimate(self, now: float) -> bool:
        # after a round of work on every worker, or 10 s, whichever comes first
        return self.done >= min(self.total, max(3, self.workers)) or (
            self.done > 0 and now - self.start > 10)

    def estimate(self) -> str:
        """The cost estimate: time per run and for the whole set at the current rate."""
        rate = self.rate()
        if not rate:
            return "estimate: not enough runs yet"
        total = self.total / rate
        return (f"estimate: {duration(self.workers / rate)} per run per worker, about "
                f"{duration(total)} for all {self.total} {self.unit} on {self.workers} "
                f"worker{'s' if self.workers != 1 else ''}")

    def close(self, note: str = "") -> None:
        """The final line (also when stderr is not a terminal); nothing when quiet."""
        if self._closed:
            return
        self._closed = True
        if self.quiet or (self.total == 0 and not note):
            if self._bar is not None:
                self._bar.leave = False
                self._bar.close()
            return
        text = self.line() + (f"; {note}" if note else "")
        if self._bar is not None:
            self._draw(text)
            self._bar.close()          # leave=True: the line stays, followed by a newline
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A one-off line (resume notice, warnings) that does not break the progress line."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)     # clears the line, writes, redraws
        else:
            self.stream.write(text + "\n")
            self.stream.flush()
