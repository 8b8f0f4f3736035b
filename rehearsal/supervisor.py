"""Start child processes in their own process groups and stop every one of them.

Why process groups: Dynamo and uvicorn spawn threads and sometimes helper
processes; signalling the whole group is the only way to be sure Ctrl-C leaves
nothing running. Logs go to one file per process so a death can be explained.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class ProcessDied(RuntimeError):
    """A supervised process exited while the stack was supposed to be running."""

    def __init__(self, name: str, returncode: int, log_tail: str) -> None:
        super().__init__(f"{name} exited with code {returncode}")
        self.name = name
        self.returncode = returncode
        self.log_tail = log_tail


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Owns the children it starts; use as a context manager so they always stop."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, immune to the terminal's Ctrl-C
            )
        child = Child(name, popen, log_path)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        """Raise ProcessDied for the first child that has exited."""
        for child in self.children:
            code = child.popen.poll()
            if code is not None:
                raise ProcessDied(child.name, code, child.log_tail())

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
