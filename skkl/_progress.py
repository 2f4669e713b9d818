"""A minimal progress bar on stderr for long command-line jobs.

It draws only when the stream is a terminal, so logs, pipes and CI output stay
clean; skkl does not depend on tqdm.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["Elapsed", "ProgressBar"]


def _isatty(file) -> bool:
    isatty = getattr(file, "isatty", None)
    return bool(isatty and isatty())


class ProgressBar:
    """Count ``total`` units of work on one self-overwriting stderr line.

    Parameters
    ----------
    total : int
        Units of work expected (rows of a matrix, for instance).
    desc : str, default=""
        Label printed before the bar.
    file : text stream, default=None
        Where to draw; ``sys.stderr`` when None.
    enabled : bool, default=None
        Force the bar on or off; by default it is on only when ``file`` is a
        terminal.
    min_interval : float, default=0.1
        Seconds between redraws, so a fast loop does not flood the terminal.
    unit : {'items', 'bytes'}, default='items'
        'bytes' shows the counts in MB.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with ProgressBar(4, "rows", file=out, enabled=True, min_interval=0) as bar:
    ...     bar.update(2)
    ...     bar.update(2)
    >>> out.getvalue().rstrip().endswith("4/4")
    True
    >>> ProgressBar(4, file=io.StringIO()).enabled  # not a terminal: silent
    False
    """

    width = 30

    def __init__(
        self,
        total,
        desc="",
        *,
        file=None,
        enabled=None,
        min_interval=0.1,
        unit="items",
    ):
        self.total = max(int(total), 1)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.enabled = _isatty(self.file) if enabled is None else enabled
        self.unit = unit
        self.min_interval = min_interval
        self.n = 0
        self._drawn = None  # count shown by the last draw
        self._last_draw = float("-inf")

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units done and redraw if enough time has passed."""
        self.n = min(self.n + int(n), self.total)
        now = time.monotonic()
        if self.n == self.total or now - self._last_draw >= self.min_interval:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = self.width * self.n // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        label = f"{self.desc} " if self.desc else ""
        pct = 100 * self.n // self.total
        if self.unit == "bytes":
            count = f"{self.n / 1e6:.0f}/{self.total / 1e6:.0f} MB"
        else:
            count = f"{self.n}/{self.total}"
        self.file.write(f"\r{label}[{bar}] {pct:3d}% {count}")
        self.file.flush()
        self._drawn = self.n

    def close(self) -> None:
        """Finish the line so later output starts on a fresh one."""
        if self.enabled:
            if self._drawn != self.n:
                self._draw()
            self.file.write("\n")
            self.file.flush()
            self.enabled = False

    def __enter__(self) -> ProgressBar:
        self._draw()  # show 0% at once: the first block may take a while
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Elapsed:
    """Show ``desc`` and the seconds elapsed on stderr while a block runs.

    For work that reports no progress of its own: a background thread
    redraws the line every ``interval`` seconds, only on a terminal.

    Parameters
    ----------
    desc : str
        What is running.
    file : text stream, default=None
        Where to draw; ``sys.stderr`` when None.
    enabled : bool, default=None
        Force on or off; by default on only when ``file`` is a terminal.
    interval : float, default=0.2
        Seconds between redraws.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Elapsed("testing", file=out, enabled=True):
    ...     pass
    >>> out.getvalue().split("\\r")[-1].startswith("testing ... 0.0 s done")
    True
    >>> with Elapsed("testing", file=io.StringIO()) as e:  # not a terminal
    ...     e.enabled
    False
    """

    def __init__(self, desc, *, file=None, enabled=None, interval=0.2):
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.enabled = _isatty(self.file) if enabled is None else enabled
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None
        self._start = 0.0

    def _draw(self, end: str = "") -> None:
        seconds = time.monotonic() - self._start
        self.file.write(f"\r{self.desc} ... {seconds:.1f} s{end}")
        self.file.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def __enter__(self) -> Elapsed:
        self._start = time.monotonic()
        if self.enabled:
            self._draw()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._draw(" done\n" if exc_type is None else " stopped\n")
