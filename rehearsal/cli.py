"""`python -m rehearsal`: start the whole demo on 127.0.0.1 and keep it up until Ctrl-C.

Exit codes: 0 after a clean Ctrl-C/SIGTERM, 1 if a process died (a worker that dies after the
stack was ready is restarted instead, up to 5 times) or the stack
never became ready, 2 if a port was already taken. Every path stops every
process this launcher started.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rehearsal import calibration
from rehearsal.ports import PortTaken
from rehearsal.speculative import METHODS, SpecDecoding
from rehearsal.settings import (
    DEFAULT_KV_PORT,
    DEFAULT_RR_PORT,
    DEFAULT_UI_PORT,
    DEFAULT_WORKERS,
    ROUTER_PRESETS,
    MockerTiming,
)
from rehearsal.stack import NotReady, Readiness, Stack, StackConfig
from rehearsal.supervisor import ProcessDied


DEFAULT_ITL_RUNS_FILE = Path.home() / ".cache" / "gtc-demo" / "itl-runs.json"


class Stop(Exception):
    """Raised from the signal handler so the main loop unwinds through cleanup."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--ui-port", type=int, default=DEFAULT_UI_PORT, help="load generator UI port")
    parser.add_argument("--kv-port", type=int, default=DEFAULT_KV_PORT, help="KV-routed frontend port")
    parser.add_argument("--rr-port", type=int, default=DEFAULT_RR_PORT, help="round-robin frontend port")
    parser.add_argument("--calibration", choices=sorted(calibration.GPUS), default="h100",
                        help="the GPU the mockers are timed for: h100 (the dev stack) or h200 (prod)")
    parser.add_argument("--layout", choices=sorted(calibration.LAYOUTS), default=calibration.BOOTH_LAYOUT,
                        help="the replica layout timed (the stack's model.replicas x model.tensorParallel); "
                             "70b-tp4 is the booth's 2 x TP=4")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"mocker workers (replicas); default: the layout's ({DEFAULT_WORKERS} for the booth's)")
    parser.add_argument("--router", choices=sorted(ROUTER_PRESETS), default="booth",
                        help="KV frontend router settings: the booth's chosen ones or Dynamo's defaults")
    parser.add_argument("--spec", choices=METHODS, default="none",
                        help="speculative decoding the mocker workers model (the stack's model.speculative.method)")
    parser.add_argument("--max-draft-len", type=int, default=3, help="draft tokens per step (model.speculative.maxDraftLen)")
    parser.add_argument("--itl-runs-file", type=Path, default=DEFAULT_ITL_RUNS_FILE,
                        help="saved ITL runs, kept across restarts (the before/after line compares them)")
    parser.add_argument("--no-loadgen", action="store_true", help="start only Dynamo (drive it yourself)")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for registration")
    parser.add_argument("--logs-dir", type=Path, help="keep process logs here instead of a temp dir")
    return parser


def config_from_args(args: argparse.Namespace) -> StackConfig:
    if args.spec != "none" and args.layout != calibration.BOOTH_LAYOUT:
        # rehearsal/speculative.py times drafting from the TP=4 70B spec-decode measurements only.
        raise ValueError(f"--spec {args.spec} is timed for --layout {calibration.BOOTH_LAYOUT} only, not {args.layout}")
    timing = MockerTiming(calibration=args.calibration, layout=args.layout)
    return StackConfig(
        kv_port=args.kv_port,
        rr_port=args.rr_port,
        ui_port=None if args.no_loadgen else args.ui_port,
        workers=args.workers or timing.replicas,
        timing=timing,
        router=ROUTER_PRESETS[args.router],
        spec=SpecDecoding(args.spec, args.max_draft_len),
        itl_runs_file=args.itl_runs_file,
    )


def _raise_stop(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def _progress_printer(config: StackConfig):
    want_ui = config.ui_port is not None
    last = [""]

    def show(state: Readiness) -> None:
        line = state.line(config.workers, want_ui)
        if line != last[0]:
            print("  " + line, flush=True)
            last[0] = line

    return show


def run(config: StackConfig, ready_timeout: float, logs_dir: Path | None = None, stack_factory=Stack) -> int:
    """Start, wait, serve until a signal or a death; always stop everything."""
    stack = stack_factory(config, work_dir=logs_dir)
    try:
        layout = calibration.LAYOUTS[config.timing.layout].label
        print(f"Starting Dynamo rehearsal: {config.workers} mocker workers timed as {layout} on {config.timing.calibration}, "
              f"KV router ({config.router.label()}), "
              f"{config.spec.label()}", flush=True)
        stack.start()
        stack.wait_ready(ready_timeout, on_progress=_progress_printer(config))
        print("\nReady:")
        if config.ui_url:
            print(f"  load generator UI      {config.ui_login_url}")
            print(f"  control token          {config.control_token}  (the link above hands it to the page)")
            if config.ui_metrics_url:
                print(f"  load generator metrics {config.ui_metrics_url}/metrics")
        print(f"  KV-routed frontend     {config.kv_url}/v1")
        print(f"  round-robin frontend   {config.rr_url}/v1")
        for name, url in stack.worker_system_urls.items():
            print(f"  worker {name:<16}{url}/health  /metrics")
        print(f"  logs                   {stack.supervisor.log_dir}")
        print("Press Ctrl-C to stop everything. A process that dies is restarted after a backoff (and said so here).", flush=True)
        while True:
            for restart in stack.supervisor.check_alive():
                kind = "worker " if restart.name.startswith("mocker") else ""
                print(f"{time.strftime('%H:%M:%S')} {kind}{restart.line(stack.supervisor.max_restarts)}", flush=True)
            time.sleep(1.0)
    except PortTaken as error:
        print(f"error: {error}; pick other ports (--ui-port/--kv-port/--rr-port)", file=sys.stderr)
        return 2
    except ProcessDied as died:
        print(f"error: {died}. Last lines of its log:\n{died.log_tail}", file=sys.stderr)
        return 1
    except NotReady as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (Stop, KeyboardInterrupt):
        print("\nStopping...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()
        print("All rehearsal processes stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    return run(config_from_args(args), args.ready_timeout, args.logs_dir)
