"""HTTP surface: control API, status, conversations, WebSocket feed, Prometheus /metrics, health and the web UI."""

from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import itl_runs
from .scenario import PRESETS
from .schemas import WorkloadConfig, WorkloadPatch
from .service import Service
from .settings import Settings
from .stats import summarize

log = logging.getLogger("loadgen.app")
STATIC_DIR = resources.files("loadgen").joinpath("static")
MAX_LIMIT = 5000
WS_INTERVAL_S = 1.0


def _field(loc) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 whose `message` names each offending field."""
    errors = [{k: v for k, v in e.items() if k not in ("ctx", "url", "input")} for e in exc.errors()]
    message = "; ".join(f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors), "message": message})


def _reject(field: str, msg: str) -> None:
    raise RequestValidationError([{"loc": ("body", field), "msg": msg, "type": "value_error"}])


def _service(request: Request) -> Service:
    return request.app.state.service


Svc = Annotated[Service, Depends(_service)]


def create_app(settings: Settings, *, seed: int | None = None) -> FastAPI:
    """Build the ASGI app; all state lives in app.state.service, created at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = Service(settings, seed=seed)
        try:
            yield
        finally:
            await app.state.service.aclose()

    app = FastAPI(title="gtc-demo load generator", lifespan=lifespan, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.add_exception_handler(RequestValidationError, _validation_error)
    expected = f"Bearer {settings.control_token}".encode() if settings.control_token else None

    def require_control(request: Request) -> None:
        """State-changing calls need `Authorization: Bearer <token>` when a token is configured."""
        if expected is None:
            return
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(status_code=401, detail="control token required", headers={"WWW-Authenticate": "Bearer"})

    control = [Depends(require_control)]
    itl_runs.install(app, settings.speculative, settings.itl_runs_file, control)

    def merged(svc: Service, patch: WorkloadPatch | None) -> WorkloadConfig:
        config = patch.apply_to(svc.engine.config) if patch is not None else svc.engine.config
        if config.router not in svc.routers():
            _reject("router", f"router '{config.router}' needs a baseline frontend (--baseline-url); available: {svc.routers()}")
        return config

    @app.post("/api/workload/start", dependencies=control)
    async def workload_start(svc: Svc, patch: Annotated[WorkloadPatch | None, Body()] = None) -> dict:
        config = merged(svc, patch)
        if svc.scenario.auto:
            await svc.scenario.to_manual()
        await svc.engine.start(config)
        return svc.status()

    @app.post("/api/workload/config", dependencies=control)
    async def workload_config(svc: Svc, patch: Annotated[WorkloadPatch, Body()]) -> dict:
        config = merged(svc, patch)
        if svc.scenario.auto and patch.touches_load_shape():
            await svc.scenario.to_manual()
        svc.engine.update(config)
        return svc.status()

    @app.post("/api/workload/stop", dependencies=control)
    async def workload_stop(svc: Svc) -> dict:
        await svc.scenario.stop()
        return svc.status()

    @app.post("/api/workload/reset", dependencies=control)
    async def workload_reset(svc: Svc) -> dict:
        svc.reset()
        return svc.status()

    @app.post("/api/scenario/auto", dependencies=control)
    async def scenario_auto(svc: Svc) -> dict:
        await svc.scenario.start_auto()
        return svc.status()

    @app.post("/api/scenario/stop", dependencies=control)
    async def scenario_stop(svc: Svc) -> dict:
        await svc.scenario.stop()
        return svc.status()

    @app.post("/api/scenario/manual", dependencies=control)
    async def scenario_manual(svc: Svc) -> dict:
        await svc.scenario.to_manual()
        return svc.status()

    @app.get("/api/status")
    async def status(svc: Svc) -> dict:
        return svc.status()

    @app.get("/api/presets")
    async def presets() -> dict:
        return {"presets": list(PRESETS)}

    @app.get("/api/live")
    async def live(svc: Svc) -> dict:
        return svc.stats.snapshot()

    @app.get("/api/conversations")
    async def conversations(
        svc: Svc,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        router: str | None = None,
        status: str | None = None,
        workload: str | None = None,
        run: int | None = None,
    ) -> dict:
        found = svc.store.query(router=router, status=status, run=run, workload=workload)
        page = found[offset : offset + limit]
        return {"total": len(found), "offset": offset, "limit": limit, "conversations": [c.summary() for c in page]}

    @app.get("/api/conversations/{conversation_id}")
    async def conversation(svc: Svc, conversation_id: str) -> dict:
        conv = svc.store.get(conversation_id)
        if conv is None:
            raise HTTPException(status_code=404, detail="conversation not found (never existed or evicted)")
        return conv.detail()

    @app.get("/api/summary")
    async def summary(svc: Svc, run: int | None = None, workload: str | None = "chat") -> dict:
        return {"run": run, "workload": workload, **summarize(svc.store.query(run=run, workload=workload))}

    @app.get("/metrics")
    async def metrics(svc: Svc) -> Response:
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """Pushes {"type": "snapshot", status, live} about once a second."""
        await websocket.accept()
        svc: Service = websocket.app.state.service
        try:
            while True:
                await websocket.send_json({"type": "snapshot", "status": svc.status(), "live": svc.stats.snapshot()})
                await asyncio.sleep(WS_INTERVAL_S)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR.joinpath("index.html")), headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
