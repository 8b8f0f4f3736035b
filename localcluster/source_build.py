"""Build trees for the Pulumi plugins whose Go modules the module proxy refuses, from vendor/go-src.

vendor/go-src holds the upstream sources (provenance and licences in vendor/go-src/README.md), never
changed in place. A build copies the folders a tool needs side by side into the cache
($HOME/.cache/gtc-demo/src/<tool>-<key>/), then does there what the upstream build does or what
building offline needs, each step recorded here:

- `replaces`: `replace` lines appended to the module's go.mod, pointing at the sibling copies of
  modules the proxy refuses (pulumi-dotnet, pulumi-yaml, pulumi-java);
- `go_mod_from`: a go.mod/go.sum of ours instead of the module's own (the language host's go.mod
  points at its monorepo with relative paths; ours requires the released pkg/sdk modules);
- `patched_modules`: a module fetched from the proxy at a served version, copied, and changed by a
  patch file in localcluster/modules/ whose header says why;
- `generate`: the package whose `go generate` writes the embedded schema (as upstream's Makefile does).

The key folds in every input (sources, our go.mod files and patches, the recipe itself), so a changed
input never reuses an old tree or binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GO_SRC = REPO / "vendor" / "go-src"
MODULES = Path(__file__).resolve().parent / "modules"


class SourceBuildError(RuntimeError):
    """A build tree could not be made; the message says which step and why."""


@dataclass(frozen=True)
class PatchedModule:
    """A Go module taken from the proxy at a served version and patched (`patch -p1`) in the build tree."""

    module: str
    version: str
    folder: str  # its folder in the build tree (a sibling of the vendored trees)
    patch: str  # path below localcluster/modules/


@dataclass(frozen=True)
class VendoredSource:
    trees: tuple[str, ...]  # folders of vendor/go-src copied side by side
    module_dir: str  # the Go module, relative to the build tree, that `go build` runs in
    replaces: tuple[tuple[str, str], ...] = ()  # (module path, path relative to module_dir)
    go_mod_from: str | None = None  # folder below localcluster/modules holding go.mod and go.sum
    patched_modules: tuple[PatchedModule, ...] = ()
    generate: str | None = None  # package (relative to module_dir) to `go generate`, with VERSION set
    extra_files: dict[str, str] = field(default_factory=dict)  # binary folder name -> path in the build tree

    def inputs(self) -> list[Path]:
        files = [p for tree in self.trees for p in sorted((GO_SRC / tree).rglob("*")) if p.is_file()]
        if self.go_mod_from:
            files += [MODULES / self.go_mod_from / "go.mod", MODULES / self.go_mod_from / "go.sum"]
        files += [MODULES / m.patch for m in self.patched_modules]
        return files

    def key(self) -> str:
        digest = hashlib.sha256(repr(self).encode())
        for path in self.inputs():
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]


def _go(args: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(["go", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SourceBuildError(f"{what}: `go {' '.join(args)}` in {cwd} failed:\n{tail}")
    return proc.stdout


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def prepare(source: VendoredSource, name: str, version: str, cache: Path, env: dict[str, str]) -> Path:
    """The build tree (the module to build in is `source.module_dir` below it), made once per key."""
    root = cache / "src" / f"{name}-{source.key()}"
    done = root / ".prepared"
    module_dir = root / source.module_dir
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for tree in source.trees:
        shutil.copytree(GO_SRC / tree, root / tree, symlinks=True)
    for patched in source.patched_modules:
        out = _go(["mod", "download", "-json", f"{patched.module}@{patched.version}"], root, env,
                  f"fetching {patched.module} {patched.version} from the module proxy")
        shutil.copytree(json.loads(out)["Dir"], root / patched.folder)
        _writable(root / patched.folder)
        proc = subprocess.run(["patch", "-p1", "--forward", "--quiet", "-i", str(MODULES / patched.patch)],
                              cwd=root / patched.folder, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SourceBuildError(f"{patched.patch} does not apply to {patched.module} {patched.version}:\n"
                                   f"{proc.stdout}{proc.stderr}")
    _writable(root)
    if source.go_mod_from:
        for file in ("go.mod", "go.sum"):
            shutil.copyfile(MODULES / source.go_mod_from / file, module_dir / file)
    if source.replaces:
        lines = "".join(f"\t{module} => {path}\n" for module, path in source.replaces)
        with open(module_dir / "go.mod", "a") as gomod:
            gomod.write(f"\n// added by localcluster/source_build.py (modules the proxy refuses)\nreplace (\n{lines})\n")
    if source.generate:
        _go(["generate", "./main.go"], module_dir / source.generate, dict(env, VERSION=version),
            f"generating {name}'s embedded schema")
    done.write_text(f"{name} {version}\n")
    return root


def env_for_builds() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=readonly")
    env["CGO_ENABLED"] = "0"
    return env
