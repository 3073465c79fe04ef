"""Load test of a running ``dispatch serve`` on this machine (locust).

Four kinds of users share one community set up at the start:

- ``OrderService``: quotes, orders at the quoted price (``quote_id``) with an
  ``Idempotency-Key`` (now and then a retry with the same key, which must return
  the same order), reads of its
  orders, and a few cancellations;
- ``Courier``: one courier each, over the WebSocket ``/v1/workers/{id}/stream``.
  It registers itself, sends a position every ``DISPATCH_LOAD_POSITION_EVERY_S``
  (each acknowledged; stats type ``WS``), follows the route the server pushes,
  and at each stop sends its position there and reports ``picked_up`` or
  ``delivered`` (``POST /v1/orders/{id}/events``), so orders reach the door;
- ``Analyst``: the surge map and previews of the active rule set;
- ``Ops``: the event feed, paged with ``after=``.

The server dispatches by itself (``dispatch serve`` ticks in-process with the
memory store; with Redis run it with ``--with-worker``). Couriers move at
``DISPATCH_LOAD_COURIER_SPEED_MPS`` (default 300 m/s: a time-lapse, so a short
run completes deliveries).

The run is bounded: the host must be a loopback address, at most ``MAX_USERS``
users, and ``MAX_RUN_TIME_S`` seconds when no run time is given. It exits 1 when
more than ``DISPATCH_LOAD_MAX_FAIL_RATIO`` (default 0.01) of the requests failed,
2 when user code raised. Run, with ``dispatch serve`` started on 127.0.0.1::

    locust -f simulations/load/locustfile.py --headless -u 40 -r 10 -t 60s \
        --host http://127.0.0.1:8000 --only-summary

Set ``DISPATCH_LOAD_KEY`` to an API key with every role when the server has keys.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import time
import uuid
from typing import Any

import httpx
from locust import FastHttpUser, between, constant, events, task
from locust.env import Environment
from locust.runners import WorkerRunner
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from simulations.load.world import (
    ABORTED,
    MAX_RUN_TIME_S,
    MAX_USERS,
    LoadKnobs,
    Place,
    SetupClient,
    abort,
    community_body,
    enforce_bounds,
    headers,
    point,
    step_towards,
    ws_url,
)

__all__ = ["MAX_RUN_TIME_S", "MAX_USERS", "Analyst", "Courier", "Ops", "OrderService"]

COMMUNITY = "load-test"
KNOBS = LoadKnobs.from_env()
#: The active surge rule set, read once at the start (analysts preview it).
RULES: dict[str, Any] = {}
_RUN = uuid.uuid4().hex[:6]  # couriers of this run: lc-<run>-<n>, unique per process
_courier_numbers = itertools.count()

log = logging.getLogger(__name__)


def _latlng(p: Place) -> dict[str, float]:
    return {"lat": p[0], "lng": p[1]}


@events.init.add_listener
def _bounds(environment: Environment, **_kwargs: Any) -> None:
    """Refuse remote hosts and oversized runs; cap the run time; keep libraries quiet."""
    enforce_bounds(environment, ("httpx", "httpcore", "websockets"))


@events.test_start.add_listener
def _setup(environment: Environment, **_kwargs: Any) -> None:
    """Create the community once (not on distributed workers) and read the rule set;
    a failed set-up ends the run at once (exit 1) with one line saying why."""
    if not environment.host or isinstance(environment.runner, WorkerRunner):
        return
    try:
        with SetupClient(environment.host, KNOBS.key, budget_s=30.0) as setup:
            setup.call(
                "PUT",
                f"/v1/communities/{COMMUNITY}",
                community_body("Load test", KNOBS.dispatch_interval_s, KNOBS.solver_budget_s),
            )
            RULES.update(setup.call("GET", "/v1/surge/rules")["rules"])
    except (OSError, RuntimeError, ValueError, httpx.HTTPError) as exc:
        abort(environment, f"load test set-up failed: {exc}")


@events.quitting.add_listener
def _verdict(environment: Environment, **_kwargs: Any) -> None:
    """Exit 1 when the set-up or too many requests failed, 2 when user code raised, else 0."""
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    ratio = environment.stats.total.fail_ratio
    if ABORTED:
        environment.process_exit_code = 1
    elif ratio > KNOBS.max_fail_ratio:
        log.error(
            "%.2f%% of requests failed (limit %.2f%%)", 100 * ratio, 100 * KNOBS.max_fail_ratio
        )
        environment.process_exit_code = 1
    elif environment.runner.exceptions:
        environment.process_exit_code = 2
    else:
        environment.process_exit_code = 0


class OrderService(FastHttpUser):
    """Quotes, then orders some of them; reads and sometimes cancels its orders."""

    weight = 3
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.orders: list[str] = []
        self.auth = headers(KNOBS.key)

    def _body(self) -> dict[str, Any]:
        ready = time.time() + self.rng.uniform(0, 300)
        return {
            "community_id": COMMUNITY,
            "pickup": _latlng(point(self.rng, 0.6)),
            "dropoff": _latlng(point(self.rng)),
            "ready_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ready)),
        }

    @task(6)
    def quote_and_order(self) -> None:
        body = self._body()
        quoted = self.client.post("/v1/quotes", json=body, headers=self.auth, name="/v1/quotes")
        if self.rng.random() < 0.3:
            return  # the resident declined
        if quoted.status_code == 200:
            body = {**body, "quote_id": quoted.json()["id"]}  # pay the quoted price
        key = f"lt-{self.rng.getrandbits(64):016x}"
        sent = {**self.auth, "Idempotency-Key": key}
        with self.client.post(
            "/v1/orders", json=body, headers=sent, name="/v1/orders", catch_response=True
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")
                return
            order_id = resp.json()["id"]
        self.orders = [*self.orders[-49:], order_id]
        if self.rng.random() < 0.1:  # a client retry: the same key and body, the same order
            with self.client.post(
                "/v1/orders",
                json=body,
                headers=sent,
                name="/v1/orders (retry)",
                catch_response=True,
            ) as again:
                if again.status_code != 201 or again.json()["id"] != order_id:
                    again.failure(f"retry gave {again.status_code} {(again.text or '')[:200]}")

    @task(3)
    def read_order(self) -> None:
        if self.orders:
            oid = self.rng.choice(self.orders)
            self.client.get(f"/v1/orders/{oid}", headers=self.auth, name="/v1/orders/{id}")

    @task(1)
    def cancel_order(self) -> None:
        if self.orders and self.rng.random() < 0.3:
            oid = self.orders.pop(self.rng.randrange(len(self.orders)))
            with self.client.post(
                f"/v1/orders/{oid}/cancel",
                headers=self.auth,
                name="/v1/orders/{id}/cancel",
                catch_response=True,
            ) as resp:
                if resp.status_code == 409:
                    resp.success()  # picked up meanwhile: an expected answer


#: uvicorn closes keep-alive connections idle for 5 s; the HTTP client does not notice
#: and fails its next request on the dead socket. Couriers talk HTTP seldom: past this
#: idle time they open a new connection, as a phone's HTTP client would.
HTTP_IDLE_S = 4.0


class Courier(FastHttpUser):
    """One courier on the WebSocket: positions in, routes pushed; reports its stops."""

    weight = 4
    wait_time = constant(KNOBS.position_every_s)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.auth = headers(KNOBS.key)
        self.worker_id = f"lc-{_RUN}-{next(_courier_numbers):04d}"
        self.here: Place = point(self.rng)
        self.wander: Place = point(self.rng)
        self.route: list[dict[str, Any]] = []
        self.done: set[tuple[str, str]] = set()  # (order id, stop kind) reported already
        self.ws: ClientConnection | None = None
        self.ws_context = contextlib.ExitStack()
        self.http_at = time.monotonic()
        self.client.put(
            f"/v1/workers/{self.worker_id}",
            json={"kind": "courier", "community_id": COMMUNITY, "capacity": 3},
            headers=self.auth,
            name="/v1/workers/{id}",
        )
        self._connect()

    def on_stop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(WebSocketException, OSError, TimeoutError):
                self._send_position(status="offline")  # off shift: no more work for it
            self._drop_socket()

    # ---- the socket -----------------------------------------------------------------

    def _fire(self, name: str, started: float, length: int, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length,
            exception=exc,
            context={},
        )

    def _connect(self) -> None:
        assert self.host is not None
        started = time.perf_counter()
        stack = contextlib.ExitStack()  # the socket's context: connect() is a context manager
        try:
            self.ws = stack.enter_context(
                connect(
                    ws_url(self.host, f"/v1/workers/{self.worker_id}/stream"),
                    additional_headers=self.auth,
                    open_timeout=10,
                    proxy=None,
                    compression=None,
                )
            )
        except (WebSocketException, OSError, TimeoutError) as exc:
            self.ws = None
            self._fire("connect", started, 0, exc)
            return
        self.ws_context = stack
        self._fire("connect", started, 0)

    def _drop_socket(self) -> None:
        self.ws = None
        self.ws_context.close()

    def _on_message(self, raw: str | bytes) -> str:
        msg = json.loads(raw)
        kind = str(msg.get("type"))
        if kind == "route":
            self.route = [s for s in msg["stops"] if (s["entity_id"], s["kind"]) not in self.done]
            self._fire("route pushed", time.perf_counter(), len(raw))
        return kind

    def _send_position(self, status: str | None = None) -> None:
        """One position, timed until its ack (route pushes read meanwhile are applied)."""
        assert self.ws is not None
        message: dict[str, Any] = _latlng(self.here)
        if status is not None:
            message["status"] = status
        started = time.perf_counter()
        self.ws.send(json.dumps(message))
        deadline = started + 10.0
        while True:
            raw = self.ws.recv(timeout=max(0.0, deadline - time.perf_counter()))
            kind = self._on_message(raw)
            if kind == "ack":
                self._fire("position", started, len(raw))
                return
            if kind == "error":
                self._fire("position", started, len(raw), RuntimeError(str(raw)[:200]))
                return

    # ---- moving and reporting --------------------------------------------------------------

    @task
    def move(self) -> None:
        if self.ws is None:
            self._connect()
            if self.ws is None:
                return
        stop = self.route[0] if self.route else None
        target = (stop["location"]["lat"], stop["location"]["lng"]) if stop else self.wander
        metres = KNOBS.courier_speed_mps * KNOBS.position_every_s
        self.here, arrived = step_towards(self.here, target, metres)
        try:
            self._send_position()
        except (WebSocketException, OSError, TimeoutError) as exc:
            self._fire("position", time.perf_counter(), 0, exc)
            self._drop_socket()
            return
        if not arrived:
            return
        if stop is None:
            self.wander = point(self.rng)
        elif any(
            (s["entity_id"], s["kind"]) == (stop["entity_id"], stop["kind"]) for s in self.route
        ):
            self._report(stop)  # still ours after any route pushed meanwhile

    def _report(self, stop: dict[str, Any]) -> None:
        """Picked up or delivered; a stop taken away meanwhile (reassigned, cancelled) is
        dropped; a write that lost a race with a tick is sent again."""
        order_id, kind = stop["entity_id"], stop["kind"]
        event = "picked_up" if kind == "pickup" else "delivered"
        self.done.add((order_id, kind))
        self.route = [s for s in self.route if (s["entity_id"], s["kind"]) != (order_id, kind)]
        body = {"type": event, "worker_id": self.worker_id}
        for attempt in range(3):
            self._http()
            with self.client.post(
                f"/v1/orders/{order_id}/events",
                json=body,
                headers=self.auth,
                name=f"/v1/orders/{{id}}/events {event}",
                catch_response=True,
            ) as resp:
                if resp.status_code != 409:
                    return  # 2xx, or a failure locust records as such
                if not self._still_mine(order_id, event):
                    resp.success()  # the plan moved on (reassigned, cancelled): stop dropped
                    return
                if attempt == 2:
                    resp.failure(f"{event} lost three version races in a row")
                    return
                resp.success()  # a version race with a tick: send again

    def _http(self) -> None:
        """Before an HTTP request: drop connections the server has closed for idleness."""
        now = time.monotonic()
        if now - self.http_at > HTTP_IDLE_S:
            self.client.client.clientpool.close()
        self.http_at = now

    def _still_mine(self, order_id: str, event: str) -> bool:
        before = "assigned" if event == "picked_up" else "picked_up"
        self._http()
        resp = self.client.get(f"/v1/orders/{order_id}", headers=self.auth, name="/v1/orders/{id}")
        if resp.status_code != 200:
            return False
        order = resp.json()
        return bool(order["state"] == before and order["worker_id"] == self.worker_id)


class Analyst(FastHttpUser):
    """Watches the surge map and previews the active rule set on the community."""

    weight = 1
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        self.auth = headers(KNOBS.key)
        if not RULES:  # a distributed worker: the set-up ran on the master
            resp = self.client.get("/v1/surge/rules", headers=self.auth, name="/v1/surge/rules")
            if resp.status_code == 200:
                RULES.update(resp.json()["rules"])

    @task(3)
    def surge(self) -> None:
        self.client.get(
            f"/v1/communities/{COMMUNITY}/surge",
            headers=self.auth,
            name="/v1/communities/{id}/surge",
        )

    @task(1)
    def preview(self) -> None:
        self.client.post(
            f"/v1/surge/rules/preview?community_id={COMMUNITY}",
            json=RULES,
            headers=self.auth,
            name="/v1/surge/rules/preview",
        )


class Ops(FastHttpUser):
    """Follows the event feed from where it last read."""

    weight = 1
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.auth = headers(KNOBS.key)
        self.after = 0

    @task
    def feed(self) -> None:
        with self.client.get(
            f"/v1/events?after={self.after}&limit=200",
            headers=self.auth,
            name="/v1/events",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:
                self.after = int(resp.json()["last_seq"])
