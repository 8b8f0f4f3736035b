"""The second layer of the booth: ITL beside TTFT for both routers, and saved runs for the before/after line.

A saved run is the numbers of one workload run under one speculative decoding setting (TTFT and ITL
p50 per router). The line "ITL p50: X ms without speculative decoding -> Y ms with EAGLE3" compares
the latest saved run without speculative decoding with the latest one with it. Runs are kept in a
JSON file when one is configured (the rehearsal keeps it in the user's cache, so a baseline measured
before `make demo SPEC=eagle3` is still there after the restart) and can always be exported and
imported as JSON (the cluster's pod has no volume; the presenter downloads the baseline and loads it back).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from loadgen.workload.conversations import Conversation

log = logging.getLogger("loadgen.workload.itl_runs")
Method = Literal["none", "draft-target", "eagle3"]
METHOD_LABELS = {"none": "without speculative decoding", "draft-target": "with a draft model", "eagle3": "with EAGLE3"}
MAX_RUNS = 50
EXPORT_FORMAT = "gtc-demo/itl-runs/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouterNumbers(_Strict):
    requests: int = Field(ge=0)
    ttft_p50_ms: Optional[float] = None
    ttft_later_turns_mean_ms: Optional[float] = None
    itl_p50_ms: Optional[float] = None


class SavedRun(_Strict):
    label: str = Field(max_length=120)
    method: Method
    saved_at: float
    run: Optional[int] = None
    routers: dict[Literal["kv", "round-robin"], RouterNumbers]


class RunExport(_Strict):
    format: Literal["gtc-demo/itl-runs/v1"] = EXPORT_FORMAT
    runs: list[SavedRun] = Field(max_length=MAX_RUNS)


class SaveRequest(_Strict):
    label: Optional[str] = Field(None, max_length=120)
    run: Optional[int] = Field(None, ge=0)
    # What the workers ran; defaults to the service's --speculative. In the cluster the presenter says it:
    # the load generator is not redeployed when the stack switches phases.
    method: Optional[Method] = None


def _p50(values: list[float]) -> Optional[float]:
    return round(statistics.median(values), 2) if values else None


def measure(conversations: Iterable[Conversation]) -> dict[str, RouterNumbers]:
    """TTFT p50 (all turns), mean TTFT of turns >= 2 (the KV win) and ITL p50 (per-request mean ITL), per router."""
    by_router: dict[str, list] = {}
    for conv in conversations:
        for rec in conv.turns:
            if rec.error is None:
                by_router.setdefault(rec.router, []).append(rec)
    out = {}
    for router, recs in sorted(by_router.items()):
        later = [r.ttft_ms for r in recs if r.turn >= 2 and r.ttft_ms is not None]
        out[router] = RouterNumbers(
            requests=len(recs),
            ttft_p50_ms=_p50([r.ttft_ms for r in recs if r.ttft_ms is not None]),
            ttft_later_turns_mean_ms=round(statistics.fmean(later), 2) if later else None,
            itl_p50_ms=_p50([r.itl_ms for r in recs if r.itl_ms is not None]),
        )
    return out


def before_after(runs: list[SavedRun], router: str = "kv") -> Optional[str]:
    """"ITL p50: X ms without speculative decoding -> Y ms with EAGLE3 (KV router)" from the latest of each."""
    def latest(match) -> Optional[SavedRun]:
        found = [r for r in runs if match(r) and r.routers.get(router) and r.routers[router].itl_p50_ms]
        return max(found, key=lambda r: r.saved_at) if found else None
    before = latest(lambda r: r.method == "none")
    after = latest(lambda r: r.method != "none")
    if before is None or after is None:
        return None
    x, y = before.routers[router].itl_p50_ms, after.routers[router].itl_p50_ms
    name = "KV router" if router == "kv" else "round-robin"
    return (f"ITL p50: {x:.1f} ms {METHOD_LABELS['none']} \u2192 {y:.1f} ms {METHOD_LABELS[after.method]} "
            f"({x / y:.2f}x lower, {name})")


class RunBook:
    """Saved runs, newest last, at most MAX_RUNS; written through to `path` when there is one."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = path
        self.runs: list[SavedRun] = []
        if path is not None and path.exists():
            try:
                self.runs = RunExport.model_validate_json(path.read_text()).runs
            except ValueError as exc:  # a damaged file must not stop the booth
                log.warning("ignoring saved runs in %s: %s", path, exc)

    def add(self, runs: list[SavedRun]) -> None:
        known = {(r.saved_at, r.label) for r in self.runs}
        self.runs = sorted(self.runs + [r for r in runs if (r.saved_at, r.label) not in known],
                           key=lambda r: r.saved_at)[-MAX_RUNS:]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(self.export().model_dump_json(indent=1))
            tmp.replace(self.path)

    def export(self) -> RunExport:
        return RunExport(runs=self.runs)

    def view(self) -> dict:
        return {"runs": [r.model_dump() for r in self.runs],
                "line": {router: before_after(self.runs, router) for router in ("kv", "round-robin")}}


def install(app: FastAPI, method: str, runs_file: Optional[str], control: list) -> None:
    """Add /api/itl/* to the app: view and export for everyone, save and import behind the control token."""
    if method not in METHOD_LABELS:
        raise ValueError(f"speculative={method!r}; allowed: {', '.join(METHOD_LABELS)}")
    book = RunBook(Path(runs_file).expanduser() if runs_file else None)
    router = APIRouter(prefix="/api/itl")

    @router.get("/runs")
    async def runs() -> dict:
        return {"method": method, **book.view()}

    @router.post("/runs", dependencies=control)
    async def save(request: Request, body: Annotated[Optional[SaveRequest], Body()] = None) -> dict:
        svc = request.app.state.service
        run = body.run if body and body.run is not None else svc.engine.run
        numbers = measure(svc.store.query(run=run, workload="chat"))
        if not numbers:
            return JSONResponse(status_code=409, content={"message": f"run {run} has no finished chat turns to save"})
        ran = body.method if body and body.method else method
        label = (body.label if body and body.label else None) or f"run {run} {METHOD_LABELS[ran]}"
        book.add([SavedRun(label=label, method=ran, saved_at=time.time(), run=run, routers=numbers)])
        return {"method": method, **book.view()}

    @router.get("/export")
    async def export() -> JSONResponse:
        return JSONResponse(json.loads(book.export().model_dump_json()),
                            headers={"Content-Disposition": 'attachment; filename="itl-runs.json"'})

    @router.post("/import", dependencies=control)
    async def import_runs(payload: Annotated[RunExport, Body()],
                          replace: Annotated[bool, Query()] = False) -> dict:
        if replace:
            book.runs = []
        book.add(payload.runs)
        return {"method": method, **book.view()}

    app.include_router(router)
