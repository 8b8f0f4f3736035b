"""Bad stack config fails at preview with a message naming the key, the value and what is allowed.

Most cases validate the stack file's config with one key changed (fast, no subprocess); a few run the
whole program to show the failure happens before any resource is registered, as `pulumi preview` prints it.
"""

import copy

import pytest
from plan import PlanError, evaluate, stack_config

from components.config import ConfigError, StackConfig, parse_config

PREFIX = "gtc-demo:"


def raw_config(stack: str) -> dict:
    """The stack file's project config as the program receives it (keys without the namespace)."""
    return {k[len(PREFIX):]: copy.deepcopy(v) for k, v in stack_config(stack).items() if k.startswith(PREFIX)}


def error_for(stack: str, **changes) -> str:
    raw = raw_config(stack)
    for dotted, value in changes.items():
        node = raw
        *path, last = dotted.split("__")
        for part in path:
            node = node[part]
        node[last] = value
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_are_valid_and_match_the_seeds(stack):
    config = parse_config(raw_config(stack))
    expected = {
        "dev": ("ams3", "gpu-h100x8-640gb", "gtc-2026.dev.digitalocean.solutions"),
        "prod": ("atl1", "gpu-h200x8-1128gb-contracted", "gtc-2026.digitalocean.solutions"),
    }[stack]
    assert (config.region, config.gpu_pool.slug, config.hostname) == expected
    assert config.gpu_pool.count == 1
    assert config.model.name == "nvidia/Llama-3.1-70B-Instruct-FP8"
    assert (config.model.replicas, config.model.tensor_parallel) == (2, 4)
    assert config.cluster.management_pool.size == "s-2vcpu-4gb"
    assert (config.cluster.management_pool.min_nodes, config.cluster.management_pool.max_nodes) == (2, 5)


def test_unknown_gpu_slug_names_key_value_and_allowed():
    message = error_for("dev", gpuPool__slug="gpu-h100x8-80gb")
    assert "gtc-demo:gpuPool.slug='gpu-h100x8-80gb'" in message
    assert "unknown GPU droplet slug" in message
    assert "gpu-h100x8-640gb" in message and "gpu-h200x8-1128gb-contracted" in message


def test_more_gpus_than_the_pool_has():
    message = error_for("prod", model__replicas=3)
    assert "model.replicas x model.tensorParallel = 3 x 4 = 12 GPUs" in message
    assert "gpu-h200x8-1128gb-contracted x 1 has 8" in message
    assert "allowed: at most 8" in message


def test_tensor_parallel_larger_than_one_node():
    message = error_for("dev", gpuPool__count=2, model__replicas=1, model__tensorParallel=16)
    assert "tensorParallel=16 exceeds the 8 GPUs" in message


def test_mocker_backend_needs_no_gpus():
    raw = raw_config("dev")
    raw["workerBackend"] = "mocker"
    raw["model"]["replicas"] = 8
    assert parse_config(raw).uses_gpus is False


@pytest.mark.parametrize("field,value,other", [
    ("clusterSubnet", "10.110.8.0/24", "vpcCidr=10.110.0.0/20"),
    ("serviceSubnet", "10.112.128.0/17", "clusterSubnet=10.112.0.0/16"),
])
def test_overlapping_cidrs(field, value, other):
    message = error_for("dev", **{f"network__{field}": value})
    assert "gtc-demo:network: " in message
    assert f"{field}={value}" in message and other in message
    assert "must be disjoint" in message


def test_malformed_cidr():
    message = error_for("dev", network__vpcCidr="10.110.0.1/20")
    assert "gtc-demo:network.vpcCidr='10.110.0.1/20'" in message
    assert "CIDR form" in message


def test_hostname_outside_the_managed_domain():
    message = error_for("prod", hostname="gtc.example.com")
    assert "gtc-demo:" in message and "hostname='gtc.example.com'" in message
    assert "outside the managed domain 'digitalocean.solutions'" in message


@pytest.mark.parametrize("image,why", [
    ("registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen:latest", "'latest'"),
    ("registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen", "pinned to a tag or digest"),
])
def test_unpinned_images(image, why):
    message = error_for("dev", images__loadgen=image)
    assert f"gtc-demo:images.loadgen='{image}'" in message
    assert why in message


def test_digest_pinned_image_is_accepted():
    raw = raw_config("dev")
    raw["images"]["loadgen"] = "registry.digitalocean.com/x/loadgen@sha256:" + "a" * 64
    assert parse_config(raw).images.loadgen.endswith("a" * 64)


@pytest.mark.parametrize("version", ["latest", "~1.19", "1.19", ">=1.0.0"])
def test_unpinned_chart_versions(version):
    """Chart pins live in components/charts.py (one place); an inexact one fails at import, naming the chart."""
    from components.charts import ChartPin
    with pytest.raises(ValueError) as info:
        ChartPin("cert-manager", "https://charts.jetstack.io", version)
    assert f"chart cert-manager: version must be an exact version such as 1.2.3" in str(info.value)
    assert repr(version) in str(info.value)


def test_every_chart_pin_is_exact():
    from components.charts import CHARTS, EXACT_VERSION
    assert CHARTS and all(EXACT_VERSION.match(pin.version) for pin in CHARTS.values())


def test_chart_source_must_be_repository_or_vendored():
    message = error_for("dev", charts__source="oci")
    assert "gtc-demo:charts.source='oci'" in message
    assert "'repository' or 'vendored'" in message
    assert parse_config({**raw_config("dev"), "charts": {"source": "vendored"}}).charts.source == "vendored"
    assert parse_config({k: v for k, v in raw_config("dev").items() if k != "charts"}).charts.source == "repository"


def test_per_stack_chart_pins_are_rejected():
    """The old `charts.<release>: {chart, repo, version}` keys would now be ignored: they fail instead."""
    message = error_for("dev", charts__dynamoCrds={"chart": "dynamo-crds", "repo": "x", "version": "1.6.1"})
    assert "gtc-demo:charts.dynamoCrds" in message


def test_unknown_keys_are_rejected():
    message = error_for("dev", cluster__haa=True)
    assert "gtc-demo:cluster.haa" in message


def test_unknown_region():
    message = error_for("dev", region="mars1")
    assert "gtc-demo:region='mars1'" in message and "ams3" in message


def test_missing_required_key_says_how_to_set_it():
    raw = raw_config("dev")
    del raw["hostname"]
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "gtc-demo:hostname: is required" in str(info.value)
    assert "pulumi config set gtc-demo:hostname" in str(info.value)


def test_config_is_immutable_once_read():
    config = parse_config(raw_config("dev"))
    with pytest.raises(Exception):
        config.region = "nyc3"
    assert isinstance(config, StackConfig)


# -- through the whole program: what `pulumi preview` shows, and that nothing was registered ----

def test_bad_config_fails_the_program_before_any_resource():
    with pytest.raises(PlanError) as info:
        evaluate("prod", overrides={"gtc-demo:gpuPool": {"slug": "gpu-h100x8-80gb", "count": 1}})
    assert "gtc-demo:gpuPool.slug='gpu-h100x8-80gb'" in info.value.message
    assert "Traceback" not in info.value.message
    assert info.value.registered == 0


@pytest.mark.parametrize("key", ["gtc-demo:hfToken", "gtc-demo:gradientApiKey"])
def test_missing_required_secret(key):
    with pytest.raises(PlanError) as info:
        evaluate("dev", secrets={key: None})
    assert f"missing required secret {key}" in info.value.message
    assert f"pulumi config set --secret {key}" in info.value.message
    assert info.value.registered == 0


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("key", ["digitalocean:token", "digitalocean:spacesAccessId", "digitalocean:spacesSecretKey"])
def test_account_credentials_in_the_stack_config_are_refused(stack, key):
    """The audit's high: a token in the config is decrypted by every holder of the passphrase, a PR
    preview's included, and a branch program printed it. Refused before anything is registered, even when
    the environment holds the same credential."""
    with pytest.raises(PlanError) as info:
        evaluate(stack, secrets={key: "dop_v1_" + "f" * 64})
    assert f"{key}: an account credential in the stack's config" in info.value.message
    assert f"pulumi config rm {key}" in info.value.message
    assert "f" * 64 not in info.value.message
    assert info.value.registered == 0


@pytest.mark.parametrize("variable", ["DIGITALOCEAN_TOKEN", "SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"])
def test_missing_account_credential_in_the_environment_is_named(variable):
    with pytest.raises(PlanError) as info:
        evaluate("prod", environment={variable: None})
    assert variable in info.value.message and "never stack config" in info.value.message
    assert info.value.registered == 0


def test_the_providers_other_token_variable_is_enough():
    """The provider reads DIGITALOCEAN_ACCESS_TOKEN as well (upstream/digitalocean/provider.go)."""
    plan = evaluate("dev", environment={"DIGITALOCEAN_TOKEN": None, "DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_x"})
    assert plan.resources



def test_misspelt_top_level_key_is_not_silently_ignored():
    with pytest.raises(PlanError) as info:
        evaluate("dev", overrides={"gtc-demo:gpupool": {"slug": "gpu-h100x8-640gb", "count": 1}})
    assert "gtc-demo:gpupool: unknown key" in info.value.message
    assert "gpuPool" in info.value.message  # the allowed spelling is listed
    assert info.value.registered == 0


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_file_names_every_secret_a_preview_needs(stack):
    """An operator following the stack file's header must not stop at a look-up ("Spaces credentials not
    configured"): every secret the program or the provider requires is named with its command."""
    from tests.stack.plan import FAKE_SECRETS, REPO
    header = (REPO / f"Pulumi.{stack}.yaml").read_text().split("\nconfig:", 1)[0]
    for key in FAKE_SECRETS:
        assert f"pulumi config set --secret {key} " in header, f"Pulumi.{stack}.yaml does not say how to set {key}"


# -- dev cannot touch prod: prod names nothing dev's credentials reach (issue 27) -------------------

@pytest.mark.parametrize("override,key,value", [
    ({"gtc-demo:spaces": {"bucket": "do-gtc2026-doks-demo-dev", "region": "ams3"}}, "spaces.bucket", "do-gtc2026-doks-demo-dev"),
    ({"gtc-demo:containerRegistry": "do-solutions-dev"}, "containerRegistry", "do-solutions-dev"),
    ({"gtc-demo:domain": "dev.digitalocean.solutions", "gtc-demo:hostname": "gtc-2026.dev.digitalocean.solutions"},
     "domain", "dev.digitalocean.solutions"),
    # the same zone spelt otherwise: upper case and a trailing dot
    ({"gtc-demo:domain": "DEV.digitalocean.solutions.", "gtc-demo:hostname": "gtc-2026.DEV.digitalocean.solutions"},
     "domain", "DEV.digitalocean.solutions."),
    # prod's own zone, but its hostname inside dev's delegated zone
    ({"gtc-demo:hostname": "booth.dev.digitalocean.solutions"}, "hostname", "booth.dev.digitalocean.solutions"),
])
def test_prod_refuses_a_name_that_devs_credentials_reach(override, key, value):
    with pytest.raises(PlanError) as info:
        evaluate("prod", overrides=override)
    message = info.value.message
    assert f"gtc-demo:{key}={value!r} is within reach of stack 'dev'" in message, message
    assert "allowed: a name of this stack's own DigitalOcean team" in message
    assert info.value.registered == 0


def test_prod_refuses_a_name_another_stack_inherits_by_default():
    """A dev file that leaves `spaces.bucket` out gets the default bucket, which is prod's: refused too."""
    from components.isolation import check_isolation
    prod = parse_config(stack_config_values("prod"))
    dev = stack_config_values("dev")
    dev.pop("spaces")
    errors = check_isolation("prod", prod, parse_config, others={"dev": dev})
    assert any("gtc-demo:spaces.bucket='do-gtc2026-doks-demo'" in e for e in errors), errors
    # the local stack's control plane holds no DigitalOcean credential: never a reason to refuse
    assert check_isolation("prod", prod, parse_config, others={"local": stack_config_values("local")}) == []


def test_the_stack_files_share_nothing_today():
    from components.isolation import check_isolation
    assert check_isolation("prod", parse_config(stack_config_values("prod")), parse_config) == []


def stack_config_values(stack: str) -> dict:
    """A stack file's `gtc-demo:` values (prefix stripped), with the operator's prod allowlist."""
    values = {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in stack_config(stack).items() if k.startswith("gtc-demo:")}
    if stack == "prod":
        values["cluster"]["controlPlaneAllowlist"] = ["198.51.100.7/32"]
    return values


@pytest.mark.parametrize("key", ["digitalocean:token", "digitalocean:spacesSecretKey"])
def test_an_account_credential_as_plain_config_is_refused_too(key):
    """Plain text (`pulumi config set` without --secret) is the worse spelling of the same mistake."""
    with pytest.raises(PlanError) as info:
        evaluate("dev", overrides={key: "dop_v1_" + "0" * 64})
    assert f"{key}: an account credential in the stack's config" in info.value.message
    assert "0" * 64 not in info.value.message and info.value.registered == 0
