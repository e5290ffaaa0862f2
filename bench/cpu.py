"""What the machine is and how busy it was while a row ran: this bench's share and others'.

The machine is shared: other people's processes (test suites) take from the same cores while
a bench runs. Read from ``/proc``; zeros where it is not there.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuMeter:
    """CPU used from its creation to :meth:`read`: by the machine, this process tree, the rest."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.machine = machine_busy_seconds()
        self.ours = tree_cpu_seconds()

    def read(self) -> dict:
        """Cores busy on average: ``machine_busy_cores``, ``bench_cores``, ``others_cores``."""
        seconds = time.monotonic() - self.began
        if seconds <= 0:
            return {}
        busy = (machine_busy_seconds() - self.machine) / seconds
        ours = (tree_cpu_seconds() - self.ours) / seconds
        return {
            "cores": os.cpu_count(),
            "machine_busy_cores": round(busy, 2),
            "bench_cores": round(ours, 2),
            "others_cores": round(max(0.0, busy - ours), 2),
            "load_average": load_average(),
        }


def machine_busy_seconds() -> float:
    """CPU seconds every core has been busy since boot (``/proc/stat``)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    # user nice system idle iowait irq softirq steal: busy leaves out idle, iowait, steal
    return (sum(fields[:3]) + sum(fields[5:7])) / TICK


def tree_cpu_seconds() -> float:
    """utime + stime of this process and every descendant alive now."""
    total, todo, seen = 0.0, [os.getpid()], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """CPUs, their model name and the Python version, in one line."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"
