"""Rule functions: `check(resource_type, name, props) -> [message]`, one module per concern.

They take plain (type, name, props) so tests and the mock-runtime harness can call them directly;
`gtc_policy.pack` wraps them as pulumi-policy policies.
"""
