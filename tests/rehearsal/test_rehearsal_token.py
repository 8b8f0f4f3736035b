"""`make demo` never opens the load generator's control API: a fresh token per rehearsal, handed to loadgen
by env (not argv), printed with the URL (issue 16)."""

from __future__ import annotations

from rehearsal.cli import run
from rehearsal.stack import Stack, StackConfig


def test_each_rehearsal_gets_its_own_token_passed_by_env_not_argv(tmp_path):
    first, second = StackConfig(ui_port=3999), StackConfig(ui_port=3999)
    assert len(first.control_token) >= 24 and first.control_token != second.control_token
    stack = Stack(first, work_dir=tmp_path)
    assert stack._loadgen_env()["LOADGEN_CONTROL_TOKEN"] == first.control_token
    assert first.control_token not in " ".join(stack.loadgen_argv())
    assert "--host" in stack.loadgen_argv() and "127.0.0.1" in stack.loadgen_argv()
    assert first.control_token not in repr(first)


class _ReadyThenInterrupted:
    """A Stack stand-in: ready at once, then the presenter presses Ctrl-C."""

    worker_system_urls: dict = {}

    def __init__(self, config, work_dir=None):
        self.supervisor = type("S", (), {"log_dir": "logs", "check_alive": self._interrupt})()

    def _interrupt(self):
        raise KeyboardInterrupt

    def start(self):
        pass

    def wait_ready(self, timeout_s, on_progress=None):
        pass

    def close(self):
        pass


def test_launcher_prints_the_url_with_the_token(capsys):
    config = StackConfig(ui_port=3999, ui_metrics_port=4999)
    assert run(config, 1.0, stack_factory=_ReadyThenInterrupted) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:3999/#token={config.control_token}" in out
    assert f"control token          {config.control_token}" in out
    assert "load generator metrics http://127.0.0.1:4999/metrics" in out


def test_the_rehearsal_loadgen_serves_metrics_on_an_internal_port(tmp_path):
    config = StackConfig(ui_port=3999)
    stack = Stack(config, work_dir=tmp_path)
    assert config.ui_metrics_url is None  # picked when the stack starts
    config.ui_metrics_port = 4999
    argv = stack.loadgen_argv()
    assert argv[argv.index("--internal-port") + 1] == "4999"
    assert config.ui_metrics_url == "http://127.0.0.1:4999"


def test_rehearsals_run_at_once_get_distinct_ports_and_tokens():
    """The booth acceptance's six rehearsals: no port shared (one would fail to start), each its own token."""
    from rehearsal.settings import BOOTH
    from rehearsal.stack import configs_on_free_ports

    configs = configs_on_free_ports(6, router=BOOTH)
    ports = [port for c in configs for port in (c.kv_port, c.rr_port, c.ui_port)]
    assert len(configs) == 6 and len(set(ports)) == 18
    assert {c.router for c in configs} == {BOOTH} and len({c.control_token for c in configs}) == 6
