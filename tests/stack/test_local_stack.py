"""The `local` stack: same program, cluster from a checked kubeconfig, no DigitalOcean layer."""

import socket

import pytest
import yaml
from plan import PlanError, evaluate, is_secret

from components.config import ConfigError, parse_config
from components.kubeconfig import read_local_kubeconfig
from test_config_validation import error_for, raw_config

LOCAL_SECRETS = {"gtc-demo:hfToken": None, "gtc-demo:dnsToken": "dns-fake",
                 "gtc-demo:spacesAccessKeyId": "id-fake", "gtc-demo:spacesSecretAccessKey": "key-fake"}


def kubeconfig_text(server: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    })


@pytest.fixture
def listening_port():
    """A real TCP listener on 127.0.0.1 (the API server's place in these tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_local_stack_file_is_valid():
    config = parse_config(raw_config("local"))
    assert config.cluster_source.is_local and config.worker_backend == "mocker"


def test_unknown_cluster_source_names_key_value_and_allowed():
    message = error_for("dev", clusterSource={"kind": "eks"})
    assert "gtc-demo:clusterSource.kind='eks'" in message and "'doks' or 'local'" in message


def test_kubeconfig_on_a_doks_stack_is_refused():
    message = error_for("dev", clusterSource={"kind": "doks", "kubeconfig": "/tmp/k"})
    assert "gtc-demo:clusterSource" in message and "only read when kind is 'local'" in message


@pytest.mark.parametrize("case", ["unset", "missing", "not yaml", "no context", "remote", "not up"])
def test_bad_kubeconfig_is_a_clear_config_error(tmp_path, monkeypatch, case):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    path = tmp_path / "kubeconfig"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free_port = closed.getsockname()[1]
    content = {"not yaml": "clusters: [unclosed", "no context": yaml.safe_dump({"clusters": [{"name": "k"}]}),
               "remote": kubeconfig_text("https://abc.k8s.ondigitalocean.com"),
               "not up": kubeconfig_text(f"https://127.0.0.1:{free_port}")}.get(case)
    if content is not None:
        path.write_text(content)
    expected = {"unset": "$KUBECONFIG is empty", "missing": "cannot read", "not yaml": "not a kubeconfig",
                "no context": "has no current-context", "remote": "not on this machine", "not up": "local cluster is not up"}
    with pytest.raises(ConfigError) as info:
        read_local_kubeconfig(None if case == "unset" else str(path))
    assert "gtc-demo:clusterSource.kubeconfig" in str(info.value) and expected[case] in str(info.value)


def test_good_kubeconfig_from_env(tmp_path, monkeypatch, listening_port):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(f"https://127.0.0.1:{listening_port}"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert read_local_kubeconfig(None) == path.read_text()


@pytest.fixture
def local_plan(tmp_path, monkeypatch, listening_port):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(f"https://127.0.0.1:{listening_port}"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    return evaluate("local", secrets=LOCAL_SECRETS)


def test_local_stack_needs_no_account_credential(tmp_path, monkeypatch, listening_port):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(f"https://127.0.0.1:{listening_port}"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    plan = evaluate("local", secrets=LOCAL_SECRETS, environment={
        "DIGITALOCEAN_TOKEN": None, "SPACES_ACCESS_KEY_ID": None, "SPACES_SECRET_ACCESS_KEY": None})
    assert plan.by_type("kubernetes:apps/v1:Deployment")


def test_local_stack_has_no_digitalocean_layer(local_plan):
    assert not [r.type for r in local_plan.resources if r.type.startswith("digitalocean:")]
    assert not [i for i in local_plan.invokes if i.get("token", "").startswith("digitalocean:")]


def test_local_stack_provider_reads_the_kubeconfig_as_a_secret(local_plan):
    provider = local_plan.get("pulumi:providers:kubernetes")
    assert is_secret(provider.inputs["kubeconfig"])


def test_local_stack_model_volume_is_a_host_folder(local_plan):
    [pv] = local_plan.by_type("kubernetes:core/v1:PersistentVolume")
    spec = pv.plain["spec"]
    assert spec["hostPath"]["path"] == "/var/lib/gtc-demo/models" and "nfs" not in spec
    assert "mountOptions" not in spec


def test_local_stack_without_a_running_cluster_registers_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(PlanError) as info:
        evaluate("local", secrets=LOCAL_SECRETS)
    assert "gtc-demo:clusterSource.kubeconfig" in info.value.message
    assert info.value.registered == 0


def test_local_stack_never_builds_the_loadgen_image():
    message = error_for("local", loadgen={"image": {"source": "build"}})
    assert "loadgen.image.source=build" in message and "allowed: loadgen.image.source=prebuilt" in message
