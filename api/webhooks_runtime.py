"""Webhooks in a server process: the service the routes call, and the dispatcher thread.

The service is built on first use (the engine, hence its store, may only exist
once the lifespan ran); the in-memory webhook store is shared by the routes and
the dispatcher of the same process. The dispatcher runs in a thread of its own
wherever ticks run (``dispatch serve`` with the memory store or
``--with-worker``, and ``dispatch worker``): never in a request or a tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from api.settings import ApiSettings
from dispatch.clock import Clock
from dispatch.store.base import Store
from dispatch.webhooks import (
    HttpSender,
    WebhookDispatcher,
    Webhooks,
    WebhookStore,
    webhook_store_for,
)

__all__ = ["WebhookRunner", "build_dispatcher", "watch_webhooks", "webhooks_of"]

log = logging.getLogger(__name__)


def webhooks_of(app: FastAPI) -> Webhooks:
    """The app's webhook service, built from its engine the first time it is asked for."""
    service: Webhooks | None = app.state.webhooks
    engine = app.state.engine
    if service is None or service.feed is not engine.store:
        cfg: ApiSettings = app.state.settings
        service = Webhooks(
            webhook_store_for(engine.store),
            engine.store,
            engine.clock,
            allow_private=cfg.webhooks_allow_private,
        )
        app.state.webhooks = service
    return service


def build_dispatcher(
    cfg: ApiSettings, feed: Store, store: WebhookStore, clock: Clock
) -> WebhookDispatcher:
    """A dispatcher sending over HTTP with the settings' timeout, pool and address rule."""
    sender = HttpSender(timeout_s=cfg.webhooks_timeout_s, allow_private=cfg.webhooks_allow_private)
    return WebhookDispatcher(
        feed,
        store,
        sender,
        clock,
        concurrency=cfg.webhooks_concurrency,
        lease_s=max(60.0, 4 * cfg.webhooks_timeout_s),
        poll_s=min(1.0, cfg.tick_poll_s),
    )


class WebhookRunner:
    """Runs a ``WebhookDispatcher`` in a daemon thread until ``stop``."""

    def __init__(self, dispatcher: WebhookDispatcher, name: str = "webhooks") -> None:
        self.dispatcher = dispatcher
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.dispatcher.run, args=(self._stop,), name=self.name, daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop after the sends in progress (each bounded by the send timeout)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        self.dispatcher.close()
        close = getattr(self.dispatcher.sender, "close", None)
        if callable(close):
            close()


class _WebhookCollector(Collector):
    """The running dispatcher's totals and step age, read at scrape time (none when this
    process sends no webhooks)."""

    def __init__(self, runner: Callable[[], WebhookRunner | None]) -> None:
        self._runner = runner

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        attempts = CounterMetricFamily(
            "dispatch_webhook_attempts",
            "Webhook sends by outcome (success: a 2xx answer)",
            labels=["outcome"],
        )
        disabled = CounterMetricFamily(
            "dispatch_webhook_endpoints_disabled", "Webhook endpoints disabled past the schedule"
        )
        failures = CounterMetricFamily(
            "dispatch_webhook_step_failures",
            "Webhook dispatcher steps that failed (retried with backoff)",
        )
        age = GaugeMetricFamily(
            "dispatch_webhook_dispatcher_age_seconds",
            "Seconds since the webhook dispatcher last completed a step",
        )
        runner = self._runner()
        if runner is not None:
            health = runner.dispatcher.health
            attempts.add_metric(["success"], health.attempts_ok)
            attempts.add_metric(["failure"], health.attempts_failed)
            disabled.add_metric([], health.endpoints_disabled)
            failures.add_metric([], health.step_failures)
            if health.last_step_at is not None:
                now = runner.dispatcher.clock.now()
                age.add_metric([], max(0.0, now - health.last_step_at))
        yield from (attempts, disabled, failures, age)


def watch_webhooks(registry: CollectorRegistry, runner: Callable[[], WebhookRunner | None]) -> None:
    """Expose the webhook dispatcher that ``runner`` names (at scrape time) in ``registry``."""
    registry.register(_WebhookCollector(runner))
