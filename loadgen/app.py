"""HTTP surface: control API, status, conversations, WebSocket feed, Prometheus /metrics, health and the web UI."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from loadgen.workload import itl_runs
from loadgen.workload.scenario import PRESETS, preset_patch
from loadgen.schemas import WorkloadConfig, WorkloadPatch
from loadgen.edge.admission import ANONYMOUS_REQUESTS, REQUESTS_PER_ADDRESS, Admission, networks
from loadgen.edge.assets import StaticAssets
from loadgen.edge.views import TICK_S, dumps
from loadgen.edge.guard import EdgeGuard, EdgePolicy, bearer_ok
from loadgen.service import Service
from loadgen.settings import Settings
from loadgen.stats.window import summarize

log = logging.getLogger("loadgen.app")
STATIC_DIR = resources.files("loadgen").joinpath("static")
MAX_LIMIT = 5000
MAX_SHOWN_KEY = 40  # an unknown key is named in the 422, cut to this many characters


def _short(part) -> str | int:
    if isinstance(part, str) and len(part) > MAX_SHOWN_KEY:
        return part[:MAX_SHOWN_KEY] + "..."
    return part


def _field(loc) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 whose `message` names each offending field (never echoing more than a short prefix of it)."""
    errors = [{**{k: v for k, v in e.items() if k not in ("ctx", "url", "input", "loc")}, "loc": [_short(p) for p in e.get("loc", ())]}
              for e in exc.errors()[:10]]
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

    app = FastAPI(title="gtc-demo load generator", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Outermost: runs before routing, so no route ever sees an unauthorised or oversized body.
    app.add_middleware(EdgeGuard, policy=EdgePolicy(
        token=settings.control_token,
        allowed_hosts=frozenset(settings.allowed_hosts),
        internal_port=settings.internal_port,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
        trusted=networks(settings.trusted_proxies),
    ), admission=Admission(anonymous=ANONYMOUS_REQUESTS, per_address=REQUESTS_PER_ADDRESS,
                           shared=networks(settings.shared_networks)))

    def require_control(request: Request) -> None:
        """Second check behind EdgeGuard (which already refused tokenless non-GET requests before their body)."""
        if not bearer_ok(request.headers.get("authorization"), settings.control_token):
            raise HTTPException(status_code=401, detail="control token required", headers={"WWW-Authenticate": "Bearer"})

    control = [Depends(require_control)]
    itl_runs.install(app, settings.speculative, settings.itl_runs_file, control)

    def merged(svc: Service, patch: WorkloadPatch | None) -> WorkloadConfig:
        config = patch.apply_to(svc.engine.config) if patch is not None else svc.engine.config
        if config.router not in svc.routers():
            _reject("router", f"router '{config.router}' needs a baseline frontend (--baseline-url); available: {svc.routers()}")
        limit = svc.settings.max_prompt_tokens
        if config.mix.a > 0 and config.longest_prompt() > limit:
            _reject("openingTokens", f"opening {config.opening_tokens()} + {config.turns.max - 1} follow-ups of up to {config.maxTokens} tokens "
                    f"reach {config.longest_prompt()} prompt tokens; the engine takes at most {limit} (max-num-tokens): shorten the opening, turns or maxTokens")
        return config

    # Auth, Origin and body size are checked by EdgeGuard for every non-GET request; ControlPlane serialises the actions.
    @app.post("/api/workload/start")
    async def workload_start(svc: Svc, patch: Annotated[WorkloadPatch | None, Body()] = None) -> dict:
        await svc.control.start(merged(svc, patch))
        return svc.status()

    @app.post("/api/workload/config")
    async def workload_config(svc: Svc, patch: Annotated[WorkloadPatch, Body()]) -> dict:
        await svc.control.configure(merged(svc, patch), patch)
        return svc.status()

    @app.post("/api/workload/stop")
    async def workload_stop(svc: Svc) -> dict:
        await svc.control.stop()
        return svc.status()

    @app.post("/api/workload/reset")
    async def workload_reset(svc: Svc) -> dict:
        await svc.control.reset()
        return svc.status()

    @app.post("/api/scenario/auto")
    async def scenario_auto(svc: Svc, comparison: Annotated[Literal["sliced", "side-by-side"], Query()] = "sliced") -> dict:
        """Auto mode. `sliced` (default): one router at a time on the replicas, twin slices compared;
        `side-by-side`: both routers at once on shared replicas."""
        await svc.control.auto(side_by_side=comparison == "side-by-side")
        return svc.status()

    @app.post("/api/scenario/stop")
    async def scenario_stop(svc: Svc) -> dict:
        await svc.control.stop()
        return svc.status()

    @app.post("/api/scenario/manual")
    async def scenario_manual(svc: Svc) -> dict:
        await svc.control.manual()
        return svc.status()

    @app.get("/api/status")
    async def status(svc: Svc, request: Request) -> dict:
        internal = settings.internal_port is not None and request.scope.get("server", (None, None))[1] == settings.internal_port
        return svc.status(detail=internal or bearer_ok(request.headers.get("authorization"), settings.control_token))

    @app.get("/api/presets")
    async def presets() -> dict:
        return {"presets": list(PRESETS)}

    @app.post("/api/presets/{preset_id}")
    async def apply_preset(svc: Svc, preset_id: str) -> dict:
        """One click: leave auto mode, apply the preset (both routers side by side) and run it."""
        preset = next((p for p in PRESETS if p["id"] == preset_id), None)
        if preset is None:
            raise HTTPException(status_code=404, detail=f"unknown preset; choose one of {[p['id'] for p in PRESETS]}")
        await svc.control.start(merged(svc, WorkloadPatch.model_validate(preset_patch(preset, "ab" in svc.routers()))))
        return svc.status()

    def privileged(request: Request) -> bool:
        """The internal port or the token holder (or a loopback service without a token): reads the live store."""
        internal = settings.internal_port is not None and request.scope.get("server", (None, None))[1] == settings.internal_port
        return internal or bearer_ok(request.headers.get("authorization"), settings.control_token)

    def public_json(body: bytes) -> Response:
        return Response(body, media_type="application/json", headers={"Cache-Control": f"public, max-age={TICK_S:g}"})

    @app.get("/api/live")
    async def live(svc: Svc, request: Request):
        if privileged(request):
            return svc.stats.snapshot()
        return public_json(svc.views.live())

    @app.get("/api/conversations")
    async def conversations(
        svc: Svc,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 0,
        router: Annotated[str | None, Query(max_length=40)] = None,
        status: Annotated[str | None, Query(max_length=40)] = None,
        workload: Annotated[str | None, Query(max_length=40)] = None,
        run: int | None = None,
    ):
        """Newest first. Anonymous viewers get pages of at most PUBLIC_LIMIT, built once per tick."""
        if not privileged(request):
            return public_json(svc.views.conversations(router=router, status=status, run=run, workload=workload,
                                                       offset=offset, limit=limit))
        found = svc.store.query(router=router, status=status, run=run, workload=workload)
        page = found[offset : offset + limit]
        return Response(dumps({"total": len(found), "offset": offset, "limit": limit,
                               "conversations": [c.summary() for c in page]}), media_type="application/json")

    @app.get("/api/conversations/{conversation_id}")
    async def conversation(svc: Svc, conversation_id: str, request: Request) -> dict:
        conv = svc.store.get(conversation_id)
        if conv is None:
            raise HTTPException(status_code=404, detail="conversation not found (never existed or evicted)")
        internal = settings.internal_port is not None and request.scope.get("server", (None, None))[1] == settings.internal_port
        if internal or bearer_ok(request.headers.get("authorization"), settings.control_token):
            return conv.detail()
        # A viewer without the token sees the timings, not the texts.
        return {**conv.summary(), "messages": [], "messagesHidden": True}

    @app.get("/api/summary")
    async def summary(svc: Svc, request: Request, run: int | None = None,
                      workload: Annotated[str | None, Query(max_length=40)] = "chat"):
        if privileged(request):
            return {"run": run, "workload": workload, **summarize(svc.store.query(run=run, workload=workload))}
        return public_json(svc.views.summary(run, workload))

    @app.get("/metrics")
    async def metrics(svc: Svc) -> Response:
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """Pushes {"type": "snapshot", status, live} once a second (loadgen.edge.feed) and one {"type": "turn"} per finished request."""
        await websocket.app.state.service.broadcaster.serve(websocket)

    assets = StaticAssets(STATIC_DIR)
    app.mount("/static", assets, name="static")
    app.add_route("/", assets, include_in_schema=False)
    return app
