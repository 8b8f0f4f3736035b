"""Debian's Prometheus (`make setup` installs it) run directly: temp config and data dir, 127.0.0.1 only."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from rehearsal.ports import pick_free


def prometheus_binary() -> str:
    path = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if path is None:
        raise AssertionError("no `prometheus` binary: run `make setup` (installs Debian's prometheus package)")
    return path


class Prometheus:
    """One Prometheus scraping `jobs` ({job: [(host:port, labels)]}) every second; a context manager."""

    def __init__(self, work_dir: Path, jobs: dict[str, list[tuple[str, dict[str, str]]]], metrics_path: str = "/metrics"):
        self.port = pick_free(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.work_dir = work_dir
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "metrics_path": metrics_path,
                 "static_configs": [{"targets": [target], "labels": labels} for target, labels in targets]}
                for job, targets in jobs.items()
            ],
        }
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = work_dir / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Prometheus:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [prometheus_binary(), f"--config.file={self.work_dir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.work_dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited:\n{self.log_path.read_text()[-2000:]}"
            try:
                if httpx.get(self.url + "/-/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise AssertionError(f"prometheus not ready in 30s:\n{self.log_path.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def targets_up(self) -> dict[str, str]:
        """scrape URL -> health ('up', 'down', 'unknown')."""
        active = httpx.get(self.url + "/api/v1/targets", timeout=5.0).json()["data"]["activeTargets"]
        return {t["scrapeUrl"]: t["health"] for t in active}

    def query(self, expr: str) -> list[dict]:
        """Instant query result (a list of series); raises on a PromQL error."""
        body = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10.0).json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        return body["data"]["result"]
