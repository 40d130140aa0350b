"""What /proc says about a server process in the integration tests: its peak memory, its
children."""

from __future__ import annotations

import contextlib
from pathlib import Path


def vm_hwm(pid: int) -> int:
    """The process's peak resident set size, in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def reset_peak(pid: int) -> int:
    """Reset the peak RSS to the current RSS where the kernel allows it; the peak now."""
    # Else the peak since start-up: growth is still measured from it.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return vm_hwm(pid)


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found
