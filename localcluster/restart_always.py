"""Run a command again whenever it exits, as kubelet does for a Deployment's container (restartPolicy: Always).

On DOKS Cilium's operator runs as a Deployment: when it loses its leader lease (it exits on purpose, "Leader
election lost") kubelet starts it again. The local cluster has no kubelet, so without this a slow API server (a
starved e2e lane: the lease's 10 s renew deadline passed once in CI) left the cluster with no operator and every
later Gateway waiting for a status no one would write. Restarts back off as kubelet's do (1 s doubling to
30 s, reset after 60 s of running). SIGTERM, SIGINT or SIGHUP stop the command and this loop; the command stays
in this process's group, so stopping the group (localcluster.cluster._stop, tools/guard.py) reaches both.

    python -m localcluster.restart_always [--name NAME] -- COMMAND ...
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_S = 60.0


class Stopped(Exception):
    pass


def argv(name: str, command: list[str]) -> list[str]:
    """`command` under this loop (started with the caller's Python, from the repository root)."""
    return [sys.executable, "-m", "localcluster.restart_always", "--name", name, "--", *command]


def run(command: list[str], name: str, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S,
        healthy_s: float = HEALTHY_S) -> int:
    def stop(_signum, _frame):
        raise Stopped
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    child = None
    restarts = 0
    try:
        while True:
            started = time.monotonic()
            child = subprocess.Popen(command)
            code = child.wait()
            if time.monotonic() - started >= healthy_s:
                restarts = 0
            wait = min(max_s, first_s * 2 ** restarts)
            restarts += 1
            print(f"[restart-always] {name} exited with code {code}; starting it again in {wait:.0f} s "
                  f"(restart {restarts})", file=sys.stderr, flush=True)
            time.sleep(wait)
    except Stopped:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="command")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is needed: python -m localcluster.restart_always -- COMMAND ...")
    return run(command, args.name)


if __name__ == "__main__":
    sys.exit(main())
