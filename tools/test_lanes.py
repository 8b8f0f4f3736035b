"""`make test` as lanes that run at once: the machine's idle time used, the timing-sensitive tests protected.

The suite has two kinds of work. The booth acceptance and the other rehearsal measurements wait on real
time (the load average stays under 0.5 for their 15 minutes); the mock-runtime stack tests, the tool
builds and the real-`pulumi` e2e are CPU-bound. Run one after the other, the CPU idles for a quarter
of an hour and then the real-time tests wait for the builds. Here they overlap:

- lane `booth` (real-time, SCHED_RR 1, where the scheduler allows it; else nice 0, weight 1024): the booth
  acceptance alone (`-m booth`, its report printed with `-rP`), the longest real-time test, which sets the
  whole run's length. Real-time, its processes run the moment they wake, whatever runs beside them (a
  weight shares the CPU but does not cut wake-up latency). That did not make its high-load gate steady,
  and neither did running it alone (0.53 alone once): the spread is the router's, ~10% of KV's follow-ups
  moved off a busy replica at saturation; the test pools three twin pairs per phase, from three
  rehearsals run at once (~6 minutes; one rehearsal's three cycles took ~20, docs/testing.md);
- lane `realtime` (nice 5, weight 335): `pytest -m "realtime and not booth and not edge"`, the other tests whose
  figures depend on getting the CPU when they need it (the rehearsal's KV/round-robin ratios, the load
  generator's deadlines and rates);
- lane `edge` (nice 5): `pytest -m edge`, the load generator's edge under attack (issue 28: real servers driven to
  saturation by attackers, the heaviest CPU users among the timed tests) and the lanes' own CPU-weight test,
  once the booth lane has ended (whatever its verdict): the booth's real-time rehearsals never run beside them;
- lane `unit` (nice 15, weight 36): `pytest -m "not realtime"`; nice 19 (weight 15) while lane `tools` runs, so a cold
  run's builds (its critical path) get more of the CPU;
- lane `tools` (nice 10, weight 110): the Go-built tools (seconds when cached; on a cold machine ~42
  CPU-minutes and the run's critical path, so ahead of `unit`); then lane `e2e` (nice 15): the
  real-`pulumi` e2e, once they are there.

The weights were set from measurement: with `realtime` at 0 and the CPU-bound lanes at 10, the booth's
pooled turn-2 ratios came out ~0.1 above a quiet run's (steady 0.31 vs 0.22, high load 0.44 vs 0.33);
docs/testing.md has the runs.

With kernel.sched_autogroup on (it is, here and on CI), the kernel weighs sessions against each other, and
a process's nice only counts inside its own session. So each lane is a session of its own whose autogroup
gets the lane's nice, and every process that starts a session of its own (the rehearsal's servers, the
local control plane, the Pulumi CLI) hands its starter's autogroup nice on (`inherit_priority`). Each
lane's output is kept in a file and printed whole when the lane ends, so every pytest summary reads as
pytest wrote it. A SIGTERM or SIGINT is passed to every lane (their fixtures clean up); the exit code is
the first failing lane's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.priority import BOOTH_RT_PRIORITY, enter_realtime, is_realtime, set_autogroup_nice  # noqa: E402

REALTIME = "realtime"


@dataclass
class Lane:
    name: str
    nice: int
    commands: list[list[str]]
    after: str | None = None  # the lane that must end first
    needs_success: bool = True  # ... and succeed (False: only kept apart from it, not gated on it)
    rt_priority: int | None = None  # SCHED_RR priority for the lane's processes, where the scheduler allows it
    yields_to: str | None = None  # while that lane runs, this one's autogroup sits at YIELD_NICE
    log: Path = field(init=False)
    proc: subprocess.Popen | None = None
    step: int = 0
    started: float = 0.0
    seconds: float = 0.0
    code: int | None = None
    weight_nice: int | None = None  # the autogroup nice last set


# A cold run is ~90% CPU-bound (3,255 CPU-s in 1,799 s at ea33807) and its critical path is the Go builds, then
# the e2e: while the builds run, `unit` takes only what they leave (weight 15 against their 110). Measured at
# cb92782: the builds ended ~17 s sooner (noise-sized), `unit` took 1,347 s instead of 1,031 and still ended
# before them. A warm run's builds end within seconds: no change there.
YIELD_NICE = 19


def lanes(python: str) -> list[Lane]:
    """The six lanes; `tools` takes seconds when the cache has every tool."""
    pytest = [python, "-m", "pytest", "--durations=15"]  # each run prints its profile: where the time goes
    return [Lane("booth", 0, [[*pytest, "-m", "booth", "-rP"]], rt_priority=BOOTH_RT_PRIORITY),
            Lane("realtime", 5, [[*pytest, "-m", f"{REALTIME} and not booth and not edge"]]),
            Lane("edge", 5, [[*pytest, "-m", "edge"]], after="booth", needs_success=False),
            Lane("unit", 15, [[*pytest, "-m", f"not {REALTIME}"]], yields_to="tools"),
            Lane("tools", 10, [[python, "-m", "localcluster", "tools"]]),
            Lane("e2e", 15, [[python, "-m", "localcluster", "e2e"]], after="tools")]


class _Signals:
    """A signal that lands while a lane is being started waits until its process is known: the lane may
    already run (and hold its own children) before Popen has returned to us."""

    starting = False
    pending: int | None = None


def _priority(lane: Lane):
    """Run in the child before it execs: the lane's nice, and real-time where asked and allowed."""
    def apply() -> None:
        os.nice(lane.nice)
        if lane.rt_priority is not None:
            enter_realtime(lane.rt_priority)
    return apply


def _start(lane: Lane) -> None:
    command = lane.commands[lane.step]
    _Signals.starting = True
    try:
        lane.proc = subprocess.Popen(command, cwd=REPO, stdout=lane.log.open("ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_priority(lane))
    finally:
        _Signals.starting = False
    lane.weight_nice = None  # a new process (a lane's next step): its autogroup is new too
    _weigh(lane, lane.nice)
    if lane.rt_priority is not None:
        how = f"real-time (SCHED_RR {lane.rt_priority})" if is_realtime(lane.proc.pid) else \
            f"nice {lane.nice} only: the scheduler refused real-time here"
        with lane.log.open("a") as log:
            log.write(f"[lanes] {lane.name} runs {how}\n")
    if not lane.started:
        lane.started = time.monotonic()
    if _Signals.pending is not None:
        os.kill(os.getpid(), _Signals.pending)


def _weigh(lane: Lane, nice: int) -> None:
    if lane.proc is not None and lane.weight_nice != nice:
        set_autogroup_nice(lane.proc.pid, nice)
        lane.weight_nice = nice


def _yield(plan: list[Lane], by_name: dict[str, Lane]) -> None:
    """A lane that yields to another sits at YIELD_NICE until that one has ended, then at its own nice."""
    for lane in plan:
        if lane.yields_to and lane.code is None:
            other = by_name[lane.yields_to]
            _weigh(lane, YIELD_NICE if other.code is None else lane.nice)


def _forward(plan: list[Lane]):
    def handler(signum, _frame):
        if _Signals.starting:
            _Signals.pending = signum
            return
        for lane in plan:
            if lane.proc is not None and lane.proc.poll() is None:
                try:
                    os.killpg(lane.proc.pid, signum)
                except ProcessLookupError:
                    pass
        for lane in plan:
            if lane.proc is not None:
                try:
                    lane.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    lane.proc.kill()
        raise SystemExit(128 + signum)
    return handler


def run(plan: list[Lane], out=sys.stdout) -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _forward(plan))
    logs = Path(tempfile.mkdtemp(prefix="gtc-lanes-"))
    by_name = {lane.name: lane for lane in plan}
    for lane in plan:
        lane.log = logs / f"{lane.name}.log"
    waiting = list(plan)
    while any(lane.code is None for lane in plan):
        for lane in list(waiting):
            before = by_name.get(lane.after) if lane.after else None
            if before is not None and before.code is None:
                continue
            waiting.remove(lane)
            if before is not None and before.code != 0 and lane.needs_success:
                lane.code = 1
                lane.log.write_text(f"[lanes] {lane.name}: not run, lane {before.name} failed\n")
                _report(lane, out)
                continue
            _start(lane)
        _yield(plan, by_name)
        for lane in plan:
            if lane.proc is None or lane.code is not None:
                continue
            code = lane.proc.poll()
            if code is None:
                continue
            if code == 0 and lane.step + 1 < len(lane.commands):
                lane.step += 1
                _start(lane)
                continue
            lane.code, lane.seconds = code, time.monotonic() - lane.started
            _report(lane, out)
        time.sleep(0.2)
    print("[lanes] " + ", ".join(f"{lane.name} {lane.seconds:.0f} s (exit {lane.code})" for lane in plan), file=out)
    passed, failed = totals(plan)
    print(f"total: {passed} passed, {failed} failed", file=out)
    shutil.rmtree(logs, ignore_errors=True)  # every log was printed whole above
    return next((lane.code for lane in plan if lane.code), 0)


_SUMMARY = re.compile(r"^=*\s*(?:\d+ (?:passed|failed|error|errors|skipped|deselected|warnings?|xfailed|xpassed)[, ]*)+ in [\d.]+s")


def totals(plan: list[Lane]) -> tuple[int, int]:
    """Passed and failed (errors included) over every lane's pytest summary line: one closing line for CI."""
    passed = failed = 0
    for lane in plan:
        lines = [line for line in lane.log.read_text(errors="replace").splitlines() if _SUMMARY.match(line)]
        if lines:
            counts = dict((word, int(n)) for n, word in re.findall(r"(\d+) (\w+)", lines[-1]))
            passed += counts.get("passed", 0)
            failed += counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        elif lane.code:
            failed += 1  # a lane that failed before pytest could sum up (a build, the cluster) is a failure too
    return passed, failed


def _report(lane: Lane, out) -> None:
    print(f"\n===== lane {lane.name} (nice {lane.nice}): exit {lane.code} after {lane.seconds:.0f} s =====", file=out)
    out.write(lane.log.read_text(errors="replace"))
    out.flush()


def main(argv: list[str] | None = None) -> int:
    return run(lanes(sys.executable))


if __name__ == "__main__":
    sys.exit(main())
