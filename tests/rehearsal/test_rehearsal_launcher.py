"""Launcher failure paths: a taken port and a dying process must leave nothing running."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rehearsal.cli import run
from rehearsal.ports import PortTaken, is_free, pick_free, require_free
from rehearsal.stack import Stack, StackConfig
from rehearsal.supervisor import ProcessDied, Supervisor

REPO = Path(__file__).resolve().parents[2]


def _group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def listening_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_port_check_names_the_taken_port(listening_port):
    assert not is_free(listening_port)
    free = pick_free(1)[0]
    with pytest.raises(PortTaken, match=f"KV frontend port {listening_port}"):
        require_free({"KV frontend": listening_port, "UI": free})


def test_launcher_exits_2_on_taken_port_and_starts_nothing(listening_port, tmp_path):
    kv, ui = pick_free(2)
    result = subprocess.run(
        [sys.executable, "-m", "rehearsal", "--kv-port", str(kv), "--rr-port", str(listening_port),
         "--ui-port", str(ui), "--logs-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert f"round-robin frontend port {listening_port}" in result.stderr
    assert not list((tmp_path / "logs").glob("*.log"))  # no process was started


def test_supervisor_reports_which_process_died(tmp_path):
    with Supervisor(tmp_path) as sup:
        sleeper = sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        sup.start("crasher", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"])
        sup.children[-1].popen.wait(timeout=10)
        with pytest.raises(ProcessDied) as died:
            sup.check_alive()
    assert died.value.name == "crasher" and died.value.returncode == 3
    assert "boom" in died.value.log_tail
    assert sleeper.popen.poll() is not None and _group_gone(sleeper.popen.pid)


def test_stop_all_kills_grandchildren(tmp_path):
    """A child's own children share its process group and must die with it."""
    pid_file = tmp_path / "grandchild.pid"
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
              f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    sup = Supervisor(tmp_path)
    sup.start("parent", [sys.executable, "-c", script])
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        __import__("time").sleep(0.1)
    grandchild = int(pid_file.read_text())
    sup.stop_all(grace_s=2)
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(grandchild, 0)  # raises once it is gone (and reaped by init)
            __import__("time").sleep(0.1)


@pytest.mark.e2e
def test_launcher_exits_1_when_a_process_dies_and_stops_the_rest(tmp_path, capsys):
    """The mocker gets a bad flag and dies at start-up; the launcher names it and stops the frontends."""
    kv, rr = pick_free(2)
    created: list[Stack] = []

    def factory(config, work_dir=None):
        created.append(Stack(config, work_dir=work_dir))
        return created[-1]

    config = StackConfig(kv_port=kv, rr_port=rr, ui_port=None, extra_mocker_args=("--no-such-flag",))
    code = run(config, ready_timeout=60, logs_dir=tmp_path, stack_factory=factory)
    assert code == 1
    assert re.search(r"mocker-\d exited with code", capsys.readouterr().err)
    children = created[0].supervisor.children
    assert {c.name for c in children} >= {"mocker-0", "mocker-1", "frontend-kv", "frontend-round-robin", "event-broker"}
    for child in children:
        assert child.popen.poll() is not None and _group_gone(child.popen.pid), child.name
    assert is_free(kv) and is_free(rr)


def _processes_with_env(marker: str) -> list[int]:
    """PIDs whose environment mentions `marker` (every child gets DYN_FILE_KV=<logs dir>/discovery)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.e2e
def test_ctrl_c_stops_every_process(tmp_path):
    import signal
    import time

    kv, rr = pick_free(2)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "rehearsal", "--no-loadgen", "--kv-port", str(kv), "--rr-port", str(rr),
         "--logs-dir", str(tmp_path), "--ready-timeout", "90"],  # bounds the blocking reads below
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        lines = []
        for line in launcher.stdout:
            lines.append(line)
            if line.startswith("Ready") or time.monotonic() > deadline:
                break
        assert any(line.startswith("Ready") for line in lines), "".join(lines)
        assert "2/2" in "".join(lines)  # progress showed both workers registering
        assert _processes_with_env(str(tmp_path / "discovery"))
        launcher.send_signal(signal.SIGINT)
        out, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, out
    assert "All rehearsal processes stopped." in out
    assert not _processes_with_env(str(tmp_path / "discovery"))
    assert is_free(kv) and is_free(rr)


def test_supervisor_restarts_only_armed_restartable_children_with_backoff_and_max_restarts_in_a_row(tmp_path):
    """Before the stack was ready a death is fatal (a bad flag must not crash-loop); after, a worker comes back
    after 1 s, then 2 s (CrashLoopBackOff-like), at most max_restarts times in a row."""
    quick_exit = [sys.executable, "-c", "raise SystemExit(7)"]
    now = [1000.0]
    with Supervisor(tmp_path, max_restarts=2, clock=lambda: now[0]) as sup:
        worker = sup.start("worker", quick_exit, restart=True)
        worker.popen.wait(timeout=10)
        with pytest.raises(ProcessDied, match="worker exited with code 7"):
            sup.check_alive()  # not armed yet
        sup.arm_restarts()
        for count, backoff in ((1, 1.0), (2, 2.0)):
            noticed = sup.check_alive()
            assert [(r.name, r.returncode, r.count, r.pid, r.in_s) for r in noticed] == [("worker", 7, count, None, backoff)]
            assert sup.down() == ["worker"] and sup.check_alive() == []  # still backing off
            now[0] += backoff
            made = sup.check_alive()
            assert [(r.name, r.returncode, r.count) for r in made] == [("worker", 7, count)]
            assert made[0].pid == worker.popen.pid and sup.down() == []
            worker.popen.wait(timeout=10)
        with pytest.raises(ProcessDied):
            sup.check_alive()  # out of restarts in a row: reported, not restarted forever
        other = sup.start("frontend", quick_exit)  # not restartable
        other.popen.wait(timeout=10)
        worker.restarts = 0
        with pytest.raises(ProcessDied, match="exited with code 7"):
            sup.check_alive()


def test_a_child_healthy_for_a_while_gets_its_restart_budget_back(tmp_path):
    """Issue 28: a sixth crash of the same mocker in an afternoon ended the whole `make demo`."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    now = [0.0]
    with Supervisor(tmp_path, max_restarts=1, healthy_s=120.0, clock=lambda: now[0]) as sup:
        worker = sup.start("worker", sleeper, restart=True)
        sup.arm_restarts()
        for crash in range(6):  # six crashes, each after a healthy stretch
            worker.popen.kill()
            worker.popen.wait(timeout=10)
            assert sup.check_alive()[0].pid is None
            now[0] += 1.0
            assert sup.check_alive()[0].count == 1, crash
            now[0] += 121.0
            assert sup.check_alive() == [] and worker.restarts == 0  # healthy long enough: budget back
        worker.popen.kill()
        worker.popen.wait(timeout=10)
        sup.check_alive()
        now[0] += 1.0
        sup.check_alive()
        worker.popen.kill()  # a second crash without a healthy stretch: over the budget of 1 in a row
        worker.popen.wait(timeout=10)
        with pytest.raises(ProcessDied):
            sup.check_alive()
