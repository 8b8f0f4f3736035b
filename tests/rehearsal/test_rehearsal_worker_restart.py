"""A worker dies mid-run: the rehearsal restarts it, the load generator keeps serving and counts what failed.

The booth's failure mode (Dynamo's TRT-LLM known issue: an engine that dies and is never
restarted) rehearsed on the laptop: `python -m rehearsal` with two mocker workers, a bounded
KV-routed workload through the load generator, and `kill -9` of one worker while requests are in
flight. What a presenter would see, checked here:
  * the launcher says which worker died and that it restarted it, within a couple of seconds;
  * the restarted worker's system server reports ready again and both frontends list 2 workers;
  * requests keep completing while it is gone (the other worker serves them), every failed
    request is counted (requestsError == turns with an error), nothing hangs: the workload
    finishes inside its deadline, and no request started after the worker is back fails.
"""

from __future__ import annotations

import time

import httpx
import pytest

from rehearsal.ports import pick_free
from launcher_process import Launcher, kill, pid_with_cmdline, pid_with_env

WORKLOAD = {
    "router": "kv",
    "totalRPS": 2,
    "mix": {"a": 1.0, "b": 0, "c": 0},
    "maxConcurrency": 8,
    "turns": {"min": 3, "max": 3},
    "openingTokens": 1000,
    "thinkTimeMs": {"min": 200, "max": 800},
    "maxConversations": 36,
    "maxTokens": 48,
}


def _generate_instances(client: httpx.Client, frontend: str) -> frozenset:
    """The worker instances a frontend routes to (its /health `instances` serving `generate`)."""
    health = client.get(frontend + "/health").json()
    return frozenset(i.get("instance_id") for i in health.get("instances", []) if i.get("endpoint") == "generate")


def _wait(predicate, timeout_s: float, what: str, step_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s")


def _ok(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _launch(tmp_path) -> tuple[Launcher, tuple[int, int, int]]:
    """`python -m rehearsal` with two workers on free ports, ready (its "Press Ctrl-C" line printed)."""
    kv, rr, ui = pick_free(3)
    launcher = Launcher("--kv-port", str(kv), "--rr-port", str(rr), "--ui-port", str(ui), "--workers", "2",
                        "--ready-timeout", "90", logs_dir=tmp_path)
    try:
        launcher.wait_for(r"^Press Ctrl-C", timeout_s=120)
    except BaseException:
        launcher.stop()
        raise
    return launcher, (kv, rr, ui)


@pytest.mark.e2e
def test_a_killed_worker_is_restarted_while_the_load_generator_keeps_serving(tmp_path):
    launcher, (kv, rr, ui) = _launch(tmp_path)
    try:
        workers = launcher.worker_urls()
        assert set(workers) == {"mocker-0", "mocker-1"}, launcher.output
        with httpx.Client(timeout=5.0) as client:
            for url in workers.values():  # the system server the cluster's probes use
                assert client.get(url + "/live").status_code == 200
                assert client.get(url + "/health").json()["status"] == "ready"

            client.post(f"http://127.0.0.1:{ui}/api/workload/start", json=WORKLOAD,
                        headers=launcher.control_headers()).raise_for_status()
            status = lambda: client.get(f"http://127.0.0.1:{ui}/api/status").json()  # noqa: E731
            _wait(lambda: status()["counters"]["requestsOk"] >= 6, 60, "first requests completed")

            frontends = (f"http://127.0.0.1:{kv}", f"http://127.0.0.1:{rr}")
            before = {f: _generate_instances(client, f) for f in frontends}
            assert all(len(ids) == 2 for ids in before.values()), before
            victim_port = workers["mocker-1"].rsplit(":", 1)[1]
            victim = pid_with_env(f"DYN_SYSTEM_PORT={victim_port}\0", "dynamo.mocker")
            killed_at = time.time()
            kill(victim)

            restart = launcher.wait_for(r"worker mocker-1 exited with code -9; restarted it as pid (\d+)", timeout_s=10)
            assert int(restart.group(1)) != victim
            _wait(lambda: _ok(client, workers["mocker-1"] + "/health"), 60, "restarted worker reports ready")
            ready_at = time.time()

            def replaced() -> bool:  # one old instance gone, one new one in, on both frontends
                now = {f: _generate_instances(client, f) for f in frontends}
                return all(len(now[f]) == 2 and len(now[f] - before[f]) == 1 for f in frontends)
            _wait(replaced, 60, "both frontends dropped the dead worker and route to the restarted one")
            back_at = time.time()

            _wait(lambda: status()["state"] == "finished", 150, "workload finished (nothing hung)", step_s=1.0)
            final = status()["counters"]
            body = client.get(f"http://127.0.0.1:{ui}/api/conversations", params={"limit": 1000}).json()
    finally:
        code = launcher.stop()

    turns = [t for conv in body["conversations"] for t in conv["turns"]]
    failed = [t for t in turns if t["error"]]
    print(f"restart: worker ready {ready_at - killed_at:.1f}s and routed to {back_at - killed_at:.1f}s after the kill; "
          f"{len(turns)} requests, {len(failed)} failed: {[t['error_kind'] for t in failed]}")
    assert code == 0, launcher.output
    assert final["requestsError"] == len(failed) and final["requestsOk"] == len(turns) - len(failed), final
    served_while_down = [t for t in turns if killed_at < t["started_at"] < back_at and not t["error"]]
    assert served_while_down, "no request completed while the worker was down"
    assert not [t for t in failed if t["started_at"] > back_at + 1.0], "requests still fail after the worker is back"
    assert back_at - killed_at < 30


@pytest.mark.e2e
def test_a_killed_frontend_is_restarted_and_the_demo_keeps_running(tmp_path):
    """Re-audit: `kill -9` of a frontend ended the whole `make demo`. It is restarted like a worker."""
    launcher, (_kv, rr, ui) = _launch(tmp_path)
    try:
        baseline = f"http://127.0.0.1:{rr}"
        victim = pid_with_cmdline(f"--http-port\0{rr}\0", "dynamo.frontend")
        kill(victim)
        restart = launcher.wait_for(r"frontend-round-robin exited with code -9; restarted it as pid (\d+)", timeout_s=10)
        assert int(restart.group(1)) != victim
        with httpx.Client(timeout=5.0) as client:
            def routes_to_both() -> bool:
                try:
                    return len(_generate_instances(client, baseline)) == 2
                except httpx.HTTPError:  # not listening yet
                    return False
            _wait(routes_to_both, 60, "the restarted frontend routes to both workers")
            # The load generator reaches it again: a round-robin conversation completes.
            client.post(f"http://127.0.0.1:{ui}/api/workload/start", headers=launcher.control_headers(),
                        json={**WORKLOAD, "router": "round-robin", "maxConversations": 2}).raise_for_status()
            status = lambda: client.get(f"http://127.0.0.1:{ui}/api/status").json()  # noqa: E731
            _wait(lambda: status()["state"] == "finished", 90, "the round-robin workload finished")
            assert status()["counters"]["requestsOk"] >= 6 and status()["counters"]["requestsError"] == 0, status()
        assert launcher.proc.poll() is None, "the launcher ended after the frontend died"
    finally:
        code = launcher.stop()
    assert code == 0, launcher.output
