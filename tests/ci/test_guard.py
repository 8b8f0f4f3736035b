"""tools/guard.py: a signal to `.ci/run`, `make test` or `make e2e` stops everything the run started (issue 30).

The trees below are built the way the suite's own are: processes in sessions of their own (the control
plane's servers, the rehearsal's Dynamo processes), one that ignores SIGTERM (a hung plugin), grandchildren.
Each signal is sent in each of these shapes, and afterwards no process of the run is left."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tools.guard import marked, run_ids_of as chain_of

REPO = Path(__file__).resolve().parents[2]
# A tree like the suite's: a daemon in its own session (etcd), one that ignores SIGTERM in its own session
# (a hung plugin), a plain grandchild; then it waits, as pytest or make would.
TREE = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    subprocess.Popen([sys.executable, "-c",
                      "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"],
                     start_new_session=True)
    subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300"])
    open(sys.argv[1], "w").write("ready")
    time.sleep(300)
""")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start(tmp_path: Path, *wrap: str):
    ready = tmp_path / "ready"
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    proc = subprocess.Popen([*wrap, sys.executable, "-m", "tools.guard", "--grace", "3", "--",
                             sys.executable, str(script), str(ready)], cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "the tree did not start"
        time.sleep(0.05)
    time.sleep(0.3)  # the last Popen has exec'd
    return proc


def run_ids_below(pid: int) -> str:
    """The guard's own id: the one its command carries beyond the guard's own chain.

    A child read between fork and exec still shows the guard's environment, whose last id is the guard's
    *parent* run (in CI, the whole `make test`): taking that one watched every process of the CI run (a
    failed run read the booth lane's 49 processes as this guard's). So the child's chain must be the
    guard's chain plus exactly one id. Waits up to 60 s for the exec: beside the booth lane's six real-time
    rehearsals starting up, a guard's child took more than 10 s to get there in CI."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = children_of(pid)
        # Read the guard's own chain only once it has children: until it has exec'd, /proc shows its starter's
        # environment (a warm CI run read an empty chain there, and took the child's "outer" as the guard's id).
        own = chain_of(pid) if children else None
        for child in children:
            chain = chain_of(child)
            if len(chain) == len(own) + 1 and chain[:-1] == own:
                return chain[-1]
        time.sleep(0.05)
    raise AssertionError(f"no guarded child of {pid}")


def test_the_guards_id_is_never_read_from_a_child_still_between_fork_and_exec(tmp_path):
    """What a CI run hit: a guard under an outer run whose child has forked but not yet exec'd (it still
    shows the guard's environment). The id taken must be the one the exec'd child carries, not the outer run's."""
    like_a_guard = textwrap.dedent("""
        import os, sys, time
        if os.fork() == 0:  # the child lingers between fork and exec, as under a starved CPU
            time.sleep(1.0)
            os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)"],
                      dict(os.environ, GTC_DEMO_RUN_IDS=os.environ["GTC_DEMO_RUN_IDS"] + ":inner"))
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", like_a_guard], env=dict(os.environ, GTC_DEMO_RUN_IDS="outer"),
                            start_new_session=True)
    try:
        assert run_ids_below(proc.pid) == "inner"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_gone(run_id: str, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while marked(run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return marked(run_id)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_guard_stops_the_whole_tree(tmp_path, signum):
    guard = start(tmp_path)
    run_id = run_ids_below(guard.pid)
    assert len(marked(run_id)) >= 6, "the tree is in place (command, two daemons, sh and its two sleeps)"
    guard.send_signal(signum)
    assert guard.wait(timeout=30) == 128 + signum
    assert wait_gone(run_id) == [], "processes of the run outlived the signal"


def test_a_signal_to_the_whole_group_as_a_terminal_or_timeout_sends_it(tmp_path):
    guard = start(tmp_path)
    run_id = run_ids_below(guard.pid)
    os.killpg(guard.pid, signal.SIGINT)
    assert guard.wait(timeout=30) == 128 + signal.SIGINT
    assert wait_gone(run_id) == []


def test_the_death_of_the_guards_parent_stops_the_tree(tmp_path):
    """`make` killed with SIGKILL: the kernel tells the guard (PR_SET_PDEATHSIG), which stops the run."""
    parent = start(tmp_path, "sh", "-c", '"$@" & wait', "make-stand-in")
    [guard_pid] = children_of(parent.pid)
    run_id = run_ids_below(guard_pid)
    parent.kill()
    parent.wait()
    assert wait_gone(run_id, timeout=30) == []


def test_nested_guards_the_outer_one_stops_the_inner_ones_tree(tmp_path):
    """`.ci/run` guards `make test`, which guards pytest: a signal to the outer one reaches everything."""
    outer = start(tmp_path, sys.executable, "-m", "tools.guard", "--grace", "3", "--")
    [inner_guard] = children_of(outer.pid)
    [command] = children_of(inner_guard)
    own = chain_of(os.getpid())  # this test may itself run under guards (make test, .ci/run)
    assert chain_of(command)[:len(own)] == own and len(chain_of(command)) == len(own) + 2, \
        "the command carries both new guards' ids after the ones above this test"
    outer_id = chain_of(command)[len(own)]
    outer.send_signal(signal.SIGTERM)
    outer.wait(timeout=30)
    assert wait_gone(outer_id) == []


# A supervisor that ignores SIGTERM and keeps starting children in sessions of their own (as the rehearsal's
# supervisor restarts a worker it saw die): a child started between the guard's scan of /proc and its signal
# to the supervisor is in no scan that came before it.
RESPAWNER = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[1], "w").write("ready")
    while True:
        subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "time.sleep(300)"], start_new_session=True)
        time.sleep(0.002)
""")


@pytest.mark.parametrize("attempt", range(3))
def test_a_supervisor_that_keeps_starting_children_leaves_none_behind(tmp_path, attempt):
    """Children started while the guard is killing: each scan finds the ones the last one missed."""
    script, ready = tmp_path / "respawner.py", tmp_path / "ready"
    script.write_text(RESPAWNER)
    guard = subprocess.Popen([sys.executable, "-m", "tools.guard", "--grace", "1", "--", sys.executable, str(script), str(ready)],
                             cwd=REPO, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "the supervisor did not start"
        time.sleep(0.05)
    time.sleep(1)  # dozens of children by now
    run_id = run_ids_below(guard.pid)
    guard.send_signal(signal.SIGTERM)
    assert guard.wait(timeout=60) == 128 + signal.SIGTERM
    left = marked(run_id)
    for pid in left:  # never leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{len(left)} process(es) the supervisor started outlived the guard"


def test_what_a_finished_command_leaves_behind_is_stopped_and_named(tmp_path):
    script = tmp_path / "leak.py"
    script.write_text("import subprocess, sys\n"
                      "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\n")
    proc = subprocess.run([sys.executable, "-m", "tools.guard", "--", sys.executable, str(script)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "left 1 process(es) running; stopped:" in proc.stderr and "time.sleep(300)" in proc.stderr


def test_the_commands_exit_code_passes_through(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.guard", "--", sys.executable, "-c", "raise SystemExit(7)"],
                          cwd=REPO, timeout=60)
    assert proc.returncode == 7


def test_pytest_under_sigterm_runs_its_fixtures_teardown(tmp_path):
    """The suite's conftest turns SIGTERM into Ctrl-C: a fixture's teardown (the rehearsal stopping its
    processes) runs before pytest exits."""
    (tmp_path / "conftest.py").write_text(
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from tools.guard import sigterm_as_interrupt\n"
        "def pytest_configure(config):\n    sigterm_as_interrupt()\n")
    (tmp_path / "test_slow.py").write_text(textwrap.dedent(f"""
        import pathlib, time, pytest
        @pytest.fixture
        def rehearsal():
            pathlib.Path({str(tmp_path / 'started')!r}).write_text("x")
            yield
            pathlib.Path({str(tmp_path / 'torn-down')!r}).write_text("x")
        def test_waits(rehearsal):
            time.sleep(120)
    """))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert (tmp_path / "torn-down").exists(), proc.stdout.read().decode()[-2000:]


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_rehearsal_phase_leaves_no_dynamo_process(tmp_path, signum):
    """The real phase: `make test`'s pytest (under its guard) running the rehearsal e2e, whose Dynamo
    frontends, mockers and load generator run in sessions of their own. Stopped mid-run, none survives."""
    guard = subprocess.Popen([sys.executable, "-m", "tools.guard", "--grace", "20", "--", sys.executable, "-m", "pytest",
                              "-q", "-p", "no:cacheprovider", "tests/rehearsal/test_rehearsal_e2e.py"],
                             cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_id = run_ids_below(guard.pid)
    deadline = time.monotonic() + 90

    def dynamo_running() -> list[int]:
        return [pid for pid in marked(run_id)
                if b"dynamo." in Path(f"/proc/{pid}/cmdline").read_bytes()]
    while len(dynamo_running()) < 3:  # frontends and mockers are up: the phase where the leak was
        assert time.monotonic() < deadline and guard.poll() is None, "the rehearsal did not start"
        time.sleep(0.2)
    guard.send_signal(signum)
    assert guard.wait(timeout=60) == 128 + signum
    assert wait_gone(run_id) == [], "rehearsal processes outlived the signal"
