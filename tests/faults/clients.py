"""Clients of the system under test, as threads: order services and courier apps.

Each client talks HTTP to the API processes with bounded timeouts and moves on to
the next process when one fails. Clients record what the system *acknowledged*
(a 2xx answer), which is what the history is checked against:

* ``OrderClient`` places orders with an ``Idempotency-Key`` and retries the same
  key and body after errors, timeouts and 409s (a twin still in flight) until it
  gets an answer or its retry window closes; each attempt is an ``Intent``.
* ``CourierGroup`` plays the couriers of one community: it streams their positions
  in batches, reads each courier's route and reports ``picked_up`` and, after a
  short dwell, ``delivered`` for what the route shows; each acknowledged report is
  a ``Report``;
* ``FeedFollower`` reads the event feed as it grows (long polls from the last seq
  seen), as an order service consuming events would, and keeps what it read.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "Budget",
    "CommunityPlan",
    "Courier",
    "CourierGroup",
    "Endpoint",
    "FeedFollower",
    "Intent",
    "OrderClient",
    "Report",
    "offset",
]

_M_PER_DEG = 111_320.0


def offset(lat: float, lng: float, distance_m: float, bearing: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lng) towards ``bearing`` (radians), locally flat."""
    dlat = distance_m * math.cos(bearing) / _M_PER_DEG
    dlng = distance_m * math.sin(bearing) / (_M_PER_DEG * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


@dataclass(frozen=True)
class CommunityPlan:
    """A community of the run: its centre, merchants and couriers (inside the fence)."""

    id: str
    lat: float
    lng: float
    merchants: tuple[tuple[float, float], ...]
    couriers: tuple[str, ...]
    inner_m: float = 2400.0  # points stay this close to the centre (the fence is 3 km)

    def point(self, rng: random.Random) -> tuple[float, float]:
        d = self.inner_m * math.sqrt(rng.random())
        return offset(self.lat, self.lng, d, rng.uniform(0, 2 * math.pi))


class Endpoint:
    """HTTP to the API processes with bounded timeouts; ``rotate`` moves to the next one."""

    def __init__(self, urls: list[str], key: str, timeout_s: float, start: int = 0) -> None:
        self.urls = list(urls)
        self.i = start % len(self.urls)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=1.0),
            headers={"Authorization": f"Bearer {key}"},
        )

    @property
    def base(self) -> str:
        return self.urls[self.i]

    def rotate(self) -> None:
        self.i = (self.i + 1) % len(self.urls)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.base + path, **kwargs)

    def close(self) -> None:
        self.client.close()


class Budget:
    """How many orders the clients placed so far, shared among them."""

    def __init__(self) -> None:
        self.placed = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next order's number."""
        with self._lock:
            self.placed += 1
            return self.placed


@dataclass
class Intent:
    """One order a client placed (or tried to): its key and body, and the answer it got."""

    key: str
    body: dict[str, Any]
    community_id: str
    first_at: float  # wall clock of the first attempt
    attempts: int = 0
    order_id: str | None = None
    acked_at: float | None = None  # wall clock of the acknowledging answer
    status: int | None = None
    rejected: str | None = None  # a final refusal (4xx other than 409)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def acked(self) -> bool:
        return self.order_id is not None


@dataclass(frozen=True)
class Report:
    """A courier's report the API acknowledged (200)."""

    order_id: str
    worker_id: str
    type: str  # picked_up | delivered
    at: float  # wall clock of the answer


class OrderClient(threading.Thread):
    """Places orders at ``rate_per_s`` (Poisson arrivals) until ``stop`` is set.

    ``halt`` ends everything at once, retries included; ``stop`` only ends new orders.
    """

    def __init__(
        self,
        name: str,
        urls: list[str],
        key: str,
        communities: list[CommunityPlan],
        budget: Budget,
        rate_per_s: float,
        *,
        seed: int,
        stop: threading.Event,
        halt: threading.Event,
        run_id: str,
        timeout_s: float = 5.0,
        retry_for_s: float = 90.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.endpoint = Endpoint(urls, key, timeout_s, start=seed)
        self.communities = communities
        self.budget = budget
        self.rate = rate_per_s
        self.rng = random.Random(seed)
        self.stop_event = stop
        self.halt = halt
        self.run_id = run_id
        self.retry_for_s = retry_for_s
        self.intents: list[Intent] = []
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the harness, never lost
            self.failure = exc
        finally:
            self.endpoint.close()

    def _loop(self) -> None:
        next_at = time.monotonic()
        n = 0
        while not (self.stop_event.is_set() or self.halt.is_set()):
            next_at += self.rng.expovariate(self.rate)
            if self.stop_event.wait(max(0.0, next_at - time.monotonic())):
                return
            self.budget.take()
            n += 1
            intent = self._intent(n)
            self.intents.append(intent)
            self.place(intent)

    def _intent(self, n: int) -> Intent:
        c = self.rng.choice(self.communities)
        m = self.rng.randrange(len(c.merchants))
        lat, lng = c.merchants[m]
        dlat, dlng = c.point(self.rng)
        body = {
            "community_id": c.id,
            "pickup": {"lat": lat, "lng": lng},
            "dropoff": {"lat": dlat, "lng": dlng},
            "service_type": "takeout",
            "merchant_id": f"{c.id}-m{m}",
        }
        return Intent(f"{self.run_id}-{self.name}-{n}", body, c.id, time.time())

    def place(self, intent: Intent) -> None:
        """Post until acknowledged, refused, out of time or halted; moves on after failures."""
        deadline = time.monotonic() + self.retry_for_s
        failures = 0
        while not self.halt.is_set() and time.monotonic() < deadline:
            intent.attempts += 1
            try:
                r = self.endpoint.request(
                    "POST", "/v1/orders", json=intent.body, headers={"Idempotency-Key": intent.key}
                )
            except httpx.HTTPError as exc:
                intent.errors[type(exc).__name__] += 1
                self.endpoint.rotate()
            else:
                if r.status_code in (200, 201):
                    intent.order_id = str(r.json()["id"])
                    intent.acked_at = time.time()
                    intent.status = r.status_code
                    return
                intent.errors[str(r.status_code)] += 1
                if r.status_code not in (409, 429) and r.status_code < 500:
                    intent.rejected = f"{r.status_code}: {r.text[:300]}"
                    return
                if r.status_code >= 500:
                    self.endpoint.rotate()
            failures += 1
            self.halt.wait(min(0.05 * 2 ** min(failures, 5), 1.0))


@dataclass
class Courier:
    id: str
    lat: float
    lng: float
    picked: dict[str, float] = field(default_factory=dict)  # order -> when it may be delivered


class CourierGroup(threading.Thread):
    """The couriers of one community: positions in batches, routes read, reports sent."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        key: str,
        couriers: list[Courier],
        *,
        seed: int,
        halt: threading.Event,
        dwell_s: tuple[float, float] = (0.5, 2.0),
        poll_s: float = 0.5,
        position_every_s: float = 3.0,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.endpoint = Endpoint(urls, key, timeout_s, start=seed)
        self.couriers = couriers
        self.rng = random.Random(seed)
        self.halt = halt
        self.dwell_s = dwell_s
        self.poll_s = poll_s
        self.position_every_s = position_every_s
        self.reports: list[Report] = []
        self.conflicts = 0
        self.errors: Counter[str] = Counter()
        self.rounds = 0
        self.batches = 0  # position batches taken
        self.failure: BaseException | None = None
        self._next_positions = 0.0

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                if time.monotonic() >= self._next_positions:
                    self.send_positions()
                for courier in self.couriers:
                    if self.halt.is_set():
                        break
                    self.work(courier)
                self.rounds += 1
                self.halt.wait(self.poll_s)
        except BaseException as exc:  # reported by the harness, never lost
            self.failure = exc
        finally:
            self.endpoint.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        try:
            r = self.endpoint.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] += 1
            self.endpoint.rotate()
            return None
        if r.status_code >= 500:
            self.errors[str(r.status_code)] += 1
            self.endpoint.rotate()
        return r

    def send_positions(self) -> bool:
        """Every courier's position in one batch (time stamped by the server); True when taken."""
        updates = [{"worker_id": c.id, "lat": c.lat, "lng": c.lng} for c in self.couriers]
        r = self._call("POST", "/v1/locations", json={"updates": updates})
        ok = r is not None and r.status_code == 200 and not r.json()["errors"]
        if ok:
            self.batches += 1
            self._next_positions = time.monotonic() + self.position_every_s
        return ok

    def work(self, c: Courier) -> None:
        """Do what the route shows, in order: pick up, then deliver after the dwell."""
        r = self._call("GET", f"/v1/workers/{c.id}/route")
        if r is None or r.status_code != 200:
            return
        for stop in r.json()["stops"]:
            oid, kind = str(stop["entity_id"]), stop["kind"]
            if kind == "pickup":
                if not self.report(c, oid, "picked_up"):
                    return
                c.picked[oid] = time.monotonic() + self.rng.uniform(*self.dwell_s)
            elif kind == "dropoff":
                if c.picked.get(oid, 0.0) > time.monotonic():  # still on the way
                    return
                if not self.report(c, oid, "delivered"):
                    return
                c.picked.pop(oid, None)
            else:
                return
            c.lat, c.lng = float(stop["location"]["lat"]), float(stop["location"]["lng"])

    def report(self, c: Courier, order_id: str, kind: str) -> bool:
        r = self._call(
            "POST", f"/v1/orders/{order_id}/events", json={"type": kind, "worker_id": c.id}
        )
        if r is None:
            return False
        if r.status_code == 200:
            self.reports.append(Report(order_id, c.id, kind, time.time()))
            return True
        if r.status_code == 409:  # moved to another courier, or already reported
            self.conflicts += 1
        elif r.status_code < 500:
            self.errors[str(r.status_code)] += 1
        return False


@dataclass(frozen=True)
class Seen:
    """An event as a follower read it during the run."""

    seq: int
    type: str
    entity_id: str
    at: float  # wall clock of the read


class FeedFollower(threading.Thread):
    """Follows ``GET /v1/events?after=<last seq>`` until ``halt``; ``seen`` keeps every
    event read and ``jumps`` every page that did not start right after the last seq."""

    def __init__(
        self, urls: list[str], key: str, *, halt: threading.Event, timeout_s: float = 5.0
    ) -> None:
        super().__init__(name="feed-follower", daemon=True)
        self.endpoint = Endpoint(urls, key, timeout_s)
        self.halt = halt
        self.seen: list[Seen] = []
        self.jumps: list[tuple[int, int]] = []  # (last seq read, next seq read)
        self.errors: Counter[str] = Counter()
        self.failure: BaseException | None = None

    def run(self) -> None:
        last = 0
        try:
            while not self.halt.is_set():
                try:
                    r = self.endpoint.request(
                        "GET", "/v1/events", params={"after": last, "limit": 1000, "wait_s": 1}
                    )
                except httpx.HTTPError as exc:
                    self.errors[type(exc).__name__] += 1
                    self.endpoint.rotate()
                    self.halt.wait(0.2)
                    continue
                if r.status_code != 200:
                    self.errors[str(r.status_code)] += 1
                    self.endpoint.rotate()
                    self.halt.wait(0.2)
                    continue
                now = time.time()
                for e in r.json()["events"]:
                    seq = int(e["seq"])
                    if seq != last + 1:
                        self.jumps.append((last, seq))
                    self.seen.append(Seen(seq, str(e["type"]), str(e["entity_id"]), now))
                    last = max(last, seq)
        except BaseException as exc:  # reported by the harness, never lost
            self.failure = exc
        finally:
            self.endpoint.close()
