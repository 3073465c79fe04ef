"""Load test of a running ``dispatch serve`` on this machine (locust).

Three kinds of users share one community set up at the start: the order
service (quotes, orders, reads, some cancellations), the courier app
(position batches of its own couriers, route reads, progress reports) and
ops (dispatch ticks and the surge map). The run is bounded: the host must be
a loopback address, at most ``MAX_USERS`` users, and ``MAX_RUN_TIME_S`` seconds
when no run time is given.

Run, with the server started by ``dispatch serve`` (open on 127.0.0.1)::

    locust -f simulations/load/locustfile.py --headless -u 20 -r 5 -t 60s \
        --host http://127.0.0.1:8000

Set ``DISPATCH_LOAD_KEY`` to an API key with every role when the server has keys.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from locust import HttpUser, between, events, task

COMMUNITY = "load-test"
CENTER = (31.2304, 121.4737)
RADIUS_M = 3000.0
COURIERS = 200
COURIERS_PER_APP = 20
MAX_USERS = 200
MAX_RUN_TIME_S = 300

_app_numbers = itertools.count()


def loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def point(rng: random.Random, spread: float = 0.9) -> dict[str, float]:
    """A uniform point inside the community's circle (flat-earth offsets are fine at 3 km)."""
    r = RADIUS_M * spread * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    lat = CENTER[0] + (r * math.sin(a)) / 111_320.0
    lng = CENTER[1] + (r * math.cos(a)) / (111_320.0 * math.cos(math.radians(CENTER[0])))
    return {"lat": round(lat, 6), "lng": round(lng, 6)}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def headers() -> dict[str, str]:
    key = os.environ.get("DISPATCH_LOAD_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


@events.init.add_listener
def _bounds(environment: Any, **_kwargs: Any) -> None:
    """Refuse remote hosts and oversized runs; cap the run time."""
    opts = getattr(environment, "parsed_options", None)
    if opts is None:
        return
    host = opts.host or environment.host or ""
    if host and not loopback(host):
        raise SystemExit(f"refusing to load-test {host}: only loopback hosts are allowed")
    if (opts.num_users or 0) > MAX_USERS:
        raise SystemExit(f"at most {MAX_USERS} users, got {opts.num_users}")
    if not opts.run_time:
        opts.run_time = MAX_RUN_TIME_S


@events.test_start.add_listener
def _setup(environment: Any, **_kwargs: Any) -> None:
    """Create the community and its couriers once, before users start."""
    import httpx

    base = environment.host
    if not base:
        return
    with httpx.Client(base_url=base, headers=headers(), timeout=10.0) as client:
        client.put(
            f"/v1/communities/{COMMUNITY}",
            json={
                "name": "Load test",
                "center": {"lat": CENTER[0], "lng": CENTER[1]},
                "radius_m": RADIUS_M,
                "solver_budget_s": 1.0,
            },
        ).raise_for_status()
        for i in range(COURIERS):
            client.put(
                f"/v1/workers/lc{i:03d}",
                json={"kind": "courier", "community_id": COMMUNITY, "capacity": 3},
            ).raise_for_status()


class OrderService(HttpUser):
    """Quotes, then orders some of them; reads and sometimes cancels its orders."""

    weight = 3
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.orders: list[str] = []

    def _body(self) -> dict[str, Any]:
        return {
            "community_id": COMMUNITY,
            "pickup": point(self.rng, 0.6),
            "dropoff": point(self.rng),
            "ready_at": iso(datetime.now(UTC) + timedelta(minutes=self.rng.uniform(3, 15))),
        }

    @task(4)
    def quote_and_order(self) -> None:
        body = self._body()
        self.client.post("/v1/quotes", json=body, headers=headers(), name="/v1/quotes")
        if self.rng.random() < 0.7:
            key = f"lt-{self.rng.getrandbits(64):016x}"
            with self.client.post(
                "/v1/orders",
                json=body,
                headers={**headers(), "Idempotency-Key": key},
                name="/v1/orders",
                catch_response=True,
            ) as resp:
                if resp.status_code == 201:
                    self.orders.append(resp.json()["id"])
                    self.orders = self.orders[-50:]

    @task(2)
    def read_order(self) -> None:
        if self.orders:
            oid = self.rng.choice(self.orders)
            self.client.get(f"/v1/orders/{oid}", headers=headers(), name="/v1/orders/{id}")

    @task(1)
    def cancel_order(self) -> None:
        if self.orders:
            oid = self.orders.pop(self.rng.randrange(len(self.orders)))
            with self.client.post(
                f"/v1/orders/{oid}/cancel",
                headers=headers(),
                name="/v1/orders/{id}/cancel",
                catch_response=True,
            ) as resp:
                if resp.status_code == 409:
                    resp.success()  # picked up meanwhile: an expected answer


class CourierApp(HttpUser):
    """Reports positions of its couriers in batches and reads their routes."""

    weight = 2
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        n = next(_app_numbers)
        first = (n * COURIERS_PER_APP) % COURIERS
        self.workers = [f"lc{(first + i) % COURIERS:03d}" for i in range(COURIERS_PER_APP)]
        self.where = {w: point(self.rng) for w in self.workers}

    @task(5)
    def positions(self) -> None:
        updates = []
        for w in self.workers:
            p = self.where[w]
            p = {"lat": p["lat"] + self.rng.uniform(-2e-4, 2e-4), "lng": p["lng"]}
            if math.dist((p["lat"], p["lng"]), CENTER) * 111_320 < RADIUS_M * 0.95:
                self.where[w] = p
            updates.append({"worker_id": w, **self.where[w]})
        self.client.post("/v1/locations", json={"updates": updates}, headers=headers())

    @task(1)
    def route(self) -> None:
        w = self.rng.choice(self.workers)
        self.client.get(f"/v1/workers/{w}/route", headers=headers(), name="/v1/workers/{id}/route")


class Ops(HttpUser):
    """Runs dispatch ticks and watches the surge map."""

    weight = 1
    wait_time = between(2.0, 5.0)

    @task(2)
    def dispatch(self) -> None:
        with self.client.post(
            f"/v1/communities/{COMMUNITY}/dispatch",
            headers=headers(),
            name="/v1/communities/{id}/dispatch",
            catch_response=True,
        ) as resp:
            if resp.status_code == 409:
                resp.success()  # another dispatcher holds the lease

    @task(1)
    def surge(self) -> None:
        self.client.get(
            f"/v1/communities/{COMMUNITY}/surge",
            headers=headers(),
            name="/v1/communities/{id}/surge",
        )
