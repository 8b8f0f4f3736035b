"""gtc-demo policy pack: rule functions (gtc_policy.rules) and their wiring into pulumi-policy (gtc_policy.pack)."""
