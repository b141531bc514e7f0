"""A progress bar on stderr for long simulations and drills; silent when stderr is not a terminal.

```python
with Progress("drill") as bar:
    for i, item in enumerate(items, 1):
        run(item)
        bar.update(i, len(items))
```
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Draws ``label [#####.....]  45%`` on one line, redrawn at most every ``interval`` seconds.

    Args:
        label: the word in front of the bar.
        stream: where to draw (default ``sys.stderr``); nothing is drawn unless it is a terminal.
        unit: ``"count"`` shows ``done/total``, ``"time"`` shows simulated hours.
        width: the bar's width in characters.
        interval: the least time between redraws, in seconds.
        enabled: force drawing on or off (default: whether ``stream`` is a terminal).
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        unit: str = "count",
        width: int = 30,
        interval: float = 0.1,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.width = width
        self.interval = interval
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled if enabled is not None else bool(isatty and isatty())
        self._last = 0.0
        self._drawn = False

    def update(self, done: float, total: float) -> None:
        """Show ``done`` out of ``total``; cheap when called often (draws at most every ``interval``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.interval and done < total:
            return
        self._last = now
        fraction = 0.0 if total <= 0 else max(0.0, min(1.0, done / total))
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        amount = f"{done / 3600:.1f} h / {total / 3600:.1f} h" if self.unit == "time" else f"{int(done)}/{int(total)}"
        self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%}  {amount}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the line, so the output that follows starts clean."""
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * (len(self.label) + self.width + 40) + "\r")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
