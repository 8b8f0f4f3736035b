"""The local cluster restarts Cilium's operator whenever it exits, as kubelet restarts it on DOKS.

The operator exits on purpose when its leader lease lapses; in one CI run a starved API server let the lease's
10 s renew deadline pass, the operator exited, and `pulumi up` then waited 20 minutes for a Gateway status no one
would write. localcluster/restart_always.py is the restart loop; these tests run it for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from localcluster import cilium, cluster, restart_always

REPO = Path(__file__).resolve().parents[2]


def _loop(child: str, **backoff) -> subprocess.Popen:
    """The restart loop around a Python child, with a short backoff, in a session of its own."""
    code = textwrap.dedent(f"""
        import sys
        from localcluster.restart_always import run
        sys.exit(run([sys.executable, "-c", {child!r}], "child", **{backoff!r}))
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def test_a_command_that_exits_is_started_again_with_a_growing_backoff(tmp_path):
    runs = tmp_path / "runs"
    loop = _loop(f"import time; open({str(runs)!r}, 'a').write(f'{{time.monotonic()}}\\n')",
                 first_s=0.1, max_s=0.4, healthy_s=60)
    try:
        _wait_for(lambda: runs.exists() and len(runs.read_text().split()) >= 5)
    finally:
        os.killpg(loop.pid, signal.SIGTERM)
        loop.wait(timeout=20)
    starts = [float(t) for t in runs.read_text().split()]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps[0] >= 0.1 and gaps[2] >= 0.4 and gaps[3] >= 0.4, gaps  # 0.1, 0.2, 0.4, then capped at 0.4
    assert "child exited with code 0; starting it again" in loop.stderr.read()


def test_stopping_the_group_stops_the_loop_and_its_command(tmp_path):
    started = tmp_path / "started"
    loop = _loop(f"import time; open({str(started)!r}, 'w').write('x'); time.sleep(300)")
    _wait_for(started.exists)
    assert len(_group(loop.pid)) == 2  # the loop and its command, in one group
    cluster._stop(loop.pid)  # how `localcluster down` stops each process it started
    assert loop.wait(timeout=20) == 0
    _wait_for(lambda: not _group(loop.pid))


def test_the_local_cluster_starts_ciliums_operator_under_the_loop(monkeypatch, tmp_path):
    started: dict[str, list[str]] = {}
    monkeypatch.setattr(cluster, "_start", lambda _c, name, argv: started.setdefault(name, argv) and 1)
    monkeypatch.setattr(cluster, "_create", lambda *a: None)
    monkeypatch.setattr(cluster, "_wait", lambda *a: None)
    binary = tmp_path / "cilium-operator-generic"
    local = cluster.Cluster(tmp_path / "cluster")
    cluster._start_cilium(local, {"cilium-operator-generic": binary}, {}, lambda: None)
    argv = started["cilium-operator"]
    assert argv[:3] == [sys.executable, "-m", "localcluster.restart_always"]
    assert argv[argv.index("--") + 1:] == cilium.argv(binary, local.kubeconfig, local.root / "cilium-config")
    assert restart_always.argv("x", ["y"])[-2:] == ["--", "y"]
