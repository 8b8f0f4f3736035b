"""Command line: `serve` runs the service, `check` is the operator's smoke test; every flag has a LOADGEN_* env twin."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from loadgen.settings import DEFAULT_FOLLOWUP_MODEL, DEFAULT_FOLLOWUP_URL, Settings


def _env(flag: str, default: str | None = None) -> str | None:
    """Default for --some-flag from LOADGEN_SOME_FLAG."""
    return os.environ.get("LOADGEN_" + flag.upper().replace("-", "_"), default)


def _add(parser: argparse.ArgumentParser, flag: str, *, type=str, default=None, help: str = "", required=False):
    """Add --flag whose default comes from the env; required only when the env does not supply it."""
    env_value = _env(flag)
    value = type(env_value) if env_value not in (None, "") else default
    parser.add_argument(
        f"--{flag}",
        type=type,
        default=value,
        required=required and value is None,
        help=f"{help} [env LOADGEN_{flag.upper().replace('-', '_')}]",
    )


def _common(parser: argparse.ArgumentParser, *, model_required: bool) -> None:
    _add(parser, "frontend-url", required=True, help="KV-routed Dynamo frontend base URL (e.g. http://frontend:8000)")
    _add(parser, "baseline-url", help="round-robin baseline frontend base URL")
    _add(parser, "model", required=model_required, default=None if model_required else "", help="served model name")


def build_parser() -> argparse.ArgumentParser:
    """Parser for both sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m loadgen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the load generator service and web UI")
    _common(serve, model_required=True)
    _add(serve, "port", type=int, default=3000, help="listen port")
    _add(serve, "host", default="127.0.0.1", help="listen address (beyond loopback only with a control token)")
    _add(serve, "internal-port", type=int, help="port for /metrics, the OpenAPI document and full conversation texts (not routed publicly)")
    _add(serve, "allowed-hosts", default="127.0.0.1,localhost,::1", help="comma-separated Host names the public port answers; * for any")
    _add(serve, "control-token", help="bearer token required by state-changing calls")
    _add(serve, "ttft-timeout", type=float, default=60.0, help="seconds allowed until the first token of a completion")
    _add(serve, "max-ws-clients", type=int, default=250, help="live-feed WebSocket connections accepted at once")
    _add(serve, "trusted-proxies", default="", help="comma-separated CIDRs whose X-Forwarded-For is believed (the Gateway's proxies)")
    _add(serve, "shared-networks", default="", help="comma-separated CIDRs whose addresses stand for many visitors (a load balancer's)")
    _add(serve, "followup-url", default=DEFAULT_FOLLOWUP_URL, help="DO Serverless Inference base URL")
    _add(serve, "followup-model", default=DEFAULT_FOLLOWUP_MODEL, help="small model that writes follow-up questions")
    _add(serve, "followup-timeout", type=float, default=3.0, help="seconds before falling back to templates")
    _add(serve, "max-kept-conversations", type=int, default=1000, help="finished conversations kept for the viewer")
    _add(serve, "request-timeout", type=float, default=300.0, help="seconds allowed per streamed completion")
    _add(serve, "scenario-speedup", type=float, default=1.0, help="divide auto-mode phase durations (tests)")
    _add(serve, "stats-window", type=float, default=120.0, help="seconds of history behind the live UI numbers and the headline")
    _add(serve, "max-prompt-length", type=int, default=8192,
         help="longest prompt, in tokens, a conversation may reach (the engine's max-num-tokens); bounds openingTokens")
    _add(serve, "log-level", default="info", help="uvicorn log level")
    _add(serve, "speculative", default="none", help="speculative decoding the workers run: none, draft-target or eagle3")
    _add(serve, "itl-runs-file", help="JSON file keeping saved ITL runs across restarts")

    check = sub.add_parser("check", help="one completion, then a 5-turn conversation per router (KV turn 2 must come "
                                          "from cache), and the UI through --public-url; exit 0 only if all pass")
    _common(check, model_required=False)
    _add(check, "turns", type=int, default=5, help="turns in the conversation")
    _add(check, "opening-tokens", type=int, default=2000, help="approximate length of the opening message")
    _add(check, "max-tokens", type=int, default=64, help="completion tokens per turn")
    _add(check, "min-drop", type=float, default=0.2, help="required fractional TTFT drop of turns 2+ vs turn 1")
    _add(check, "min-cached-fraction", type=float, default=0.5,
         help="KV turn 2: cached prompt tokens needed, as a fraction of turn 1's prompt")
    _add(check, "timeout", type=float, default=120.0, help="seconds per request")
    _add(check, "public-url", help="the UI's public URL (https://<hostname>/): UI, /healthz and /api/status must answer")
    check.add_argument("--public-insecure", action="store_true", default=_env("public-insecure", "") == "true",
                       help="do not verify the public certificate (Let's Encrypt staging) [env LOADGEN_PUBLIC_INSECURE=true]")
    _add(check, "public-wait", type=float, default=600.0, help="seconds to keep retrying the public URL (DNS, certificate)")
    _add(check, "public-retry", type=float, default=10.0, help="seconds between public URL attempts")
    _add(check, "report", help="write the full report as JSON to this file")
    _add(check, "summary-file", help="write the short verdict to this file (in a Job: /dev/termination-log)")
    _add(check, "report-configmap", help="NAMESPACE/NAME: merge the report into this ConfigMap (in-cluster only)")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Build Settings from parsed `serve` args plus GRADIENT_API_KEY."""
    return Settings(
        frontend_url=args.frontend_url,
        baseline_url=args.baseline_url or None,
        model=args.model,
        control_token=args.control_token or None,
        host=args.host,
        port=args.port,
        internal_port=args.internal_port,
        allowed_hosts=tuple(h.strip().lower() for h in args.allowed_hosts.split(",") if h.strip()),
        ttft_timeout_s=args.ttft_timeout,
        max_ws_clients=args.max_ws_clients,
        trusted_proxies=tuple(c.strip() for c in args.trusted_proxies.split(",") if c.strip()),
        shared_networks=tuple(c.strip() for c in args.shared_networks.split(",") if c.strip()),
        followup_url=args.followup_url,
        followup_model=args.followup_model,
        followup_timeout_s=args.followup_timeout,
        gradient_api_key=os.environ.get("GRADIENT_API_KEY") or None,
        max_kept_conversations=args.max_kept_conversations,
        request_timeout_s=args.request_timeout,
        scenario_speedup=args.scenario_speedup,
        stats_window_s=args.stats_window,
        max_prompt_tokens=args.max_prompt_length,
        log_level=args.log_level,
        speculative=args.speculative,
        itl_runs_file=args.itl_runs_file or None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m loadgen`."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from loadgen.server import serve

        settings = settings_from_args(args)
        try:
            settings.check_bind()
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        serve(settings)
        return 0
    from loadgen.check import run_check

    return run_check(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
