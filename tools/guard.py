"""Run a command so that nothing it starts outlives it (`make test`, `make e2e`, `.ci/run`).

The suite starts processes that leave their parent's process group on purpose (the local control plane's
etcd and kube-* servers, the rehearsal's Dynamo frontends and mockers, the Pulumi CLI's plugins), so a
signal to the group, or the death of the command, does not reach them: a `timeout` that SIGTERMed
`.ci/run` during `make e2e` left the whole control plane running under init.

Every process the command starts inherits `GTC_DEMO_RUN_IDS`, a chain of the guards above it, whatever
session or group it moves to. The guard runs the command in a process group of its own and
- on SIGTERM or SIGINT (or SIGHUP), forwards the signal to that group, gives it `--grace` seconds to
  clean up after itself (the e2e runner stops its cluster, pytest runs its fixtures' teardown), then
  stops every process that still carries its id: SIGTERM, and SIGKILL five seconds later;
- when its own parent dies (a `make` killed by signal), gets SIGTERM from the kernel and does the same;
- when the command ends, stops whatever it left behind and says so.

    python -m tools.guard [--grace 30] -- COMMAND ...
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

RUN_IDS = "GTC_DEMO_RUN_IDS"
PR_SET_PDEATHSIG = 1
KILL_AFTER = 5.0


def run_ids_of(pid: int | str) -> list[str]:
    """The ids of the guards a process runs under ([] for none, or a process that cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return []
    for entry in raw.split(b"\0"):
        if entry.startswith(RUN_IDS.encode() + b"="):
            return entry.split(b"=", 1)[1].decode(errors="replace").split(":")
    return []


def _alive(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def marked(run_id: str) -> list[int]:
    """Live processes started under the guard `run_id` (its own ancestors never carry its id)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            if run_id in run_ids_of(entry.name) and _alive(entry.name):
                found.append(int(entry.name))
    return found


def _describe(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return str(pid)
    return f"{pid} {cmdline[:100]}"


def stop_marked(run_id: str, kill_after: float = KILL_AFTER) -> list[str]:
    """SIGTERM every process carrying `run_id`, SIGKILL what is left after `kill_after` s; who was stopped.

    Each phase scans again until nothing is left: a process still alive between a scan and its signal (a
    supervisor restarting a child it saw die, a shell between commands) may start another, and one pass would
    miss it (a cold CI run, /proc scans slowed by ~10 runnable processes, left 36 of a rehearsal's behind).
    SIGTERM is sent once to each process, SIGKILL to whatever any scan of the last phase finds."""
    described = {pid: _describe(pid) for pid in marked(run_id)}
    for signum in (signal.SIGTERM, signal.SIGKILL):
        signalled: set[int] = set()
        deadline = time.monotonic() + kill_after
        while True:
            alive = marked(run_id)
            if not alive or time.monotonic() >= deadline:
                break
            for pid in alive:
                if signum == signal.SIGKILL or pid not in signalled:
                    described.setdefault(pid, _describe(pid))
                    try:
                        os.kill(pid, signum)
                    except ProcessLookupError:
                        pass
                    signalled.add(pid)
            time.sleep(0.1)
    return list(described.values())


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to this process when the process that started it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def sigterm_as_interrupt() -> None:
    """For pytest (its conftests call this): SIGTERM unwinds like Ctrl-C, so every fixture's teardown runs
    (the rehearsal stops its processes, the e2e its CLI runs) instead of the process vanishing mid-test."""
    def interrupt(_signum, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


class Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def run(command: list[str], grace: float) -> int:
    run_id = uuid.uuid4().hex[:12]
    env = dict(os.environ, **{RUN_IDS: ":".join(filter(None, [os.environ.get(RUN_IDS, ""), run_id]))})
    parent = os.getppid()
    _die_with_parent()

    def on_signal(signum, _frame):
        raise Stop(signum)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        return _shutdown(None, run_id, signal.SIGTERM, 0)
    child = None
    try:
        child = subprocess.Popen(command, env=env, start_new_session=True)
        code = child.wait()
    except Stop as stop:
        return _shutdown(child, run_id, stop.signum, grace)
    left = stop_marked(run_id)
    if left:
        print(f"[guard] `{' '.join(command)}` left {len(left)} process(es) running; stopped: " + "; ".join(left),
              file=sys.stderr)
    return code


def _shutdown(child: subprocess.Popen | None, run_id: str, signum: int, grace: float) -> int:
    """Forward the signal, let the command clean up for `grace` s, then stop everything it started."""
    for again in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(again, signal.SIG_IGN)  # a second signal must not cut the clean-up short
    if child is not None and child.poll() is None:
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    left = stop_marked(run_id)
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()
    print(f"[guard] stopped by signal {signal.Signals(signum).name}; "
          f"{len(left)} process(es) stopped after the grace period", file=sys.stderr)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grace", type=float, default=30.0, help="seconds the command gets to clean up")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is needed: python -m tools.guard -- COMMAND ...")
    return run(command, args.grace)


if __name__ == "__main__":
    sys.exit(main())
