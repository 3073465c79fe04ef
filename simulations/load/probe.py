"""One endpoint at a time, as fast as it answers or at a fixed rate (locust).

Where ``locustfile.py`` plays a realistic mix of users, this file measures one
request kind, for throughput and latency figures (``benchmarks/http.py`` drives
it): ``DISPATCH_PROBE`` names it:

- ``orders``: ``POST /v1/orders`` with a fresh ``Idempotency-Key`` each time;
- ``quotes``: ``POST /v1/quotes``;
- ``locations``: ``POST /v1/locations`` with ``DISPATCH_PROBE_BATCH`` positions
  (default 500) of the couriers of a fleet community (``DISPATCH_PROBE_FLEET``
  couriers, default 1 000, registered at the start);
- ``bare``: the ``orders`` request against a host that is not ``dispatch serve``
  (the bare ceiling app of ``benchmarks/bare_app.py``): no set-up;
  ``DISPATCH_PROBE_PATH`` changes the path ``orders`` and ``bare`` post to.

Bodies are encoded once at the start, so the load generator spends its time on
requests. Each user sends as fast as answers come back, or, when
``DISPATCH_PROBE_RATE`` is set, that many requests per second as a Poisson
process. Each run makes a community of its own that ticks once an hour; the
orders probe's has no couriers and the locations probe's no orders, so the
figures are the request path's own. Same safety bounds as the locustfile
(loopback hosts, at most ``MAX_USERS`` users, ``MAX_RUN_TIME_S`` without a run
time). Run::

    DISPATCH_PROBE=orders locust -f simulations/load/probe.py --headless -u 32 -r 32 \
        -t 10s --host http://127.0.0.1:8000 --only-summary
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from typing import Any

import httpx
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

from simulations.load.world import (
    ABORTED,
    LoadKnobs,
    SetupClient,
    abort,
    community_body,
    enforce_bounds,
    headers,
    point,
)

__all__ = ["Probe"]

PROBES = ("orders", "quotes", "locations", "bare")
PROBE = os.environ.get("DISPATCH_PROBE", "orders")
if PROBE not in PROBES:
    raise SystemExit(f"DISPATCH_PROBE must be one of {', '.join(PROBES)}, got {PROBE!r}")
RATE = float(os.environ.get("DISPATCH_PROBE_RATE") or 0.0)
BATCH = int(os.environ.get("DISPATCH_PROBE_BATCH") or 500)
FLEET = int(os.environ.get("DISPATCH_PROBE_FLEET") or 1000)
#: Where ``orders`` and ``bare`` post (the bare app also has ``/v1/orders/async``).
ORDERS_PATH = os.environ.get("DISPATCH_PROBE_PATH") or "/v1/orders"
KNOBS = LoadKnobs.from_env()
RUN = uuid.uuid4().hex[:6]
COMMUNITY = f"probe-{RUN}"
#: Encoded request bodies, cycled through by every user (filled at the start).
BODIES: list[str] = []
_keys = itertools.count()


def _order_bodies(n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        (plat, plng), (dlat, dlng) = point(rng, 0.6), point(rng)
        body = {
            "community_id": COMMUNITY,
            "pickup": {"lat": plat, "lng": plng},
            "dropoff": {"lat": dlat, "lng": dlng},
        }
        out.append(json.dumps(body))
    return out


def _location_bodies(couriers: list[str], rng: random.Random) -> list[str]:
    out = []
    for first in range(0, len(couriers), BATCH):
        ids = couriers[first : first + BATCH]
        if len(ids) < BATCH:
            break
        updates = [{"worker_id": w, "lat": p[0], "lng": p[1]} for w in ids for p in [point(rng)]]
        out.append(json.dumps({"updates": updates}))
    return out


@events.init.add_listener
def _bounds(environment: Environment, **_kwargs: Any) -> None:
    enforce_bounds(environment, ("httpx", "httpcore"))
    if environment.parsed_options is None:
        return
    if PROBE == "locations" and not 1 <= BATCH <= min(5000, FLEET):
        raise SystemExit("DISPATCH_PROBE_BATCH must lie in [1, min(5000, DISPATCH_PROBE_FLEET)]")


@events.test_start.add_listener
def _setup(environment: Environment, **_kwargs: Any) -> None:
    """The probe's community (and fleet), and the bodies to send."""
    if not environment.host:
        return
    rng = random.Random(7)
    if PROBE in ("orders", "quotes", "bare"):
        BODIES[:] = _order_bodies(64, rng)
    if PROBE == "bare" or isinstance(environment.runner, WorkerRunner):
        return
    try:
        with SetupClient(environment.host, KNOBS.key, budget_s=120.0) as setup:
            # One tick (now, on nothing), then none for an hour: the figures are the request
            # path's (ticks are benchmarks/engine.py's; on thousands of open orders a tick
            # costs seconds of CPU in the serving process even with nobody to dispatch to).
            body = community_body("Probe", 3600.0, 1.0)
            setup.call("PUT", f"/v1/communities/{COMMUNITY}", body)
            if PROBE == "locations":
                couriers = [f"pf-{RUN}-{i:05d}" for i in range(FLEET)]
                for w in couriers:
                    body = {"kind": "courier", "community_id": COMMUNITY}
                    setup.call("PUT", f"/v1/workers/{w}", body)
                BODIES[:] = _location_bodies(couriers, rng)
    except (OSError, RuntimeError, ValueError, httpx.HTTPError) as exc:
        abort(environment, f"probe set-up failed: {exc}")
        return
    environment.stats.reset_all()  # rates count from here, not from before the set-up


@events.quitting.add_listener
def _verdict(environment: Environment, **_kwargs: Any) -> None:
    """Exit 1 when the set-up or too many requests failed."""
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    failed = bool(ABORTED) or environment.stats.total.fail_ratio > KNOBS.max_fail_ratio
    environment.process_exit_code = 1 if failed else 0


class Probe(FastHttpUser):
    """Sends the probe's request over and over: back to back, or as a Poisson process.

    At a fixed rate each user starts requests at exponentially spaced instants (mean
    ``1 / DISPATCH_PROBE_RATE``), not on a fixed beat: users started together on a beat
    would keep arriving together, in bursts that measure the burst, not the rate.
    """

    next_at = 0.0  # when this user's next request is due (monotonic seconds)

    def wait_time(self) -> float:
        if RATE <= 0:
            return 0.0
        self.next_at = max(self.next_at, time.monotonic() - 1.0) + random.expovariate(RATE)
        return max(0.0, self.next_at - time.monotonic())

    def on_start(self) -> None:
        if not BODIES:
            raise StopUser()  # the set-up failed and the run is ending
        self.next_at = time.monotonic()
        self.auth = {**headers(KNOBS.key), "Content-Type": "application/json"}
        self.bodies = itertools.cycle(BODIES[random.randrange(len(BODIES)) :] + BODIES)

    @task
    def send(self) -> None:
        body = next(self.bodies)
        if PROBE in ("orders", "bare"):
            sent = {**self.auth, "Idempotency-Key": f"pr-{RUN}-{next(_keys)}"}
            self.client.post(ORDERS_PATH, data=body, headers=sent, name="/v1/orders")
        elif PROBE == "quotes":
            self.client.post("/v1/quotes", data=body, headers=self.auth, name="/v1/quotes")
        else:
            self.client.post("/v1/locations", data=body, headers=self.auth, name="/v1/locations")
