"""The Go tool recipes (localcluster/tools.py): real plugins only, each from a source this repository holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from localcluster import tools
from localcluster.source_build import GO_SRC, MODULES, VendoredSource


def test_no_stand_in_is_left():
    """The language host and the random provider used to be Go stand-ins of ours; every tool is upstream's now."""
    assert not (MODULES / "pulumi" / "standin").exists()
    for tool in tools.TOOLS:
        assert "stand-in" not in tool.module, tool.name
    needed = set(tools.PULUMI_BINARIES)
    assert {"pulumi-language-python", "pulumi-resource-random", "pulumi-resource-digitalocean",
            "pulumi-resource-docker-build"} <= needed


@pytest.mark.parametrize("tool", [t for t in tools.TOOLS if t.source], ids=lambda t: t.name)
def test_vendored_tool_has_its_sources_licence_and_provenance(tool):
    source: VendoredSource = tool.source
    readme = (GO_SRC / "README.md").read_text()
    for tree in source.trees:
        assert (GO_SRC / tree / "LICENSE").exists(), f"{tree}: no licence"
        assert f"`{tree}/`" in readme, f"{tree}: no provenance row in vendor/go-src/README.md"
    module_dir = GO_SRC / source.module_dir if not source.go_mod_from else MODULES / source.go_mod_from
    assert (module_dir / "go.mod").exists() and (module_dir / "go.sum").exists()
    for relative in source.extra_files.values():
        assert (GO_SRC / relative).exists(), relative
    for patched in source.patched_modules:
        header = (MODULES / patched.patch).read_text().split("\ndiff ", 1)[0]
        assert "Why:" in header and patched.version in header, f"{patched.patch} must say why"


def test_a_changed_source_file_changes_the_tool_folder(tmp_path, monkeypatch):
    """Binaries are cached by recipe: editing a vendored file must never reuse the old binary."""
    import localcluster.source_build as source_build
    tree = tmp_path / "go-src" / "mod"
    tree.mkdir(parents=True)
    (tree / "main.go").write_text("package main\n")
    monkeypatch.setattr(source_build, "GO_SRC", tmp_path / "go-src")
    monkeypatch.setattr(source_build, "REPO", tmp_path)
    tool = tools.Tool("t", "example.com/t", "1.0.0", "t", {"t": "."}, source=VendoredSource(("mod",), "mod"))
    before = tool.folder
    (tree / "main.go").write_text("package main // changed\n")
    assert tool.folder != before



def test_cold_builds_run_two_at_a_time_longest_first_and_a_failure_still_names_its_module(monkeypatch):
    """A cold run's critical path is the Go builds: two go builds overlap one's link with the other's compile."""
    import threading
    import time as _time
    running, peak, started = [0], [0], []
    lock = threading.Lock()

    def fake_build(tool, binaries):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            started.append(tool.name)
        _time.sleep(0.05)
        with lock:
            running[0] -= 1
        if tool.name == "etcd":
            raise tools.ToolBuildError("building etcd from Go module go.etcd.io/etcd/server/v3 v3.6.16 failed")

    monkeypatch.setattr(tools, "_build", fake_build)
    work = [(t, list(t.binaries)) for t in tools.TOOLS]
    with pytest.raises(tools.ToolBuildError, match="go.etcd.io/etcd/server/v3"):
        tools._build_all(work)
    assert peak[0] == tools.BUILD_WORKERS == 2
    assert sorted(started) == sorted(t.name for t in tools.TOOLS)  # one failure does not cancel the rest
    assert set(started[:2]) == {"pulumi-resource-kubernetes", "kubernetes"}  # the two longest start first
    assert set(tools._BUILD_ORDER) == {t.name for t in tools.TOOLS}  # every tool has its place


def test_every_build_compiles_without_inlining_and_a_changed_flag_changes_the_folder(tmp_path, monkeypatch):
    """A cold run's Go builds are its critical path: every package but Go's own compiles without inlining or DWARF,
    with a one-thread back end and a lazier compiler GC (~38% less CPU), and binaries built with other flags are
    never reused from the cache."""
    commands = []

    def fake_run(cmd, cwd, env, capture_output, text):
        commands.append((cmd, env))
        Path(cmd[cmd.index("-o") + 1]).write_text("binary")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(tools, "TOOLS_DIR", tmp_path)
    monkeypatch.setattr(tools.subprocess, "run", fake_run)
    monkeypatch.setattr(tools.shutil, "which", lambda name, path=None: "/usr/bin/go")
    etcd = next(t for t in tools.TOOLS if t.name == "etcd")
    tools._build(etcd, ["etcd"])
    assert (etcd.folder / "etcd").exists()
    ((cmd, env),) = commands
    gcflags = [arg for arg in cmd if arg.startswith("-gcflags=")]
    assert gcflags == ["-gcflags=all=-l -dwarf=false -c=1", "-gcflags=std=-dwarf=false -c=1"]  # the last match wins
    assert env["GOGC"] == "400" and cmd[cmd.index("-ldflags") + 1].startswith("-s -w")
    before = etcd.folder
    monkeypatch.setattr(tools, "GO_COMPILE_FLAGS", ("all=-dwarf=false",))
    assert etcd.folder != before
