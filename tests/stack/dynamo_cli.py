"""Parse a Dynamo command line with the installed ai-dynamo's own argument parser, in a subprocess.

    python dynamo_cli.py  < {"module": "trtllm"|"frontend"|"mocker", "args": [...], "env": {...}}

Prints {"exit": code or null, "warnings": [...], "errors": [...], "config": {...}}: every Python warning
and every WARNING+ log line the parser emitted (deprecations included), and the parsed settings. Run
with parser_stubs/ on PYTHONPATH (the TRT-LLM worker's parser imports tensorrt_llm for four defaults).
"""

import json
import logging
import os
import sys
import warnings


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def _parse(module: str, args: list[str]):
    if module == "trtllm":
        from dynamo.trtllm.args import parse_args
        return parse_args(args)
    if module == "mocker":
        from dynamo.mocker.args import parse_args
        return parse_args(args)
    if module == "frontend":
        from dynamo.frontend.main import parse_args
        sys.argv = ["python -m dynamo.frontend", *args]
        config, _, _ = parse_args()
        return config
    raise ValueError(f"unknown module {module!r}")


def main() -> int:
    request = json.load(sys.stdin)
    for key in [k for k in os.environ if k.startswith("DYN_")]:
        del os.environ[key]  # only the env the DGD gives the container
    os.environ.update(request.get("env", {}))
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    result = {"exit": None, "warnings": [], "errors": [], "config": {}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = _parse(request["module"], request["args"])
            result["config"] = json.loads(json.dumps(vars(config), default=str))
        except SystemExit as exc:
            result["exit"] = exc.code if isinstance(exc.code, int) else 1
    dynamo_warnings = [w for w in caught if "dynamo" in (w.filename or "") or issubclass(w.category, DeprecationWarning)
                       or issubclass(w.category, FutureWarning)]
    result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in dynamo_warnings]
    result["warnings"] += [r.getMessage() for r in handler.records if r.levelno == logging.WARNING]
    result["errors"] = [r.getMessage() for r in handler.records if r.levelno >= logging.ERROR]
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
