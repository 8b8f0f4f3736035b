"""Run `python -m rehearsal` as a user would, read its output without ever blocking past a deadline."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKER_LINE = re.compile(r"^\s+worker (\S+)\s+(http://127\.0\.0\.1:\d+)/health")


class Launcher:
    """`python -m rehearsal` in a subprocess; its stdout lines arrive on a queue from a reader thread."""

    def __init__(self, *args: str, logs_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rehearsal", "--logs-dir", str(logs_dir), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match:
        """The first new output line matching `pattern`; AssertionError (with the output) after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"launcher exited ({self.proc.wait()}) before {pattern!r}:\n{self.output}")
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout_s:.0f}s:\n{self.output}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def control_headers(self) -> dict[str, str]:
        """The control token the launcher printed (each rehearsal makes its own), as a request header."""
        token = re.search(r"^\s*control token\s+(\S+)", self.output, flags=re.M)
        assert token, f"the launcher printed no control token:\n{self.output}"
        return {"Authorization": f"Bearer {token.group(1)}"}

    def worker_urls(self) -> dict[str, str]:
        """Worker name -> system server base URL, from the launcher's Ready banner."""
        return {m.group(1): m.group(2) for line in self.lines if (m := WORKER_LINE.match(line))}

    def stop(self, timeout_s: float = 60.0) -> int:
        """Ctrl-C, then wait (kill after timeout_s); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)
        finally:
            while (line := self._drain()) is not None:
                self.lines.append(line)

    def _drain(self) -> str | None:
        try:
            return self._queue.get(timeout=1.0)
        except queue.Empty:
            return None


def pid_with_env(marker: str, argv_part: str) -> int:
    """The one process whose environment holds `marker` and whose command line holds `argv_part`."""
    return _one_pid("environ", marker, argv_part)


def pid_with_cmdline(marker: str, argv_part: str) -> int:
    """The one process whose command line holds both `marker` (NUL-separated arguments) and `argv_part`."""
    return _one_pid("cmdline", marker, argv_part)


def _one_pid(where: str, marker: str, argv_part: str) -> int:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / where).read_bytes() and argv_part.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    assert len(found) == 1, f"expected one process with {marker!r} running {argv_part}, found {found}"
    return found[0]


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
