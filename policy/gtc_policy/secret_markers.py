"""Keep Pulumi's secret markers visible to validation policies.

The engine sends a resource's inputs to the analyzer with secrets still marked (KeepSecrets), but
pulumi-policy 1.21's Analyze/AnalyzeStack unwrap every secret before calling `validate`, so a rule
cannot tell `config.require_secret("hf_token")` from a literal typed into the program. This swaps the
deserializer the servicer uses for one that leaves each secret as a `pulumi_policy.Secret` holding its
value; rules read values through `gtc_policy.props.reveal`.

Fail-closed: if a future pulumi-policy stops calling this hook, secrets arrive as plain strings and the
Secret-data rule reports them as plaintext, so a silent bypass is not possible.
"""
from typing import Any, Dict

import pulumi_policy.policy as _servicer_module
from pulumi_policy import Secret
from pulumi_policy.deserialize import (
    SPECIAL_SECRET_SIG,
    SPECIAL_SIG_KEY,
    _deserialize_property,
    deserialize_properties as _unwrapping_deserialize,
)


def _keep_secrets(value: Any) -> Any:
    if isinstance(value, list):
        return [_keep_secrets(item) for item in value]
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return Secret(_keep_secrets(value.get("value")))
        if SPECIAL_SIG_KEY in value:  # assets and archives: the SDK's own handling
            return _deserialize_property(value)
        return {key: _keep_secrets(item) for key, item in value.items()}
    return value


def deserialize_keeping_secrets(props: Dict[str, Any], proxy_secrets: bool = False) -> Dict[str, Any]:
    """Drop-in for pulumi_policy.deserialize.deserialize_properties that marks secrets instead of unwrapping."""
    if proxy_secrets:  # Remediate's path already preserves secrets its own way
        return _unwrapping_deserialize(props, proxy_secrets)
    return {key: _keep_secrets(value) for key, value in props.items()}


def keep_secret_markers() -> None:
    """Install the secret-keeping deserializer into the pulumi-policy servicer (idempotent)."""
    _servicer_module.deserialize_properties = deserialize_keeping_secrets
