"""Start child processes in their own process groups, restart the ones allowed to die, stop them all.

Why process groups: Dynamo and uvicorn spawn threads and sometimes helper
processes; signalling the whole group is the only way to be sure Ctrl-C leaves
nothing running. Logs go to one file per process so a death can be explained.

Why restarts: a booth runs all day, and a worker whose engine dies must come back
the way Kubernetes restarts a worker pod whose liveness probe fails. Children
started with `restart=True` are restarted by `check_alive` once restarts are
armed (after the stack was ready once: a worker that cannot even start is a
configuration error, reported at once), after a backoff like Kubernetes'
CrashLoopBackOff (1 s, doubling to 30 s), at most `max_restarts` times in a row:
a child that then runs `healthy_s` gets its whole budget back, so a sixth crash
in an afternoon does not end the demo, while a crash loop still does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.priority import inherit_priority


class ProcessDied(RuntimeError):
    """A supervised process exited while the stack was supposed to be running."""

    def __init__(self, name: str, returncode: int, log_tail: str) -> None:
        super().__init__(f"{name} exited with code {returncode}")
        self.name = name
        self.returncode = returncode
        self.log_tail = log_tail


@dataclass
class Restart:
    """One restart `check_alive` made: which child, how it had exited, how many restarts so far."""

    name: str
    returncode: int
    count: int
    pid: int | None  # None: it died and waits out its backoff (`in_s`)
    in_s: float = 0.0

    def line(self, max_restarts: int) -> str:
        if self.pid is None:
            return (f"{self.name} exited with code {self.returncode}; restarting it in {self.in_s:.0f} s "
                    f"(restart {self.count} of at most {max_restarts} in a row)")
        return (f"{self.name} exited with code {self.returncode}; restarted it as pid {self.pid} "
                f"(restart {self.count} of at most {max_restarts} in a row)")


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    restart: bool = False
    restarts: int = 0
    started_at: float = 0.0
    retry_at: float | None = None  # dead, restarting at this time

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Owns the children it starts; use as a context manager so they always stop."""

    def __init__(self, log_dir: Path, max_restarts: int = 5, *, backoff_first_s: float = 1.0, backoff_max_s: float = 30.0,
                 healthy_s: float = 120.0, clock=time.monotonic) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.max_restarts = max_restarts
        self.backoff_first_s, self.backoff_max_s, self.healthy_s, self.clock = backoff_first_s, backoff_max_s, healthy_s, clock
        self.restarts_armed = False
        self.restarts: list[Restart] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, restart: bool = False) -> Child:
        child = Child(name, self._spawn(name, argv, env), self.log_dir / f"{name}.log", list(argv), env, restart,
                      started_at=self.clock())
        self.children.append(child)
        return child

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, immune to the terminal's Ctrl-C
            )
        inherit_priority(proc.pid)  # its own session: keep the starter's CPU weight (tools/priority.py)
        return proc

    def arm_restarts(self) -> None:
        """From now on a restartable child that dies is restarted instead of reported as fatal."""
        self.restarts_armed = True

    def check_alive(self) -> list[Restart]:
        """Restart dead restartable children (once armed, after their backoff); raise ProcessDied for any other
        death. A child that has run `healthy_s` since its last restart has its budget back.

        Returns what this call did (a death noticed and its backoff, or a restart), so the caller can say so.
        """
        made: list[Restart] = []
        now = self.clock()
        for child in self.children:
            code = child.popen.poll()
            if code is None:
                if child.restarts and now - child.started_at >= self.healthy_s:
                    child.restarts = 0  # healthy long enough: the budget resets
                continue
            if not (child.restart and self.restarts_armed and child.restarts < self.max_restarts):
                raise ProcessDied(child.name, code, child.log_tail())
            if child.retry_at is None:
                _signal_group(child.popen.pid, signal.SIGKILL)  # whatever the dead leader left behind
                wait = min(self.backoff_max_s, self.backoff_first_s * 2 ** child.restarts)
                child.retry_at = now + wait
                made.append(Restart(child.name, code, child.restarts + 1, None, wait))
            if now < child.retry_at:
                continue
            child.popen = self._spawn(child.name, child.argv, child.env)
            child.restarts += 1
            child.started_at, child.retry_at = now, None
            made.append(Restart(child.name, code, child.restarts, child.popen.pid))
        self.restarts.extend(r for r in made if r.pid is not None)
        return made

    def down(self) -> list[str]:
        """Children waiting out a backoff."""
        return [child.name for child in self.children if child.retry_at is not None]

    def stop_all(self, grace_s: float = 8.0) -> None:
        """SIGTERM every group (newest first), then SIGKILL whatever is left after grace_s."""
        for child in reversed(self.children):
            _signal_group(child.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in reversed(self.children):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.popen.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pass
        for child in self.children:
            _signal_group(child.popen.pid, signal.SIGKILL)  # also reaps stray group members
            try:
                child.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
