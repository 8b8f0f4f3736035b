"""Load generator for the gtc-demo booth: multi-turn chat traffic against Dynamo frontends."""

__version__ = "1.0.0"
