"""The HTTP application: built by ``create_app``, its engine made in the lifespan.

The app only translates, authorises and delegates: all behaviour is in the
engine. A background ``Ticker`` runs each community's dispatch every interval
(lease-aware with the Redis store); tests switch it off and tick through
``POST /v1/communities/{id}/dispatch``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import problems
from api.auth import Authenticator, load_keys
from api.changes import Changes
from api.dispatcher_health import dispatcher_age_s
from api.maintenance import Janitor
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestContext
from api.ops_guard import OpsOnly
from api.routes import (
    communities,
    docs,
    events,
    health,
    jobs,
    listing,
    locations,
    ops,
    orders,
    quotes,
    surge,
    webhooks,
    workers,
)
from api.settings import ApiSettings
from api.ticker import Ticker
from api.webhooks_runtime import WebhookRunner, build_dispatcher, watch_webhooks, webhooks_of
from dispatch import Engine, MemoryStore, WallClock
from dispatch.clock import Clock
from dispatch.ops import OpsConsole
from dispatch.policies import make_policy
from dispatch.retention import Retention
from dispatch.store.base import Store
from dispatch.ticking import MemoryTickQueue, TickQueue

log = logging.getLogger(__name__)

DESCRIPTION = """Delivery and technician dispatch for residential communities.

Every request needs `Authorization: Bearer <key>`; each key holds roles (`ops`,
`order-service`, `courier-app`, `analyst`). Times are ISO 8601 in UTC;
coordinates are `{"lat", "lng"}` in degrees. Every error is
`application/problem+json` (RFC 9457). `POST /v1/orders` and `POST /v1/jobs`
honour an `Idempotency-Key` header: a retry with the same key and body gets the
same order or job; the same key with another body is 409.

Not shown below: the WebSocket `/v1/workers/{id}/stream` (role `courier-app`, key
in `Authorization`, in a `bearer.<key>` subprotocol offered beside `dispatch.v1`, or
in `?token=`). The app sends location messages
`{"lat", "lng", "ts"?, "status"?}` and gets `{"type": "ack"}` or
`{"type": "error", ...}`; the server pushes `{"type": "route", "stops": [...]}` on
connect and whenever the route changes. Frames over 64 KiB close the socket (1009).

Every key has a rate limit by role: past it, 429 with `Retry-After` and
`RateLimit`/`RateLimit-Policy`. Unknown query parameters are 422, like unknown body
fields.
"""


#: Bodies of surge rule sets have a limit of their own (``rules_body_limit_bytes``).
RULES_PATHS = ("/v1/surge/rules", "/v1/surge/rules/preview")


def build_store(settings: ApiSettings) -> Store:
    """The store named by the settings."""
    if settings.store == "redis":
        from dispatch.store.redis import RedisStore

        return RedisStore(
            settings.redis_url,
            prefix=settings.redis_prefix,
            cluster=settings.redis_cluster,
            # Redis forgets idempotency records an hour after the engine stops honouring them.
            idempotency_safety_ttl_s=settings.engine.idempotency_ttl_s + 3600.0,
        )
    return MemoryStore()


def build_engine(settings: ApiSettings, store: Store, clock: Clock) -> Engine:
    """The engine the settings describe: its knobs, and the named policy with the solver's."""
    policy = make_policy(settings.policy, settings.solver)
    shared = not isinstance(store, MemoryStore)  # other processes may change what it reads
    return Engine(
        settings.engine,
        store,
        clock,
        policy=policy,
        background_pricing=True,
        read_cache_s=settings.read_cache_s if shared else 0.0,
    )


def build_ticker(
    cfg: ApiSettings,
    engine: Engine,
    metrics: Metrics,
    changes: Changes,
    owner: str,
    route_changes: Changes | None = None,
    *,
    ops: OpsConsole | None = None,
) -> Ticker | None:
    """The in-process dispatcher, when this process should tick.

    The memory store always ticks here (nobody else can); with Redis only with
    ``with_worker``, on the shared Redis queue beside ``dispatch worker`` processes.
    """
    if not cfg.tick_enabled:
        return None
    from dispatch.store.redis import RedisStore

    queue: TickQueue | None = None
    if isinstance(engine.store, RedisStore):
        if not cfg.with_worker:
            return None
        from dispatch.ticking.redis_queue import RedisTickQueue

        queue = RedisTickQueue(engine.store, reclaim_idle_s=cfg.tick_reclaim_idle_s)
    else:
        queue = MemoryTickQueue(reclaim_idle_s=cfg.tick_reclaim_idle_s)
    return Ticker(
        engine,
        metrics,
        changes,
        owner,
        cfg.tick_poll_s,
        queue=queue,
        concurrency=cfg.tick_concurrency,
        route_changes=route_changes,
        ops=ops,
    )


def create_app(
    settings: ApiSettings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The ASGI app. Without ``engine`` one is built from ``settings`` in the lifespan.

    Without ``settings`` they are read from the environment (and the settings file);
    invalid ones raise pydantic's ``ValidationError``, a ValueError. Raises ValueError
    too when the API key specification is malformed.
    """
    cfg = settings or ApiSettings()
    auth = Authenticator(load_keys(cfg.api_keys, cfg.api_keys_file))
    owner = cfg.instance_id or f"api-{uuid.uuid4().hex[:12]}"
    changes = Changes()  # anything that adds events: wakes long polls
    route_changes = Changes()  # what can change a worker's route: wakes route streams

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built: Store | None = None
        if app.state.engine is None:
            built = build_store(cfg)
            app.state.engine = build_engine(cfg, built, clock or WallClock())
        if auth.open:
            log.warning(
                "NO API KEYS CONFIGURED: every route is open to anyone who can reach this "
                "process; set DISPATCH_API_KEYS"
            )
        app.state.ops = OpsConsole(app.state.engine, cfg.alerts)
        ticker = build_ticker(
            cfg, app.state.engine, metrics, changes, owner, route_changes, ops=app.state.ops
        )
        if ticker is not None:
            ticker.start()
        app.state.ticker = ticker
        runner: WebhookRunner | None = None
        if ticker is not None:  # webhooks go out wherever ticks run, in a thread of their own
            hooks = webhooks_of(app)
            runner = WebhookRunner(build_dispatcher(cfg, hooks.feed, hooks.store, hooks.clock))
            runner.start()
        app.state.webhook_runner = runner
        retention = Retention(cfg.events_retention_s, cfg.events_retention_count)
        janitor = Janitor(lambda: app.state.engine, retention, cfg.maintenance_every_s)
        janitor.start()
        app.state.janitor = janitor
        if built is not None:  # a server of its own (not an app handed an engine, as tests do)
            # What start-up made lives as long as the process: keep it out of the cyclic
            # collector's full passes, which rescanned it all and paused every request
            # (p99 at 70 % load: location batches 100 -> 25 ms, Redis orders 120 -> 63 ms).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await janitor.stop()
            if app.state.gate is not None:
                app.state.gate.close()
            app.state.gate = None
            app.state.webhook_runner = None
            if runner is not None:
                await run_in_threadpool(runner.stop)
            if ticker is not None:
                await ticker.stop()
            close_pipe: Any = getattr(app.state.engine.store, "close_async_pipe", None)
            if callable(close_pipe):  # the loop's Redis connection closes with the loop
                await close_pipe()
            close: Any = getattr(built, "close", None)
            if callable(close):
                close()
            if built is not None:
                app.state.engine = None

    app = FastAPI(
        title="Community dispatch API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.routes.docs serves Swagger UI from the package: works offline
        redoc_url=None,
    )

    def age() -> float | None:
        engine = app.state.engine
        return None if engine is None else dispatcher_age_s(app, engine)

    metrics = Metrics(lambda: app.state.engine, age)
    app.state.settings = cfg
    app.state.auth = auth
    app.state.metrics = metrics
    app.state.changes = changes
    app.state.route_changes = route_changes
    app.state.engine = engine
    app.state.ticker = None
    app.state.owner = owner
    app.state.gate = None  # api.gate builds it on first use (the store may not exist yet)
    app.state.janitor = None
    app.state.webhooks = None  # api.webhooks_runtime builds it on first use
    app.state.webhook_runner = None
    watch_webhooks(metrics.registry, lambda: app.state.webhook_runner)
    problems.install(app)
    # The hot paths first: a request is matched against the routes in this order.
    hot_first = (
        quotes,
        orders,
        locations,
        workers,
        jobs,
        listing,
        events,
        communities,
        surge,
        webhooks,
        health,
        ops,
        docs,
    )
    for module in hot_first:
        app.include_router(module.router)
    app.add_middleware(
        BodyLimit,
        limit=cfg.body_limit_bytes,
        timeout_s=cfg.body_timeout_s,
        max_head_bytes=cfg.max_header_bytes,
        path_limits={p: cfg.rules_body_limit_bytes for p in RULES_PATHS},
    )
    if cfg.protect_ops_endpoints:
        app.add_middleware(OpsOnly)
    app.add_middleware(RequestContext, metrics=metrics, changes=changes, routes=route_changes)
    return app
