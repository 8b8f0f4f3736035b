"""The real `pulumi` CLI on one stack: a throwaway file:// backend, passphrase secrets, no downloads.

The project is the repository itself, seen through a folder of symlinks next to a private copy of
`Pulumi.yaml` and `Pulumi.<stack>.yaml`, so `pulumi stack init` and `pulumi config set --secret` write
their salt and ciphertexts into the copy and never into the clone.

Every CLI run gets a session of its own, and what is left of the session is killed once the CLI has
exited (or timed out): the CLI's plugins (language host, providers, the policy pack) never outlive it,
even when the CLI itself was killed mid-run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import tools
from tools.priority import inherit_priority

REPO = Path(__file__).resolve().parents[2]
STACK = "local"


class PulumiFailed(AssertionError):
    """A `pulumi` command failed or timed out; carries the command and the tail of its output."""


def session_members(sid: int) -> list[str]:
    """`pid command` of every live process of the session (zombies excepted). The CLI runs with a session
    of its own; it starts each plugin in a process group of its own, but never a new session, so the
    session is what still ties a plugin to its CLI once the CLI is gone."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(f"{stat.parent.name} {text[text.index('(') + 1:text.rindex(')')]}")
    return found


def reap_session(sid: int) -> None:
    """Kill whatever is left of a CLI run (plugins whose CLI died or hung)."""
    for member in session_members(sid):
        try:
            os.kill(int(member.split()[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Workspace:
    root: Path
    kubeconfig: Path | None
    stack: str = STACK
    timings: dict[str, float] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)  # everything the CLI printed (for the secret scan)

    @classmethod
    def create(cls, root: Path, kubeconfig: Path | None, stack: str = STACK) -> "Workspace":
        project = root / "project"
        project.mkdir(parents=True, exist_ok=True)
        for entry in REPO.iterdir():
            if entry.name == ".git" or (entry.name.startswith("Pulumi.") and entry.suffix == ".yaml"):
                continue
            link = project / entry.name
            if not link.exists() and not link.is_symlink():
                link.symlink_to(entry)
        for name in ("Pulumi.yaml", f"Pulumi.{stack}.yaml"):
            shutil.copyfile(REPO / name, project / name)
        (root / "state").mkdir(exist_ok=True)
        passphrase = root / "passphrase"
        if not passphrase.exists():
            passphrase.write_text(secrets.token_hex(16))
            passphrase.chmod(0o600)
        return cls(root, kubeconfig, stack)

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def stack_config(self) -> Path:
        return self.project / f"Pulumi.{self.stack}.yaml"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "PATH": f"{tools.BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
            "PULUMI_HOME": str(self.root / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(self.root / "passphrase"),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
        })
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        else:
            env.pop("KUBECONFIG", None)
        env.pop("PULUMI_CONFIG_PASSPHRASE", None)
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 600, check: bool = True, log: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = self.argv(*args)
        child = subprocess.Popen(argv, cwd=self.project, env=env or self.env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
        inherit_priority(child.pid)  # a session of its own: keep the e2e lane's weight (tools/test_lanes.py)
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            reap_session(child.pid)
            stdout, stderr = child.communicate()
            out = stdout + stderr
            self.outputs.append(out)
            raise PulumiFailed(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s (hung?):\n{out[-3000:]}")
        finally:
            reap_session(child.pid)
        proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
        if log:
            self.outputs.append(proc.stdout + proc.stderr)
            with open(self.root / "pulumi.log", "a") as f:
                f.write(f"\n$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
        if check and proc.returncode != 0:
            raise PulumiFailed(f"`{' '.join(argv)}` exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
        return proc

    def argv(self, *args: str) -> list[str]:
        return ["pulumi", *args, "--stack", self.stack, "--non-interactive", "--color", "never"]

    def timed(self, phase: str, *args: str, **kw) -> subprocess.CompletedProcess:
        started = time.monotonic()
        try:
            return self.run(*args, **kw)
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.monotonic() - started

    def export(self) -> dict:
        return json.loads(self.run("stack", "export", log=False).stdout)

    def resources(self) -> list[dict]:
        return self.export().get("deployment", {}).get("resources") or []

    def state_files(self) -> list[Path]:
        return [p for p in (self.root / "state").rglob("*") if p.is_file()]
