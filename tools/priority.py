"""CPU weight that survives a new session: the lanes of `make test` (tools/test_lanes.py) rely on it.

With kernel.sched_autogroup on, the kernel weighs sessions (autogroups) against each other and a process's
nice only counts inside its own session. A process that starts a session of its own therefore runs at
full weight whatever nice it inherited, unless its autogroup is given the same nice.
"""

from __future__ import annotations

import os
from pathlib import Path

# The booth lane's real-time priority (SCHED_RR, lowest level): above every ordinary process, below the
# kernel's own real-time threads. The kernel still leaves 5% of each second to ordinary processes
# (kernel.sched_rt_runtime_us), so a runaway booth cannot stop the run.
BOOTH_RT_PRIORITY = 1


def _autogroup_nice(pid: int | str = "self") -> int | None:
    try:  # "/autogroup-123 nice 10"
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def set_autogroup_nice(pid: int, nice: int) -> None:
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass  # no autogroups here (or the child is gone): its plain nice already applies


def inherit_priority(pid: int) -> None:
    """Give a child that started a session of its own (so an autogroup of its own) this process's weight.

    Without it a session leader runs at full weight against everything else, whatever nice it inherited:
    the kernel weighs autogroups, not processes, against each other."""
    own = _autogroup_nice()
    set_autogroup_nice(pid, own if own is not None else os.getpriority(os.PRIO_PROCESS, 0))


def enter_realtime(priority: int) -> bool:
    """Make this process (and every process it starts, sessions of their own included) round-robin real-time.

    A nice weight decides shares, not wake-up latency: beside CPU-bound lanes a woken booth process still
    waits for the running one's slice, and at high load those waits queue up into the measured TTFT. A
    real-time process runs the moment it wakes. False where the scheduler refuses (no CAP_SYS_NICE and no
    RLIMIT_RTPRIO): the lane then keeps its nice weight alone."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))
        return True
    except (PermissionError, OSError):
        return False


def is_realtime(pid: int) -> bool:
    try:
        return os.sched_getscheduler(pid) in (os.SCHED_RR, os.SCHED_FIFO)
    except OSError:
        return False
