"""CPU weight that survives a new session: the lanes of `make test` (tools/test_lanes.py) rely on it.

With kernel.sched_autogroup on, the kernel weighs sessions (autogroups) against each other and a process's
nice only counts inside its own session. A process that starts a session of its own therefore runs at
full weight whatever nice it inherited, unless its autogroup is given the same nice.
"""

from __future__ import annotations

import os
from pathlib import Path


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
