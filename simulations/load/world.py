"""The load test's world, without locust: its community, points and moves, bounds, setup.

Kept apart from the locustfiles (importing locust monkey-patches the process with
gevent) so tests and benchmarks can use it directly. Everything here is plain
Python: a flat-earth map of the community (fine at 3 km), the safety bounds every
run obeys, the environment knobs, and the one quiet, bounded client the runs use
to set up their community before users start.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx

__all__ = [
    "ABORTED",
    "CENTER",
    "MAX_RUN_TIME_S",
    "MAX_USERS",
    "RADIUS_M",
    "LoadKnobs",
    "Place",
    "SetupClient",
    "abort",
    "check_bounds",
    "community_body",
    "headers",
    "loopback",
    "point",
    "step_towards",
    "ws_url",
]

CENTER = (31.2304, 121.4737)
RADIUS_M = 3000.0
#: Most users one run may start, and the run time imposed when none is given.
MAX_USERS = 200
MAX_RUN_TIME_S = 300
_M_PER_DEG_LAT = 111_320.0
_M_PER_DEG_LNG = _M_PER_DEG_LAT * math.cos(math.radians(CENTER[0]))

Place = tuple[float, float]  # (lat, lng), degrees


def loopback(url: str) -> bool:
    """Whether ``url`` names this machine (the only hosts a load test may hit)."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def enforce_bounds(environment: Any, quiet: tuple[str, ...]) -> None:
    """At locust's start: quiet the named loggers, refuse remote hosts and oversized
    runs (SystemExit), and cap a run given no run time."""
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    opts = environment.parsed_options
    if opts is None:
        return
    why = check_bounds(opts.host or environment.host or "", opts.num_users)
    if why:
        raise SystemExit(why)
    if not opts.run_time:
        opts.run_time = MAX_RUN_TIME_S


def check_bounds(host: str, users: int | None) -> str | None:
    """Why a run must not start (a remote host, too many users), or None."""
    if host and not loopback(host):
        return f"refusing to load-test {host}: only loopback hosts are allowed"
    if (users or 0) > MAX_USERS:
        return f"at most {MAX_USERS} users, got {users}"
    return None


#: Why this process's run was stopped before its users started (empty: it was not).
ABORTED: list[str] = []


def abort(environment: Any, why: str) -> None:
    """Stop a locust run before its users start: log why once; the run exits 1.

    The runner is stopped from a greenlet of its own: this is called while the
    runner is starting (in ``test_start``).
    """
    import gevent

    logging.getLogger("simulations.load").error("%s", why)
    ABORTED.append(why)
    gevent.spawn(environment.runner.quit)


def ws_url(host: str, path: str) -> str:
    """The WebSocket URL of ``path`` on an ``http(s)://`` host."""
    base = host.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + path
    return "ws://" + base.removeprefix("http://") + path


def headers(key: str | None) -> dict[str, str]:
    """The bearer header for an API key (none when the server runs open)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def _to_metres(p: Place) -> tuple[float, float]:
    return ((p[1] - CENTER[1]) * _M_PER_DEG_LNG, (p[0] - CENTER[0]) * _M_PER_DEG_LAT)


def _to_place(x: float, y: float) -> Place:
    return (CENTER[0] + y / _M_PER_DEG_LAT, CENTER[1] + x / _M_PER_DEG_LNG)


def distance_m(a: Place, b: Place) -> float:
    """Flat-earth distance between two places of the community, metres."""
    ax, ay = _to_metres(a)
    bx, by = _to_metres(b)
    return math.hypot(bx - ax, by - ay)


def point(rng: random.Random, spread: float = 0.9) -> Place:
    """A uniform place inside ``spread`` times the community's radius."""
    r = RADIUS_M * spread * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    lat, lng = _to_place(r * math.cos(a), r * math.sin(a))
    return (round(lat, 6), round(lng, 6))


def step_towards(here: Place, there: Place, metres: float) -> tuple[Place, bool]:
    """Move at most ``metres`` in a straight line; (where, arrived). Arriving lands exactly
    on ``there``; both ends inside the (convex) fence keep every step inside it."""
    hx, hy = _to_metres(here)
    tx, ty = _to_metres(there)
    gap = math.hypot(tx - hx, ty - hy)
    if gap <= metres:
        return there, True
    f = metres / gap
    lat, lng = _to_place(hx + (tx - hx) * f, hy + (ty - hy) * f)
    return (round(lat, 6), round(lng, 6)), False


def community_body(name: str, dispatch_interval_s: float, solver_budget_s: float) -> dict[str, Any]:
    """The ``PUT /v1/communities/{id}`` body of a load-test community."""
    return {
        "name": name,
        "center": {"lat": CENTER[0], "lng": CENTER[1]},
        "radius_m": RADIUS_M,
        "dispatch_interval_s": dispatch_interval_s,
        "solver_budget_s": solver_budget_s,
    }


def _env_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = float(raw)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {raw!r}")
    return value


@dataclass(frozen=True)
class LoadKnobs:
    """What a run can be told through the environment (``DISPATCH_LOAD_*``).

    key: an API key holding every role the users need (none: the server runs open).
    max_fail_ratio: the run exits 1 when a larger share of requests failed.
    courier_speed_mps: how fast couriers move (a time-lapse: far above a bicycle's
        5 m/s, so orders reach the door within a short run).
    position_every_s: how often a courier sends its position (the engine dispatches
        only to couriers whose last position is under 60 s old).
    dispatch_interval_s / solver_budget_s: the load community's dispatch rhythm.
    """

    key: str | None = None
    max_fail_ratio: float = 0.01
    courier_speed_mps: float = 300.0
    position_every_s: float = 1.0
    dispatch_interval_s: float = 3.0
    solver_budget_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoadKnobs:
        e = os.environ if env is None else env
        return cls(
            key=e.get("DISPATCH_LOAD_KEY") or None,
            max_fail_ratio=_env_float(e, "DISPATCH_LOAD_MAX_FAIL_RATIO", 0.01, 0.0, 1.0),
            courier_speed_mps=_env_float(e, "DISPATCH_LOAD_COURIER_SPEED_MPS", 300.0, 1.0, 1e4),
            position_every_s=_env_float(e, "DISPATCH_LOAD_POSITION_EVERY_S", 1.0, 0.05, 30.0),
            dispatch_interval_s=_env_float(e, "DISPATCH_LOAD_DISPATCH_INTERVAL_S", 3.0, 1.0, 3600),
            solver_budget_s=_env_float(e, "DISPATCH_LOAD_SOLVER_BUDGET_S", 1.0, 0.05, 60.0),
        )


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence INFO lines of these loggers (httpx logs every request at INFO)."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class SetupClient:
    """One keep-alive connection for setting a run up: bounded in time, silent in logs.

    Every call shares one deadline (``budget_s``); a failed request raises with the
    server's answer, so a run never starts half set up.
    """

    def __init__(self, host: str, key: str | None, budget_s: float = 60.0) -> None:
        self.deadline = time.monotonic() + budget_s
        self.client = httpx.Client(
            base_url=host, headers=headers(key), timeout=10.0, trust_env=False
        )

    def __enter__(self) -> SetupClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"setting the load test up took too long (at {method} {path})")
        with _quiet("httpx", "httpcore"):
            resp = self.client.request(method, path, json=body, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"setup {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None
