"""Service settings, read once from CLI flags or LOADGEN_* env vars, so image, cluster and rehearsal start it alike."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

DEFAULT_FOLLOWUP_URL = "https://inference.do-ai.run/v1"
DEFAULT_FOLLOWUP_MODEL = "llama3-8b-instruct"


# 24 random bytes as URL-safe base64 (secrets.token_urlsafe(24)); the stacks' token is 40 random alphanumerics.
MIN_TOKEN_CHARS = 32


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know at start-up (secrets are kept out of repr)."""

    frontend_url: str
    model: str
    baseline_url: str | None = None
    control_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 3000
    # /metrics, the OpenAPI document and full conversation texts: in-cluster only (Prometheus scrapes the pod).
    internal_port: int | None = None
    # Host headers the public port answers to (the Gateway hostname, the Service names); "*" for any.
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    max_body_bytes: int = 64 * 1024  # the largest legitimate body: an ITL runs import (50 runs, ~20 KB)
    # Slow clients: request headers and a request body must each arrive within these.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_ws_clients: int = 250  # anonymous live-feed websockets; the token holder has slots beyond these
    # CIDRs of proxies whose X-Forwarded-For is believed (the Gateway's Envoy); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # CIDRs whose addresses stand for many visitors (a load balancer without PROXY protocol): no per-address cap.
    shared_networks: tuple[str, ...] = ()
    ttft_timeout_s: float = 60.0
    followup_url: str = DEFAULT_FOLLOWUP_URL
    followup_model: str = DEFAULT_FOLLOWUP_MODEL
    followup_timeout_s: float = 3.0
    gradient_api_key: str | None = field(default=None, repr=False)
    max_kept_conversations: int = 1000
    request_timeout_s: float = 300.0
    scenario_speedup: float = 1.0
    stats_window_s: float = 120.0
    max_prompt_tokens: int = 8192  # the engine's max-num-tokens: a conversation's longest prompt must fit one prefill
    log_level: str = "info"
    # Speculative decoding the workers run (none | draft-target | eagle3): labels saved runs (itl_runs.py).
    speculative: str = "none"
    itl_runs_file: str | None = None

    def check_bind(self) -> None:
        """Refuse to listen beyond loopback without a strong control token: anyone who can reach the port
        could drive the load, and a short token is guessed in a few requests."""
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = self.host == "localhost"
        if loopback:
            return
        if not self.control_token:
            raise ValueError(f"--host {self.host} is not a loopback address: set --control-token (LOADGEN_CONTROL_TOKEN) to listen there")
        if len(self.control_token) < MIN_TOKEN_CHARS:
            raise ValueError(f"--control-token is {len(self.control_token)} characters; listening on {self.host} (beyond "
                             f"loopback) needs at least {MIN_TOKEN_CHARS} (24 random bytes, e.g. `python -c "
                             "'import secrets; print(secrets.token_urlsafe(24))'`)")

    def upstream_urls(self) -> dict[str, str]:
        """Metric router label -> frontend base URL."""
        urls = {"kv": self.frontend_url}
        if self.baseline_url:
            urls["round-robin"] = self.baseline_url
        return urls
