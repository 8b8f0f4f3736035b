"""tools/test_lanes.py and tools/priority.py: `make test` runs its lanes at once, in order where one needs another,
with every lane's output kept whole, signals passed on, and the CPU weight of each lane kept by the
processes that start sessions of their own (issue 30)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tools.priority import BOOTH_RT_PRIORITY, inherit_priority, set_autogroup_nice
from tools.test_lanes import Lane, lanes, run

REPO = Path(__file__).resolve().parents[2]
REALTIME_ALLOWED = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); from tools.priority import "
                                   "enter_realtime; sys.exit(0 if enter_realtime(1) else 1)" % str(REPO)]).returncode == 0
AUTOGROUPS = Path("/proc/sys/kernel/sched_autogroup_enabled").exists() and \
    Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_make_test_lanes_cover_the_suite_once():
    plan = {lane.name: lane for lane in lanes("python")}
    assert [c[-2:] for c in plan["booth"].commands] == [["booth", "-rP"]]
    assert plan["realtime"].commands == [["python", "-m", "pytest", "--durations=15", "-m", "realtime and not booth and not edge"]]
    assert plan["edge"].commands == [["python", "-m", "pytest", "--durations=15", "-m", "edge"]]
    assert (plan["edge"].after, plan["edge"].needs_success) == ("booth", False)  # apart from the booth, not gated on it
    assert plan["unit"].commands == [["python", "-m", "pytest", "--durations=15", "-m", "not realtime"]]
    assert plan["e2e"].after == "tools"
    assert plan["unit"].yields_to == "tools" and all(lane.yields_to is None for lane in plan.values() if lane.name != "unit")
    assert plan["booth"].rt_priority == BOOTH_RT_PRIORITY and all(
        lane.rt_priority is None for lane in plan.values() if lane.name != "booth")
    assert plan["booth"].nice == 0 < plan["realtime"].nice < min(plan[name].nice for name in ("unit", "tools", "e2e"))
    collected = {}
    for marks in ("booth", "edge", "realtime and not booth and not edge", "not realtime"):
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", marks, "-p", "no:cacheprovider"],
                             cwd=REPO, capture_output=True, text=True, timeout=120).stdout
        collected[marks] = {line for line in out.splitlines() if "::" in line}
    everything = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                                cwd=REPO, capture_output=True, text=True, timeout=120).stdout
    every = {line for line in everything.splitlines() if "::" in line}
    assert sum(len(v) for v in collected.values()) == len(every) and set().union(*collected.values()) == every
    assert [t for t in collected["booth"]] == [next(t for t in every if "booth_acceptance" in t)]
    edge_modules = {t.split("::")[0].rsplit("/", 1)[-1] for t in collected["edge"]}
    assert edge_modules == {"test_loadgen_attacks.py", "test_lanes.py"}  # never beside the booth's rehearsals


def test_lanes_run_at_once_in_order_and_report_the_first_failure(tmp_path):
    out = tmp_path / "out.txt"
    plan = [Lane("slow", 0, [py("import time; time.sleep(1.5); print('slow done')")]),
            Lane("first", 5, [py("print('first')"), py("print('second step'); raise SystemExit(3)")]),
            Lane("after-first", 5, [py("print('must not run')")], after="first"),
            Lane("apart-from-first", 5, [py("print('ran after first ended')")], after="first", needs_success=False),
            Lane("fast", 5, [py("print('fast')")])]
    started = time.monotonic()
    with out.open("w") as f:
        code = run(plan, out=f)
    text = out.read_text()
    assert code == 3
    assert time.monotonic() - started < 4, "the lanes ran at once"
    assert "first\nsecond step" in text and "slow done" in text and "fast" in text
    assert "must not run" not in text and "not run, lane first failed" in text
    assert text.index("lane first") < text.index("ran after first ended"), "a lane kept apart waits, then runs"
    assert text.index("lane fast") < text.index("lane slow"), "each lane is printed when it ends"


@pytest.mark.skipif(not AUTOGROUPS, reason="no autogroups on this kernel: plain nice applies")
def test_a_lane_that_yields_sits_at_nice_19_until_the_other_lane_ends(tmp_path):
    """A cold run's builds are its critical path: `unit` weighs least while they run, then gets its own weight back."""
    read = "open('/proc/self/autogroup').read().split()[-1]"
    plan = [Lane("builds", 10, [py("import time; time.sleep(1.5)")]),
            Lane("tests", 15, [py(f"import time; time.sleep(0.7); a = {read}; time.sleep(2); print('nice', a, {read})")],
                 yields_to="builds")]
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run(plan, out=f) == 0
    assert "nice 19 15" in out.read_text()


@pytest.mark.skipif(not AUTOGROUPS, reason="no autogroups on this kernel: plain nice applies")
def test_a_session_leader_keeps_its_starters_weight(tmp_path):
    starter = subprocess.Popen(py(f"""
        import subprocess, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from tools.priority import inherit_priority
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
        inherit_priority(child.pid)
        print(child.pid, flush=True)
        time.sleep(30)
    """), stdout=subprocess.PIPE, text=True, start_new_session=True)
    set_autogroup_nice(starter.pid, 13)
    child = int(starter.stdout.readline())
    try:
        assert Path(f"/proc/{child}/autogroup").read_text().split()[-1] == "13"
        assert Path(f"/proc/{child}/autogroup").read_text().split()[0] != Path(f"/proc/{starter.pid}/autogroup").read_text().split()[0]
    finally:
        for pid in (child, starter.pid):
            subprocess.run(["kill", "-9", str(pid)])


@pytest.mark.skipif(not AUTOGROUPS, reason="no autogroups on this kernel: plain nice applies")
def test_a_lane_at_nice_19_leaves_the_cpu_to_a_lane_at_nice_0(tmp_path):
    """What protects the booth acceptance: four burners, two per lane, each lane a session, all on one core.

    On one core the split is the lanes' weights alone. Spread over two, the scheduler's balancing decides too:
    beside the booth's real-time rehearsals (which take a core at moments) a CI run read 1.5x, with a lane's
    burners left alone on the other core."""
    # One window for all four burners, whenever each one's interpreter got going: a CI-shaped run read 1.3x, most
    # likely because the nice-19 lane's starter came up late on the loaded machine and its burners then had the core
    # alone after the nice-0 lane's had finished (each counted its own 3 s).
    start = time.time() + 5
    burn = (f"import os, time, sys\nos.sched_setaffinity(0, {{{min(os.sched_getaffinity(0))}}})\n"
            f"start = {start!r}\nwhile time.time() < start: time.sleep(0.005)\n"
            "n = 0\nwhile time.time() < start + 3: n += 1\nprint(n)")
    plan = [Lane(f"lane{nice}", nice, [[sys.executable, "-c", f"import subprocess, sys; ps = [subprocess.Popen("
                                        f"[sys.executable, '-c', {burn!r}]) for _ in range(2)]; [p.wait() for p in ps]"]])
            for nice in (0, 19)]
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run(plan, out=f) == 0
    text = out.read_text()
    counts = {}
    for lane in ("lane0", "lane19"):
        block = text.split(f"lane {lane} ")[1].split("=====", 2)[1]
        counts[lane] = sum(int(x) for x in block.split()[:2])
    assert counts["lane0"] > 2 * counts["lane19"], counts  # measured 4.3x quiet unpinned; on one core 4.0x and 11.5x quiet


def test_a_signal_reaches_every_lane_and_their_teardown_runs(tmp_path):
    script = tmp_path / "lanes.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from tools.test_lanes import Lane, run
        teardown = "import signal, sys, time\\n" \\
                   "def bye(*_): open({str(tmp_path)!r} + '/' + sys.argv[1], 'w').write('x'); sys.exit(0)\\n" \\
                   "signal.signal(signal.SIGTERM, bye)\\nopen({str(tmp_path)!r} + '/up-' + sys.argv[1], 'w')\\ntime.sleep(60)"
        sys.exit(run([Lane("a", 0, [[sys.executable, "-c", teardown, "a"]]),
                      Lane("b", 10, [[sys.executable, "-c", teardown, "b"]])]))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=(tmp_path / "lanes.out").open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not ((tmp_path / "up-a").exists() and (tmp_path / "up-b").exists()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists(), (tmp_path / "lanes.out").read_text()


def test_one_closing_line_sums_every_lanes_pytest_summary(tmp_path):
    plan = [Lane("a", 0, [py("print('12 passed, 3 deselected in 4.20s')")]),
            Lane("b", 0, [py("print('====== 2 failed, 30 passed, 1 error in 61.0s ======'); raise SystemExit(1)")]),
            Lane("c", 0, [py("raise SystemExit(2)")])]
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run(plan, out=f) == 1
    assert out.read_text().splitlines()[-1] == "total: 42 passed, 4 failed"


# A process that works 1 ms, sleeps 2 ms and records how late it woke (the booth's router, mockers and load
# generator work and wait like this for every token), in a session of its own like the rehearsal's servers.
# Measured beside four burners: p99 0.06 ms real-time; at nice 0 0.1-3 ms from run to run (the scheduler
# credits sleep, so how late depends on what else ran): only real-time is a promise.
SLEEPER = (
    "import json, os, time\n"
    "late = []\n"
    "for _ in range(600):\n"
    "    busy = time.monotonic() + 0.001\n"
    "    while time.monotonic() < busy: pass\n"
    "    due = time.monotonic() + 0.002\n"
    "    time.sleep(0.002)\n"
    "    late.append(time.monotonic() - due)\n"
    "late.sort()\n"
    "print(json.dumps({'p99_ms': late[int(len(late) * 0.99)] * 1000, 'policy': os.sched_getscheduler(0)}))\n")
LANE_STARTS_SLEEPER = ("import subprocess, sys\n"
                       f"child = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}], start_new_session=True)\n"
                       "sys.exit(child.wait())\n")
BURN = "import time\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass\n"
FOUR_BURNERS = ("import subprocess, sys\n"
                f"ps = [subprocess.Popen([sys.executable, '-c', {BURN!r}]) for _ in range(4)]\n"
                "[p.wait() for p in ps]\n")


@pytest.mark.skipif(not REALTIME_ALLOWED, reason="the scheduler refuses real-time here: the lane keeps its nice weight")
def test_the_booth_lane_runs_real_time_and_wakes_on_time_beside_cpu_bound_lanes(tmp_path):
    """Four burners on two cores in a lane at the same nice: the real-time lane's worker (in the session it
    starts, as the rehearsal's servers are) wakes on time; the same worker at nice 0 waits for the burners."""
    import json
    import os
    figures = {}
    for rt in (BOOTH_RT_PRIORITY, None):
        out = tmp_path / f"out-{rt}.txt"
        plan = [Lane("sleeper", 0, [[sys.executable, "-c", LANE_STARTS_SLEEPER]], rt_priority=rt),
                Lane("burners", 0, [[sys.executable, "-c", FOUR_BURNERS]])]
        with out.open("w") as f:
            assert run(plan, out=f) == 0
        figures[rt] = json.loads(next(line for line in out.read_text().splitlines() if line.startswith("{")))
    assert figures[BOOTH_RT_PRIORITY]["policy"] == os.SCHED_RR, figures
    assert figures[None]["policy"] == os.SCHED_OTHER, figures
    assert figures[BOOTH_RT_PRIORITY]["p99_ms"] < 1.0, figures
    print("late wake-ups, p99 (ms): real-time", figures[BOOTH_RT_PRIORITY]["p99_ms"], "nice 0", figures[None]["p99_ms"])


def test_a_lane_the_scheduler_refuses_real_time_keeps_its_nice_and_says_so(tmp_path, monkeypatch):
    import tools.test_lanes as test_lanes
    monkeypatch.setattr(test_lanes, "is_realtime", lambda pid: False)
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run([Lane("booth", 0, [py("print('ran')")], rt_priority=BOOTH_RT_PRIORITY)], out=f) == 0
    text = out.read_text()
    assert "ran" in text and "booth runs nice 0 only: the scheduler refused real-time here" in text
