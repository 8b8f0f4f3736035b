"""Start child processes in their own process groups, restart the ones allowed to die, stop them all.

Why process groups: Dynamo and uvicorn spawn threads and sometimes helper
processes; signalling the whole group is the only way to be sure Ctrl-C leaves
nothing running. Logs go to one file per process so a death can be explained.

Why restarts: a booth runs all day, and a worker whose engine dies must come back
the way Kubernetes restarts a worker pod whose liveness probe fails. Children
started with `restart=True` are restarted by `check_alive` once restarts are
armed (after the stack was ready once: a worker that cannot even start is a
configuration error, reported at once) and at most `max_restarts` times each.
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
    pid: int

    def line(self, max_restarts: int) -> str:
        return (f"{self.name} exited with code {self.returncode}; restarted it as pid {self.pid} "
                f"(restart {self.count} of at most {max_restarts})")


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    restart: bool = False
    restarts: int = 0

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Owns the children it starts; use as a context manager so they always stop."""

    def __init__(self, log_dir: Path, max_restarts: int = 5) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.max_restarts = max_restarts
        self.restarts_armed = False
        self.restarts: list[Restart] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, restart: bool = False) -> Child:
        child = Child(name, self._spawn(name, argv, env), self.log_dir / f"{name}.log", list(argv), env, restart)
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
        """Restart dead restartable children (once armed); raise ProcessDied for any other death.

        Returns the restarts made by this call, so the caller can say so.
        """
        made: list[Restart] = []
        for child in self.children:
            code = child.popen.poll()
            if code is None:
                continue
            if not (child.restart and self.restarts_armed and child.restarts < self.max_restarts):
                raise ProcessDied(child.name, code, child.log_tail())
            _signal_group(child.popen.pid, signal.SIGKILL)  # whatever the dead leader left behind
            child.popen = self._spawn(child.name, child.argv, child.env)
            child.restarts += 1
            made.append(Restart(child.name, code, child.restarts, child.popen.pid))
        self.restarts.extend(made)
        return made

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
