"""secret-data-from-pulumi-secrets, no-credentials-in-configmaps, no-credentials-in-env-literals."""
from policy_harness import (CONFIG_MAP, DEPLOYMENT, DGD, SECRET, container, deployment, dgd, messages, secret)

SECRET_POLICY = "secret-data-from-pulumi-secrets"
CM_POLICY = "no-credentials-in-configmaps"
ENV_POLICY = "no-credentials-in-env-literals"
HF_TOKEN = "hf_" + "Ab3dE" * 7


def test_secret_values_that_are_pulumi_secrets_pass():
    props = {"metadata": {"name": "hf-token"}, "stringData": {"HF_TOKEN": secret(HF_TOKEN)}}
    assert messages(SECRET, "hf-token", props, SECRET_POLICY) == []


def test_a_whole_data_map_marked_secret_passes():
    props = {"metadata": {"name": "spaces-credentials"},
             "stringData": secret({"AWS_ACCESS_KEY_ID": "DO00ABCDEFGHIJKLMNOP", "AWS_SECRET_ACCESS_KEY": "x"})}
    assert messages(SECRET, "spaces-credentials", props, SECRET_POLICY) == []


def test_plaintext_secret_value_is_named_by_key_without_leaking_it():
    props = {"metadata": {"name": "hf-token"},
             "stringData": {"HF_TOKEN": HF_TOKEN, "HF_HOME": secret("/models")}}
    found = messages(SECRET, "hf-token", props, SECRET_POLICY)
    assert found == ['Secret "hf-token": stringData["HF_TOKEN"] is a plaintext value, not a Pulumi secret; '
                     "read it with config.require_secret(...)"]
    assert HF_TOKEN not in found[0]


def test_plaintext_base64_data_is_also_caught():
    props = {"metadata": {"name": "gradient-api-key"}, "data": {"api-key": "c2VjcmV0"}}
    assert messages(SECRET, "gradient-api-key", props, SECRET_POLICY) == [
        'Secret "gradient-api-key": data["api-key"] is a plaintext value, not a Pulumi secret; '
        "read it with config.require_secret(...)"]


def test_configmap_with_engine_settings_passes():
    props = {"data": {"engine.yaml": "max_num_tokens: 8192\nmax_batch_size: 16\n", "MAX_TOKENS": "8192",
                      "HF_TOKEN_SECRET_NAME": "hf-token"}}
    assert messages(CONFIG_MAP, "engine-config", props, CM_POLICY) == []


def test_configmap_credential_key_is_a_violation():
    props = {"data": {"GRADIENT_API_KEY": "abc"}}
    assert messages(CONFIG_MAP, "loadgen-config", props, CM_POLICY) == [
        'ConfigMap "loadgen-config": data["GRADIENT_API_KEY"] looks like a credential; '
        "ConfigMaps are not secret, put it in a Secret"]


def test_configmap_credential_value_is_named_redacted():
    props = {"data": {"settings.yaml": f"model: llama\nhub_auth: {HF_TOKEN}\n"}}
    found = messages(CONFIG_MAP, "loadgen-config", props, CM_POLICY)
    assert found == ['ConfigMap "loadgen-config": data["settings.yaml"] holds a Hugging Face token '
                     '("hf_Ab3…"); put it in a Secret']
    assert HF_TOKEN not in found[0]


def test_env_from_secret_key_ref_passes():
    c = container("loadgen", env=[{"name": "GRADIENT_API_KEY",
                                   "valueFrom": {"secretKeyRef": {"name": "gradient-api-key", "key": "api-key"}}},
                                  {"name": "MODEL", "value": "nvidia/Llama-3.1-70B-Instruct-FP8"}])
    assert messages(DEPLOYMENT, "loadgen", deployment(c), ENV_POLICY) == []


def test_env_literal_credential_is_a_violation():
    c = container("loadgen", env=[{"name": "CONTROL_TOKEN", "value": "hunter2"}])
    assert messages(DEPLOYMENT, "loadgen", deployment(c), ENV_POLICY) == [
        'Deployment "loadgen": container "loadgen" env CONTROL_TOKEN is a literal value; '
        "use valueFrom.secretKeyRef (or envFromSecret on a DGD service)"]


def test_env_literal_that_is_a_pulumi_secret_is_still_plaintext_in_the_pod_spec():
    c = container("loadgen", env=[{"name": "CONTROL_TOKEN", "value": secret("hunter2")}])
    assert len(messages(DEPLOYMENT, "loadgen", deployment(c), ENV_POLICY)) == 1


def test_env_literal_credential_value_under_an_innocent_name_is_caught():
    c = container("loadgen", env=[{"name": "EXTRA", "value": "dop_v1_" + "0a" * 32}])
    assert messages(DEPLOYMENT, "loadgen", deployment(c), ENV_POLICY) == [
        'Deployment "loadgen": container "loadgen" env EXTRA holds a DigitalOcean API token literal '
        '("dop_v1…"); use valueFrom.secretKeyRef (or envFromSecret on a DGD service)']


def test_dgd_graph_and_service_envs_are_checked():
    graph = dgd()
    graph["spec"]["envs"] = [{"name": "HF_TOKEN", "value": HF_TOKEN}]
    graph["spec"]["services"]["Frontend"]["envs"] = [{"name": "DYN_ROUTER_MODE", "value": "kv"},
                                                     {"name": "ROUTER_PASSWORD", "value": "x"}]
    assert messages(DGD, "gtc-demo", graph, ENV_POLICY) == [
        'DynamoGraphDeployment "gtc-demo": spec.envs env HF_TOKEN is a literal value; '
        "use valueFrom.secretKeyRef (or envFromSecret on a DGD service)",
        'DynamoGraphDeployment "gtc-demo": service "Frontend" mainContainer env ROUTER_PASSWORD is a literal '
        "value; use valueFrom.secretKeyRef (or envFromSecret on a DGD service)"]
