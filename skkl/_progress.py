"""A minimal progress bar on stderr for long command-line jobs.

It draws only when the stream is a terminal, so logs, pipes and CI output stay
clean; skkl does not depend on tqdm.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar"]


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

    def __init__(self, total, desc="", *, file=None, enabled=None, min_interval=0.1):
        self.total = max(int(total), 1)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        if enabled is None:
            isatty = getattr(self.file, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
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
        self.file.write(f"\r{label}[{bar}] {pct:3d}% {self.n}/{self.total}")
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
