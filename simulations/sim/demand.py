"""Demand and supply of a scenario: day profiles, Poisson arrivals, merchants, shifts.

Order and job requests arrive as non-homogeneous Poisson processes whose rate
follows a day profile (a base rate plus Gaussian peaks at local hours); they
are drawn by thinning a homogeneous process at the profile's maximum rate.
Every draw comes from one ``numpy.random.Generator`` in a fixed order, so a
seed gives one world. Basket values come from a second generator of the same
seed, so adding them left every other draw of a seed unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

import geo
from dispatch.community import CommunitySpec
from dispatch.errors import InvalidInput
from dispatch.model import DEFAULT_SKILLS, LatLng, Priority, ServiceType, Vehicle, WorkerKind
from simulations.sim.recorded import RecordedDemand
from simulations.sim.scenario import MerchantGroup, Peak, Scenario
from simulations.sim.world import (
    Behaviour,
    Economics,
    JobArrival,
    Merchant,
    OrderArrival,
    WorkerPlan,
    World,
)


def rate_at(hour: float | np.ndarray, base: float, peaks: Sequence[Peak]) -> np.ndarray:
    """Requests per hour at local hour(s) ``hour`` (peaks wrap around midnight)."""
    h = np.asarray(hour, dtype=np.float64)
    rate = np.full(h.shape, float(base))
    for p in peaks:
        d = (h - p.hour + 12.0) % 24.0 - 12.0
        rate = rate + p.per_hour * np.exp(-0.5 * (d / p.width_h) ** 2)
    return rate


def nhpp_times(
    rng: np.random.Generator,
    horizon_s: float,
    start_hour: float,
    base: float,
    peaks: Sequence[Peak],
) -> np.ndarray:
    """Arrival times (seconds after the start) of the profile's process, by thinning."""
    lam_max = base + sum(p.per_hour for p in peaks)
    if lam_max <= 0 or horizon_s <= 0:
        return np.zeros(0)
    n = int(rng.poisson(lam_max * horizon_s / 3600.0))
    t = np.sort(rng.uniform(0.0, horizon_s, n))
    hours = (start_hour + t / 3600.0) % 24.0
    keep = rng.uniform(0.0, lam_max, n) < rate_at(hours, base, peaks)
    return t[keep]


def lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    """n positive draws with the given mean and coefficient of variation."""
    if cv <= 0:
        return np.full(n, float(mean))
    sigma2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2), n)


def start_epoch(date: str, start_hour: float, utc_offset_min: int) -> float:
    """Epoch seconds of a local date and hour."""
    midnight = datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()
    return midnight - utc_offset_min * 60.0 + start_hour * 3600.0


def _points(rng: np.random.Generator, center: LatLng, radius_m: float, n: int) -> list[LatLng]:
    fence = geo.Geofence.circle(center.lat, center.lng, radius_m)
    lats, lngs = fence.random_points(n, rng)
    return [LatLng(float(a), float(b)) for a, b in zip(lats, lngs, strict=True)]


def _pick(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(w), size=n, p=w / w.sum())


#: Second stream of a seed: basket values (``numpy`` seeds ``[seed, BASKET_STREAM]``).
BASKET_STREAM = 0xBA5CE7
#: Third stream: which orders' kitchens report their ready time (``[seed, KITCHEN_STREAM]``).
KITCHEN_STREAM = 0x4B17C4


def basket_values(scenario: Scenario, seed: int, group: np.ndarray) -> np.ndarray:
    """Order values (goods, before the delivery fee), in cents, per merchant group."""
    rng = np.random.default_rng([seed, BASKET_STREAM])
    out = np.zeros(len(group))
    for gi, g in enumerate(scenario.merchants):
        idx = np.flatnonzero(group == gi)
        out[idx] = lognormal(rng, g.basket_mean, g.basket_cv, len(idx))
    return np.round(out, 2)


def report_after(group: MerchantGroup, u: float, prep_actual_s: float) -> float | None:
    """When, after its order, a kitchen reports the real ready time (None: never):
    ``report_lead_min`` before the food is out, for a ``ready_reports`` share of orders
    (``u`` is the order's uniform draw)."""
    if u >= group.ready_reports:
        return None
    return max(0.0, prep_actual_s - group.report_lead_min * 60.0)


def build_world(scenario: Scenario, seed: int, recorded: RecordedDemand | None = None) -> World:
    """Draw one day of the scenario (merchants, homes, requests, shifts).

    With ``recorded``, requests come at the recorded times (from its first
    request, its local hour) and the scenario draws only the rest of each one.
    """
    rng = np.random.default_rng(seed)
    s = scenario
    c = s.community
    center = LatLng(c.lat, c.lng)
    horizon = s.hours * 3600.0 if recorded is None else recorded.span_s + 1.0
    end = horizon + s.drain_min * 60.0
    t0 = start_epoch(s.date, s.start_hour, s.utc_offset_min)
    start_hour = s.start_hour
    if recorded is not None:
        t0 = recorded.t0
        start_hour = ((t0 + s.utc_offset_min * 60.0) % 86400.0) / 3600.0

    merchants: list[Merchant] = []
    group_members: list[np.ndarray] = []
    popularity: list[np.ndarray] = []
    for g in s.merchants:
        first = len(merchants)
        for i, p in enumerate(_points(rng, center, c.radius_m * g.spread, g.count)):
            merchants.append(
                Merchant(f"m{first + i + 1:03d}", p, ServiceType(g.service), g.prep_min * 60)
            )
        group_members.append(np.arange(first, len(merchants)))
        w = 1.0 / np.arange(1, g.count + 1) ** 0.8  # a few popular merchants, a long tail
        popularity.append(w / w.sum())
    homes = _points(rng, center, c.radius_m * s.residents.spread, s.residents.count)

    o = s.orders
    if recorded is None:
        t = nhpp_times(rng, horizon, s.start_hour, o.base_per_hour, o.peaks)
    else:
        t = np.asarray(recorded.orders, dtype=np.float64)
    n = len(t)
    group = _pick(rng, [g.share for g in s.merchants], n)
    pick_u = rng.uniform(size=n)
    home = rng.integers(0, len(homes), n)
    tiers = list(o.priority_mix)
    tier = _pick(rng, [o.priority_mix[k] for k in tiers], n)
    size = np.where(rng.uniform(size=n) < o.double_size_share, 2, 1)
    accept = rng.uniform(size=n)
    cancel = rng.uniform(size=n) < o.cancellation.change_of_mind
    cancel_at = rng.uniform(0.5, o.cancellation.change_of_mind_within_min, n) * 60.0
    impatient = rng.uniform(size=n) < o.cancellation.impatient
    prep_noise = [lognormal(rng, 1.0, g.prep_cv, n) for g in s.merchants]
    value = basket_values(s, seed, group)
    # Its own stream: switching kitchen reports on leaves every other draw as it was.
    kitchen_u = np.random.default_rng([seed, KITCHEN_STREAM]).uniform(size=n)
    orders: list[OrderArrival] = []
    for i in range(n):
        gi = int(group[i])
        cum = np.cumsum(popularity[gi])
        m = int(group_members[gi][min(int(np.searchsorted(cum, pick_u[i])), len(cum) - 1)])
        est = merchants[m].prep_s
        actual = float(est * prep_noise[gi][i])
        orders.append(
            OrderArrival(
                t=float(t[i]),
                merchant=m,
                dropoff=homes[int(home[i])],
                prep_estimate_s=est,
                prep_actual_s=actual,
                service=merchants[m].service,
                priority=Priority(tiers[int(tier[i])]),
                size=int(size[i]),
                accept_u=float(accept[i]),
                cancel_after_s=float(cancel_at[i]) if cancel[i] else None,
                impatient=bool(impatient[i]),
                value=float(value[i]),
                report_after_s=report_after(s.merchants[gi], float(kitchen_u[i]), actual),
            )
        )

    jobs = _jobs(rng, s, horizon, homes, None if recorded is None else recorded.jobs)
    workers = _workers(rng, s, center, horizon, end)
    return World(
        name=s.name,
        community=_with_skills(s.community.spec(), workers),
        t0=t0,
        horizon_s=horizon,
        end_s=end,
        merchants=tuple(merchants),
        orders=tuple(orders),
        jobs=tuple(jobs),
        workers=tuple(workers),
        settings=s.engine,
        routing=s.solver,
        behaviour=Behaviour(
            order_elasticity=o.elasticity,
            job_elasticity=s.jobs.elasticity,
            patience_s=o.cancellation.patience_min * 60.0,
            idle_return_m=s.idle_return_m,
        ),
        position_interval_s=s.position_interval_s,
        sample_interval_s=s.sample_interval_min * 60.0,
        start_hour=start_hour,
        tick_when_idle=s.simulation.tick_when_idle,
        economics=Economics(**s.economics.model_dump()),
    )


def _with_skills(spec: CommunitySpec, workers: Sequence[WorkerPlan]) -> CommunitySpec:
    """The community's catalogue: the product's home services and every skill its
    technicians bring (a scenario may name skills of its own)."""
    brought = frozenset(k for w in workers for k in w.skills)
    if spec.skills is None and brought <= DEFAULT_SKILLS:
        return spec
    return dataclasses.replace(spec, skills=(spec.skills or DEFAULT_SKILLS) | brought)


def _jobs(
    rng: np.random.Generator,
    s: Scenario,
    horizon: float,
    homes: list[LatLng],
    recorded: Sequence[float] | None = None,
) -> list[JobArrival]:
    """Job requests (at ``recorded`` times, when given: then no extra emergencies)."""
    j = s.jobs
    out: list[JobArrival] = []
    if recorded is None:
        t = nhpp_times(rng, horizon, s.start_hour, j.base_per_hour, j.peaks)
    else:
        t = np.asarray(recorded, dtype=np.float64)
    n = len(t)
    skills = [k for k in j.skills if k.share > 0]
    if n and not skills:
        raise InvalidInput("the recorded day has technician jobs; the scenario has no job skills")
    which = _pick(rng, [k.share for k in skills], n) if n else np.zeros(0, dtype=np.int64)
    home = rng.integers(0, len(homes), n)
    booked = rng.uniform(size=n) < j.booked_share
    lo, hi = j.book_ahead_min
    ahead = rng.uniform(lo, hi, n) * 60.0
    rating = rng.uniform(size=n) < j.min_rating_share
    accept = rng.uniform(size=n)
    cancel = rng.uniform(size=n) < j.cancel_share
    cancel_u = rng.uniform(size=n)
    for i in range(n):
        k = skills[int(which[i])]
        duration = float(lognormal(rng, k.duration_min * 60.0, k.duration_cv, 1)[0])
        window = None
        if booked[i]:
            start = math.ceil((t[i] + ahead[i]) / 900.0) * 900.0  # quarter-hour slots
            window = (start, start + j.window_min * 60.0)
        latest = (window[0] if window else t[i] + 3600.0) - t[i]
        cancel_after = 300.0 + cancel_u[i] * max(0.0, min(3600.0, latest) - 300.0)
        out.append(
            JobArrival(
                t=float(t[i]),
                location=homes[int(home[i])],
                skill=k.skill,
                duration_s=duration,
                window=window,
                min_rating=j.min_rating if rating[i] else None,
                accept_u=float(accept[i]),
                cancel_after_s=float(cancel_after) if cancel[i] else None,
            )
        )
    if j.emergencies_per_hour > 0 and recorded is None:
        m = int(rng.poisson(j.emergencies_per_hour * horizon / 3600.0))
        te = np.sort(rng.uniform(0.0, horizon, m))
        for i in range(m):
            out.append(
                JobArrival(
                    t=float(te[i]),
                    location=homes[int(rng.integers(0, len(homes)))],
                    skill=str(rng.choice(j.emergency_skills)),
                    duration_s=float(lognormal(rng, j.emergency_duration_min * 60, 0.3, 1)[0]),
                    emergency=True,
                )
            )
    out.sort(key=lambda a: a.t)
    return out


def _workers(
    rng: np.random.Generator, s: Scenario, center: LatLng, horizon: float, end: float
) -> list[WorkerPlan]:
    out: list[WorkerPlan] = []
    radius = s.community.radius_m * 0.9
    for block in s.couriers:
        names = list(block.vehicles)
        vehicle = _pick(rng, [block.vehicles[v] for v in names], block.count)
        homes = _points(rng, center, radius, block.count)
        for i in range(block.count):
            start, stop = block.start_h * 3600.0, min(block.end_h * 3600.0, end)
            if start >= horizon:
                continue
            out.append(
                WorkerPlan(
                    id=f"c{sum(1 for w in out if w.kind == WorkerKind.COURIER) + 1:03d}",
                    kind=WorkerKind.COURIER,
                    vehicle=Vehicle(names[int(vehicle[i])]),
                    start_s=start,
                    end_s=stop,
                    home=homes[i],
                    capacity=block.capacity,
                )
            )
    for group in s.technicians:
        homes = _points(rng, center, radius, group.count)
        for i in range(group.count):
            start, stop = group.start_h * 3600.0, min(group.end_h * 3600.0, end)
            if start >= horizon:
                continue
            out.append(
                WorkerPlan(
                    id=f"t{sum(1 for w in out if w.kind == WorkerKind.TECHNICIAN) + 1:02d}",
                    kind=WorkerKind.TECHNICIAN,
                    vehicle=Vehicle(group.vehicle),
                    start_s=start,
                    end_s=stop,
                    home=homes[i],
                    capacity=0,
                    skills=frozenset(group.skills),
                    rating=group.rating,
                )
            )
    return out
