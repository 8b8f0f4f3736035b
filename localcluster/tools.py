"""The binaries the local control plane and the real `pulumi` runs need, built from pinned Go sources.

Nothing here downloads a binary: each tool is either found on PATH (a user with internet has
`pulumi`; envtest/kind users have etcd and kube-apiserver) or built into a cache outside the clone
($HOME/.cache/gtc-demo/tools/<name>-<version>-<recipe>/) that later runs reuse, from
- the Go module proxy, at the version pinned in `localcluster/modules/<dir>/go.mod`, or
- for the Pulumi plugins the proxy refuses (the Python language host, the random, DigitalOcean and
  docker-build providers), the upstream sources in vendor/go-src (provenance in its README), laid out
  by localcluster/source_build.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.source_build import PatchedModule, SourceBuildError, VendoredSource, env_for_builds, prepare

MODULES = Path(__file__).resolve().parent / "modules"
CACHE = Path(os.environ.get("GTC_DEMO_CACHE", Path.home() / ".cache" / "gtc-demo"))
TOOLS_DIR = CACHE / "tools"
BIN_DIR = CACHE / "bin"

PULUMI_VERSION = "v3.274.1"  # v3.272.0 (our SDK pin) is not served by the proxy; 3.274.1 is the nearest newer
KUBERNETES_VERSION = "v1.33.13"  # matches the stacks' DOKS kubernetesVersionPrefix "1.33."
K8S_PROVIDER_VERSION = "4.0.0-20260115033456-f47bc2d6f199"  # the only pseudo-version of provider/v4 served
# The newest upstream tags whose sources are in vendor/go-src; older than the SDK pins in requirements.txt
# (pulumi 3.272.0, pulumi-random 4.21.4, pulumi-digitalocean 4.84.1). tests/stack/test_provider_schema.py
# checks the program against the DigitalOcean provider's real 4.76.0 schema.
LANGUAGE_HOST_VERSION = "v3.259.0"
RANDOM_VERSION = "4.21.1"
DIGITALOCEAN_VERSION = "4.76.0"
DOCKER_BUILD_VERSION = "0.0.22"
CILIUM_VERSION = "v1.18.4"  # DOKS's Cilium (its CiliumNetworkPolicy CRD in vendor/crds is the same release)
_BRIDGE_REFUSED = (  # what pulumi-terraform-bridge v3.135.0 requires and the proxy refuses
    ("github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3", "../../pulumi-dotnet/pulumi-language-dotnet"),
    ("github.com/pulumi/pulumi-yaml", "../../pulumi-yaml"),
)


# Compiler settings for the tools' packages, to cut a cold run's Go compile work (its critical path). Measured on
# kwok v0.7.0 with an empty build cache, 2 cores, 2026-12-07 (CPU-seconds, user + system):
#   198 as upstream builds it; 175 without DWARF (the link drops it anyway: -s -w); 139-161 without inlining as
#   well (`-N -l` saves no more and runs far slower); 131 with the compiler's GC at GOGC=400 (GOGC=off: 130, at
#   twice the memory); 122 with a one-thread back end (-c=1: two builds of -p 2 already fill both cores).
# Go's own packages (the runtime, encoding/json, crypto, compress: where the tools spend their time) keep their
# inlining: they compile once per cache for every tool (+5 CPU-s) and the real-CLI e2e ran 22% more CPU without it.
# The last matching pattern wins, so `std` overrides `all` for the standard library.
GO_COMPILE_FLAGS = ("all=-l -dwarf=false -c=1", "std=-dwarf=false -c=1")
GO_COMPILER_GOGC = "400"  # peak 0.5 GB for kwok's largest package at 400 vs 0.3 GB at 100; four compiles at once


class ToolBuildError(RuntimeError):
    """A tool could not be built; the message names the Go module and version."""


@dataclass(frozen=True)
class Tool:
    """One Go module built into one cache folder; `binaries` maps binary name -> Go package."""

    name: str
    module: str
    version: str
    module_dir: str
    binaries: dict[str, str]
    ldflags: dict[str, str] = field(default_factory=dict)  # Go package-qualified var -> value
    source: VendoredSource | None = None  # built from vendor/go-src instead of the module proxy
    tags: tuple[str, ...] = ()  # Go build tags, as the upstream Makefile sets them

    @property
    def folder(self) -> Path:
        """Keyed by version, compile and link flags, tags and sources, so a changed recipe never reuses an old binary."""
        recipe = (json.dumps(sorted(self.ldflags.items())) + (self.source.key() if self.source else "")
                  + (",".join(self.tags) if self.tags else "") + "|".join(GO_COMPILE_FLAGS))
        return TOOLS_DIR / f"{self.name}-{self.version}-{hashlib.sha256(recipe.encode()).hexdigest()[:8]}"


def _bridged_provider(name: str, version: str) -> Tool:
    """A Terraform-bridged provider from vendor/go-src/pulumi-<name>: upstream's `go generate` writes its
    embedded schema, and the bridge's refused modules come from their vendored copies."""
    module = f"github.com/pulumi/pulumi-{name}/provider/v4"
    binary = f"pulumi-resource-{name}"
    return Tool(binary, module, version, f"pulumi-{name}", {binary: f"./cmd/{binary}"},
                ldflags={f"{module}/pkg/version.Version": version},
                source=VendoredSource(trees=(f"pulumi-{name}", "pulumi-dotnet", "pulumi-yaml"),
                                      module_dir=f"pulumi-{name}/provider", replaces=_BRIDGE_REFUSED,
                                      generate=f"cmd/{binary}"))


TOOLS: tuple[Tool, ...] = (
    Tool("etcd", "go.etcd.io/etcd/server/v3", "v3.6.16", "etcd", {"etcd": "go.etcd.io/etcd/server/v3"}),
    Tool("kwok", "sigs.k8s.io/kwok", "v0.7.0", "kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}),
    Tool("kubernetes", "k8s.io/kubernetes", KUBERNETES_VERSION, "kube", {
        "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
        "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    }, ldflags={  # what the release build stamps (hack/lib/version.sh); Helm checks charts' kubeVersion against it
        f"k8s.io/{pkg}.{var}": value
        for pkg in ("component-base/version", "client-go/pkg/version")
        for var, value in (("gitVersion", KUBERNETES_VERSION), ("gitMajor", KUBERNETES_VERSION.split(".")[0][1:]),
                           ("gitMinor", KUBERNETES_VERSION.split(".")[1]), ("gitTreeState", "clean"))
    }),
    # Cilium's operator: its Gateway API controller and LB-IPAM give the local Gateway its status (localcluster/cilium.py).
    Tool("cilium-operator", "github.com/cilium/cilium", CILIUM_VERSION, "cilium",
         {"cilium-operator-generic": "github.com/cilium/cilium/operator"},
         ldflags={"github.com/cilium/cilium/pkg/version.ciliumVersion": CILIUM_VERSION.lstrip("v")},
         tags=("ipam_provider_operator",)),
    Tool("pulumi", "github.com/pulumi/pulumi/pkg/v3", PULUMI_VERSION, "pulumi",
         {"pulumi": "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"},
         ldflags={"github.com/pulumi/pulumi/sdk/v3/go/common/version.Version": PULUMI_VERSION}),
    Tool("pulumi-language-python", "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3",
         LANGUAGE_HOST_VERSION, "pulumi-language-python", {"pulumi-language-python": "."},
         ldflags={"github.com/pulumi/pulumi/sdk/v3/go/common/version.Version": LANGUAGE_HOST_VERSION},
         source=VendoredSource(
             trees=("pulumi-language-python",),
             module_dir="pulumi-language-python/sdk/python/cmd/pulumi-language-python",
             go_mod_from="pulumi-language-python",
             extra_files={"pulumi-language-python-exec":
                          "pulumi-language-python/sdk/python/cmd/pulumi-language-python-exec"})),
    Tool("pulumi-resource-kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4", K8S_PROVIDER_VERSION,
         "kubernetes-provider",
         {"pulumi-resource-kubernetes": "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"},
         ldflags={"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version": K8S_PROVIDER_VERSION}),
    _bridged_provider("random", RANDOM_VERSION),
    _bridged_provider("digitalocean", DIGITALOCEAN_VERSION),
    Tool("pulumi-resource-docker-build", "github.com/pulumi/pulumi-docker-build", DOCKER_BUILD_VERSION,
         "pulumi-docker-build", {"pulumi-resource-docker-build": "./provider/cmd/pulumi-resource-docker-build"},
         ldflags={"github.com/pulumi/pulumi-docker-build/provider.Version": DOCKER_BUILD_VERSION},
         source=VendoredSource(
             trees=("pulumi-docker-build", "pulumi-dotnet-v3.107.0"), module_dir="pulumi-docker-build",
             replaces=(("github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3",
                        "../pulumi-dotnet-v3.107.0/pulumi-language-dotnet"),
                       ("github.com/pulumi/pulumi-java", "../pulumi-java")),
             patched_modules=(PatchedModule("github.com/pulumi/pulumi-java", "v1.32.0", "pulumi-java",
                                            "pulumi-docker-build/pulumi-java-v1.32.0.patch"),))),
)

# Binaries the control plane needs and the ones `pulumi up -s local` needs.
CLUSTER_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "cilium-operator-generic")
PULUMI_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes", "pulumi-resource-random",
                   "pulumi-resource-digitalocean", "pulumi-resource-docker-build")


def _log(message: str) -> None:
    print(f"[tools] {message}", file=sys.stderr, flush=True)


def _on_path(binary: str) -> str | None:
    """A binary the user already has (PATH, or envtest's KUBEBUILDER_ASSETS), never our own bin dir."""
    search = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != BIN_DIR.resolve()]
    if os.environ.get("KUBEBUILDER_ASSETS"):
        search.insert(0, os.environ["KUBEBUILDER_ASSETS"])
    found = shutil.which(binary, path=os.pathsep.join(search))
    # The language host must sit beside the launcher script of the same install.
    if found and binary == "pulumi-language-python" and not (Path(found).parent / "pulumi-language-python-exec").exists():
        return None
    return found


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=readonly")
    return env


def _provider_with_schema(tool: Tool, workdir: Path) -> list[str]:
    """The Kubernetes provider embeds `schema-embed.json`, which its own build generates (`go generate`
    sets the version in the committed schema.json) and its module zip therefore lacks. Do the same
    step on a writable copy of the module source under the cache and build against that copy."""
    proc = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@v{tool.version}"], cwd=workdir,
                          env=_go_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolBuildError(f"cannot download Go module {tool.module} v{tool.version}: {proc.stderr.strip()}")
    source = Path(json.loads(proc.stdout)["Dir"])
    copy = CACHE / "src" / f"{tool.name}-{tool.version}"
    cmd_dir = copy / "cmd" / "pulumi-resource-kubernetes"
    if not (cmd_dir / "schema-embed.json").exists():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        schema = json.loads((cmd_dir / "schema.json").read_text())
        schema["version"] = tool.version
        (cmd_dir / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
        mapping = json.loads((cmd_dir / "terraform-mapping.json").read_text())
        (cmd_dir / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
    modfile = CACHE / "src" / f"{tool.module_dir}.go.mod"
    modfile.write_text((workdir / "go.mod").read_text() + f"\nreplace {tool.module} => {copy}\n")
    shutil.copyfile(workdir / "go.sum", modfile.with_suffix(".sum"))
    return [f"-modfile={modfile}"]


def _build(tool: Tool, binaries: list[str]) -> None:
    """Build the missing binaries of one tool into its cache folder (atomic per binary)."""
    if shutil.which("go") is None:
        raise ToolBuildError(f"cannot build {tool.module} {tool.version}: no `go` on PATH (Go 1.26 is required)")
    tool.folder.mkdir(parents=True, exist_ok=True)
    flags = " ".join(f"-X {var}={value}" for var, value in tool.ldflags.items())
    env = dict(env_for_builds() if tool.source else _go_env(), GOGC=GO_COMPILER_GOGC)
    if tool.source:
        _log(f"laying out {tool.name} {tool.version} from vendor/go-src (first run only) ...")
        try:
            tree = prepare(tool.source, tool.name, tool.version.lstrip("v"), CACHE, env)
            workdir = tree / tool.source.module_dir
        except SourceBuildError as exc:
            raise ToolBuildError(f"building {tool.name} {tool.version} from vendor/go-src: {exc}") from None
    else:
        workdir = MODULES / tool.module_dir
    extra = _provider_with_schema(tool, workdir) if tool.name == "pulumi-resource-kubernetes" else []
    for binary in binaries:
        started = time.monotonic()
        _log(f"building {binary} from {tool.module} {tool.version} (first run only; cached in {tool.folder}) ...")
        partial = tool.folder / f".{binary}.{os.getpid()}.partial"
        tags = ["-tags", ",".join(tool.tags)] if tool.tags else []
        compile_flags = [f"-gcflags={pattern_flags}" for pattern_flags in GO_COMPILE_FLAGS]
        cmd = ["nice", "-n", "10", "go", "build", *extra, *tags, "-trimpath", *compile_flags,
               "-ldflags", f"-s -w {flags}".strip(), "-o", str(partial), tool.binaries[binary]]
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise ToolBuildError(f"building {binary} from Go module {tool.module} {tool.version} failed "
                                 f"(in {workdir}):\n{tail}")
        partial.replace(tool.folder / binary)
        _log(f"built {binary} in {time.monotonic() - started:.0f} s")
    if tool.source:
        for name, relative in tool.source.extra_files.items():  # e.g. the language host's launcher script
            target = tool.folder / name
            shutil.copyfile(tree / relative, target)
            target.chmod(0o755)


# Two builds at once: one go build leaves a core idle while it links or fetches modules (cold: ~42 CPU-min
# over ~25 wall-min serially). Longest first, so the last to finish is a short one.
BUILD_WORKERS = 2
_BUILD_ORDER = ("pulumi-resource-kubernetes", "kubernetes", "pulumi", "cilium-operator", "pulumi-resource-random",
                "pulumi-resource-docker-build", "kwok", "etcd", "pulumi-language-python", "pulumi-resource-digitalocean")


def _build_all(work: list[tuple[Tool, list[str]]]) -> None:
    """Build each tool's missing binaries, BUILD_WORKERS tools at a time; the first failure is raised."""
    rank = {name: i for i, name in enumerate(_BUILD_ORDER)}
    work = sorted(work, key=lambda item: rank.get(item[0].name, len(rank)))
    if len(work) <= 1:
        for tool, binaries in work:
            _build(tool, binaries)
        return
    with ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="go-build") as pool:
        futures = [pool.submit(_build, tool, binaries) for tool, binaries in work]
        errors = [f.exception() for f in futures]
    failed = [e for e in errors if e is not None]
    if failed:
        raise failed[0]


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target` atomically (two runs may refresh the bin dir at once)."""
    temp = link.with_name(f".{link.name}.{os.getpid()}")
    temp.unlink(missing_ok=True)
    temp.symlink_to(target)
    os.replace(temp, link)


def ensure(names: tuple[str, ...]) -> dict[str, Path]:
    """Path of each named binary: PATH first, else the cache, building what is missing. Prints which."""
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, Path] = {}
    by_binary = {binary: tool for tool in TOOLS for binary in tool.binaries}
    missing: dict[str, list[str]] = {}
    by_name = {tool.name: tool for tool in TOOLS}
    for name in names:
        tool = by_binary[name]
        found = _on_path(name)  # the user's own install wins
        if found:
            chosen[name] = Path(found)
            continue
        if not (tool.folder / name).exists():
            missing.setdefault(tool.name, []).append(name)
        chosen[name] = tool.folder / name
    _build_all([(by_name[tool_name], binaries) for tool_name, binaries in missing.items()])
    for name, path in chosen.items():
        tool = by_binary[name]
        origin = "PATH" if not str(path).startswith(str(TOOLS_DIR)) else (
            f"built from {'vendor/go-src: ' if tool.source else ''}{tool.module} {tool.version}")
        _log(f"{name}: {path} ({origin})")
        _link(BIN_DIR / name, path)
        if name == "pulumi-language-python":
            _link(BIN_DIR / "pulumi-language-python-exec", path.parent / "pulumi-language-python-exec")
    return {name: BIN_DIR / name for name in names}


def main(argv: list[str]) -> int:
    started = time.monotonic()
    try:
        ensure(CLUSTER_BINARIES + PULUMI_BINARIES)
    except ToolBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _log(f"all tools ready in {time.monotonic() - started:.0f} s; bin dir {BIN_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
