"""Credentials only travel as Pulumi secrets into Kubernetes Secrets, never as literals.

A Secret whose data is not a Pulumi secret has its value in the program or in plaintext state; a
credential in a ConfigMap or an env literal is readable by anyone who can `kubectl describe`. Messages
name the key and show at most a redacted prefix of a value.
"""
import re
from typing import Any, List, Mapping, Tuple

from ..props import as_list, as_map, as_str, child, is_secret, raw_value, reveal, subject, walk
from ..workloads import graph_envs, pod_views

SECRET_TYPE = "kubernetes:core/v1:Secret"
# Where a Pulumi secret may go in a Kubernetes resource: a Secret's data, and a Helm release's values (the
# chart renders them into Secrets; what it renders is checked by helm-releases-rendered).
SECRET_HOLDERS = (SECRET_TYPE, "kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"

CREDENTIAL_WORDS = {"password", "passwd", "pwd", "secret", "token", "apikey", "credential",
                    "credentials", "privatekey", "accesskey", "secretkey", "passphrase"}
CREDENTIAL_PAIRS = {("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"),
                    ("client", "secret"), ("auth", "token")}
# A key that names where a credential lives is not itself one (SECRET_NAME, TOKEN_PATH, ...).
REFERENCE_SUFFIXES = {"name", "ref", "file", "path", "dir", "mount", "url", "endpoint", "header", "env", "var", "selector"}

CREDENTIAL_VALUE_PATTERNS = {
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    "DigitalOcean API token": re.compile(r"\bdo[por]_v1_[a-f0-9]{64}"),
    "Spaces/AWS access key": re.compile(r"\b(?:DO00|AKIA)[A-Z0-9]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    "API secret key": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}"),
}


def _words(key: str) -> List[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def is_credential_key(key: str) -> bool:
    words = _words(key)
    if not words or words[-1] in REFERENCE_SUFFIXES:
        return False
    return bool(CREDENTIAL_WORDS.intersection(words)) or \
        any(pair in CREDENTIAL_PAIRS for pair in zip(words, words[1:]))


def credential_found(value: Any) -> Tuple[str, str]:
    """(what credential a value holds, the matching text), or ('', '') if none."""
    text = reveal(value)
    if isinstance(text, str):
        for kind, pattern in CREDENTIAL_VALUE_PATTERNS.items():
            match = pattern.search(text)
            if match:
                return kind, match.group(0)
    return "", ""


def redacted(text: str) -> str:
    """Enough of a credential to find it, not enough to use it."""
    return f'"{text[:6]}…"'


def check_secret_data(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != SECRET_TYPE:
        return []
    messages = []
    for field in ("data", "stringData"):
        raw = raw_value(props, field)
        if raw is None or is_secret(raw):
            continue                                   # absent, or the whole map is a Pulumi secret
        for key, value in as_map(raw).items():
            if not is_secret(value):
                messages.append(f'{subject(resource_type, name)}: {field}["{key}"] is a plaintext value, '
                                "not a Pulumi secret; read it with config.require_secret(...)")
    return messages


def check_config_maps(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != CONFIG_MAP_TYPE:
        return []
    messages = []
    for field in ("data", "binaryData"):
        for key, value in as_map(child(props, field)).items():
            if is_credential_key(str(key)):
                messages.append(f'{subject(resource_type, name)}: {field}["{key}"] looks like a credential; '
                                "ConfigMaps are not secret, put it in a Secret")
            else:
                kind, text = credential_found(value)
                if kind:
                    messages.append(f'{subject(resource_type, name)}: {field}["{key}"] holds a '
                                    f"{kind} ({redacted(text)}); put it in a Secret")
    return messages


def _env_literal_problem(item: Any) -> str:
    env_name = as_str(child(item, "name")) or ""
    if child(item, "valueFrom") is not None or child(item, "value") is None:
        return ""
    value = child(item, "value")
    if is_credential_key(env_name):
        return f"env {env_name} is a literal value"
    kind, text = credential_found(value)
    return f"env {env_name} holds a {kind} literal ({redacted(text)})" if kind else ""


def check_env_literals(resource_type: str, name: str, props: Mapping) -> List[str]:
    fix = "; use valueFrom.secretKeyRef (or envFromSecret on a DGD service)"
    messages = [f"{subject(resource_type, name)}: spec.envs {problem}{fix}"
                for problem in map(_env_literal_problem, graph_envs(resource_type, props)) if problem]
    for pod in pod_views(resource_type, props):
        for container in pod.containers:
            for item in as_list(container.env):
                problem = _env_literal_problem(item)
                if problem:
                    messages.append(f"{subject(resource_type, name)}: {container.where} {problem}{fix}")
    return messages


def check_secrets_outside_secrets(resource_type: str, name: str, props: Mapping) -> List[str]:
    """A Pulumi secret anywhere but in a Secret: a ConfigMap, an annotation, an env literal, a CR's spec."""
    if not resource_type.startswith("kubernetes:") or resource_type in SECRET_HOLDERS:
        return []
    return [f"{subject(resource_type, name)}: {path} holds a Pulumi secret, and only a Secret keeps one secret in the "
            "cluster (anyone who can read this object reads it); put it in a Secret and reference it"
            for path, leaf in walk(props) if is_secret(leaf)]


def check_credential_literals(resource_type: str, name: str, props: Mapping) -> List[str]:
    """A value shaped like a credential (a DigitalOcean or Hugging Face token, a key, a JWT) written as a
    literal anywhere in a Kubernetes object or a chart's values, whatever the field is called."""
    if not resource_type.startswith("kubernetes:") or resource_type == SECRET_TYPE:
        return []
    found = []
    for path, leaf in walk(props):
        if is_secret(leaf):
            continue
        kind, text = credential_found(leaf)
        if kind:
            found.append(f"{subject(resource_type, name)}: {path} holds a {kind} literal ({redacted(text)}); "
                         "credentials travel as Pulumi secrets into Secrets")
    return found


_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)(?:=(.*))?$", re.S)


def _flag_value_is_literal(value: Any) -> bool:
    value = reveal(value) if not is_secret(value) else None
    return isinstance(value, str) and bool(value.strip()) and not value.startswith("$(") and not value.startswith("-")


def check_credential_flags(resource_type: str, name: str, props: Mapping) -> List[str]:
    """A command-line flag named like a credential (`--control-token`, `--api-key=...`) given a literal value:
    it is in the pod spec and in `ps` (a Pulumi secret there is no-secrets-on-command-lines)."""
    found = []
    for pod in pod_views(resource_type, props):
        for container in pod.containers:
            argv = container.argv
            for i, arg in enumerate(argv):
                match = _FLAG.match(reveal(arg)) if isinstance(reveal(arg), str) and not is_secret(arg) else None
                if not match or not is_credential_key(match.group(1)):
                    continue
                value = match.group(2) if match.group(2) is not None else (argv[i + 1] if i + 1 < len(argv) else None)
                if _flag_value_is_literal(value):
                    found.append(f"{subject(resource_type, name)}: {container.where} passes --{match.group(1)} as a "
                                 "literal on its command line (visible in the pod spec and `ps`); read it from an "
                                 "environment variable set from a Secret")
    return found
