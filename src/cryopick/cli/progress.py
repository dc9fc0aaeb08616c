"""A tiny text progress bar for the CLI (tqdm costs start-up time we do not need)."""

from __future__ import annotations

import sys
import time

from cryopick.stages.base import Progress


class ProgressBar:
    """Callable progress reporter drawing ``[#####.....] 5/10 item`` on stderr."""

    def __init__(self, label: str, width: int = 30, stream=None):
        self.label, self.width = label, width
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, p: Progress) -> None:
        filled = int(round(p.fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label} [{bar}] {100 * p.fraction:5.1f}% {time.monotonic() - self.start:6.1f}s {p.item}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
            if p.fraction >= 1:
                self.stream.write("\n")
        elif p.message.startswith("FAILED") or p.fraction >= 1:
            self.stream.write(line + "\n")
        self.stream.flush()
