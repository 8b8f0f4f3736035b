"""Prometheus metrics (names are a contract with the Grafana dashboards), one registry per app instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# 10 ms .. 30 s, roughly x1.5-2 per step: resolves cached (tens of ms) and uncached long-prompt TTFT.
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)
# Inter-token latency: 1 ms .. 1 s.
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0)
# Whole request: 50 ms .. 5 min.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)

MAX_TURN_LABEL = 5


def turn_label(turn: int) -> str:
    """'1'..'5'; later turns are folded into '5' to keep label cardinality fixed."""
    return str(min(max(turn, 1), MAX_TURN_LABEL))


class Metrics:
    """All loadgen_* series; see loadgen/README.md for the list."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        per_request = ("workload", "router", "turn")
        self.ttft = Histogram("loadgen_ttft_seconds", "Time to first content token", per_request, buckets=TTFT_BUCKETS, registry=r)
        self.itl = Histogram("loadgen_itl_seconds", "Mean inter-token latency of one request", per_request, buckets=ITL_BUCKETS, registry=r)
        self.duration = Histogram("loadgen_request_duration_seconds", "End-to-end request latency", per_request, buckets=DURATION_BUCKETS, registry=r)
        self.requests = Counter("loadgen_requests_total", "Completed requests by status (ok|error)", ("workload", "router", "status"), registry=r)
        self.errors = Counter("loadgen_errors_total", "Failed requests by kind", ("workload", "router", "kind"), registry=r)
        self.active = Gauge("loadgen_active_conversations", "Sessions in progress (chat conversations and single requests)", ("router",), registry=r)
        self.inflight = Gauge("loadgen_inflight_requests", "Requests currently streaming", ("router",), registry=r)
        self.followup_fallbacks = Counter("loadgen_followup_fallbacks_total", "Follow-up questions taken from built-in templates", registry=r)
        self.followups = Counter("loadgen_followups_total", "Follow-up questions by source (gradient|template)", ("source",), registry=r)
        self.cached_tokens = Counter("loadgen_cached_tokens_total", "Prompt tokens the server reported as cached", ("router", "turn"), registry=r)
        self.prompt_tokens = Counter("loadgen_prompt_tokens_total", "Prompt tokens the server reported", ("router", "turn"), registry=r)
        self.completion_tokens = Counter("loadgen_completion_tokens_total", "Completion tokens received", ("workload", "router"), registry=r)
        self.conversations = Counter(
            "loadgen_conversations_total", "Sessions finished by outcome (completed|error|cancelled)", ("workload", "router", "outcome"), registry=r
        )
        self.skipped = Counter("loadgen_arrivals_skipped_total", "Arrivals not started because maxConcurrency was reached", ("workload",), registry=r)
        self.target_rps = Gauge("loadgen_target_rps", "Configured totalRPS (0 when stopped)", registry=r)
        self.scenario_phase = Gauge("loadgen_scenario_phase", "1 for the current auto-mode phase", ("phase",), registry=r)
        # Auto mode's time slices: the last completed slice's median TTFT per router, and KV / round-robin.
        self.slice_ttft = Gauge("loadgen_slice_ttft_mean_seconds", "Mean TTFT of the last completed auto-mode slice",
                                ("phase", "router", "turns"), registry=r)
        self.slice_ratio = Gauge("loadgen_slice_ttft_ratio", "KV / round-robin mean TTFT of the last twin slices",
                                 ("phase", "turns"), registry=r)
        for router in ("kv", "round-robin"):
            self.active.labels(router=router).set(0)
            self.inflight.labels(router=router).set(0)
        self.followup_fallbacks.inc(0)
