"""The kubeconfig of a `clusterSource.kind: local` stack, checked before any resource is registered.

A local stack must never reach a remote cluster by accident (a DOKS kubeconfig left in $KUBECONFIG),
and a control plane that is not running should say so plainly instead of failing deep inside the
Kubernetes provider, so the server must be on this machine's loopback and answer a TCP connect.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import yaml

from components.config import PROJECT, ConfigError

KEY = f"{PROJECT}:clusterSource.kubeconfig"
START_HINT = "start it with `make e2e-up` (or `python -m localcluster up`)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_of(text: str, where: str) -> str:
    """The API server URL of the kubeconfig's current context, or ConfigError saying what is missing."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{KEY}: {where} is not a kubeconfig (not YAML: {exc})") from None
    if not isinstance(doc, dict) or doc.get("kind", "Config") != "Config" or not doc.get("clusters"):
        raise ConfigError(f"{KEY}: {where} is not a kubeconfig (no `clusters`)")
    contexts = {c.get("name"): c.get("context", {}) for c in doc.get("contexts") or []}
    current = doc.get("current-context")
    if current not in contexts:
        raise ConfigError(f"{KEY}: {where} has no current-context (current-context={current!r}; "
                          f"contexts: {', '.join(map(str, contexts)) or 'none'})")
    clusters = {c.get("name"): c.get("cluster", {}) for c in doc["clusters"]}
    cluster = clusters.get(contexts[current].get("cluster"))
    if not cluster or not cluster.get("server"):
        raise ConfigError(f"{KEY}: {where}: context {current!r} names no cluster with a server")
    return cluster["server"]


def check_reachable(server: str, where: str, timeout: float = 2.0) -> None:
    parts = urlsplit(server)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if not _is_loopback(host):
        raise ConfigError(
            f"{KEY}: {where} points at {server}, which is not on this machine; a stack with "
            f"clusterSource.kind=local only deploys to a local control plane (127.0.0.1). For DOKS use the "
            f"dev or prod stack; allowed here: a server on 127.0.0.1, ::1 or localhost")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"{KEY}: no control plane answers at {server} ({exc.strerror or exc}); "
                          f"the local cluster is not up: {START_HINT}") from None


def read_local_kubeconfig(path: Optional[str]) -> str:
    """The kubeconfig text for the local stack's Kubernetes provider, after every check above."""
    chosen = path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not chosen:
        raise ConfigError(f"{KEY} is not set and $KUBECONFIG is empty; point either at the kubeconfig the "
                          f"local control plane wrote ({START_HINT}; `python -m localcluster kubeconfig` prints it)")
    file = Path(chosen).expanduser()
    where = f"kubeconfig {str(file)!r}" + ("" if path else " (from $KUBECONFIG)")
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"{KEY}: cannot read {where}: {exc.strerror or exc}; {START_HINT}") from None
    check_reachable(server_of(text, where), where)
    return text
