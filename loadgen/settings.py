"""Service settings, read once from CLI flags or LOADGEN_* env vars, so image, cluster and rehearsal start it alike."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_FOLLOWUP_URL = "https://inference.do-ai.run/v1"
DEFAULT_FOLLOWUP_MODEL = "llama3-8b-instruct"


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know at start-up (secrets are kept out of repr)."""

    frontend_url: str
    model: str
    baseline_url: str | None = None
    control_token: str | None = field(default=None, repr=False)
    host: str = "0.0.0.0"
    port: int = 3000
    followup_url: str = DEFAULT_FOLLOWUP_URL
    followup_model: str = DEFAULT_FOLLOWUP_MODEL
    followup_timeout_s: float = 3.0
    gradient_api_key: str | None = field(default=None, repr=False)
    max_kept_conversations: int = 1000
    request_timeout_s: float = 300.0
    scenario_speedup: float = 1.0
    stats_window_s: float = 60.0
    log_level: str = "info"
    # Speculative decoding the workers run (none | draft-target | eagle3): labels saved runs (itl_runs.py).
    speculative: str = "none"
    itl_runs_file: str | None = None

    def upstream_urls(self) -> dict[str, str]:
        """Metric router label -> frontend base URL."""
        urls = {"kv": self.frontend_url}
        if self.baseline_url:
            urls["round-robin"] = self.baseline_url
        return urls
