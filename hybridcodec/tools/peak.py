"""Peak memory of a process, the one way the benchmarks measure it
(``bench-large``, ``bench-decode``): each case runs in a fresh process,
which reports its own peak.

The peak is VmHWM of /proc/self/status, read in the process itself. Not
``ru_maxrss`` (getrusage or wait4): Linux carries the parent's peak over
fork and exec into a child's ``ru_maxrss``, so a small child of a large
parent reports the parent's figure (tests/test_chores.py shows it). Linux
only; standard library only, so that a child imports it before its work.
"""

from __future__ import annotations

import atexit
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (MiB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError("no VmHWM in /proc/self/status: peak memory is measured on Linux only")


def report_at_exit(path) -> None:
    """Write this process's peak (``peak_rss_mb``) to ``path`` as it exits:
    for a child that runs a whole command."""
    atexit.register(lambda: Path(path).write_text(f"{peak_rss_mb()}"))
