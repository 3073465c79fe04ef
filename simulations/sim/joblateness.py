"""Why technician jobs were late: one cause per due job of a finished run.

A job is due when it has a booked window (due at the window's end) or is an
emergency (due within the community's SLA); it is on time when a technician
arrives by then (``jobs_on_time_rate``). Durations do not enter "on time", but
they do enter what is possible: the engine keeps each technician's day inside
the shift, so a job must also be finished by the shift's end.

Causes are tried from the most basic to the most specific; the first that
holds is the job's cause.

Late even in hindsight (each a bound that ignores every other job, so no
dispatcher could have made the job on time):

- ``no_qualified_technician``: nobody in the run has the skills and rating.
- ``after_run``: the job could not start before the run ended.
- ``outside_shifts``: no qualified technician's shift can start the job by its
  due time and still finish it, even with no travel at all.
- ``travel_unreachable``: every qualified technician, dropping everything when
  the job was booked, arrives after its due time.

Caused by dispatch (read from the job's events and the technicians' paths):

- ``never_assigned``: possible, but no technician was ever given the job.
- ``assigned_too_late``: first given to a technician after the last moment
  from which that technician could still arrive in time.
- ``planned_late``: first given to a technician on site at another job until
  too late to arrive in time (the plan had it late from the start).
- ``preempted_by_emergency``: a technician holding the job started an emergency
  between the job's assignment and its own start.
- ``taken_away``: the job changed technicians (or went back to pending) after
  it was first assigned.
- ``queued_behind_other_work``: its technician started other work after the
  job was assigned, and set off for it too late.
- ``left_too_late``: its technician set off (or never did) too late, with no
  other work in between.
- ``slow_travel``: set off in time by the travel model, still arrived late.

``decompose`` reads a ``SimulationResult``; ``classify`` works on plain
``JobFacts`` and ``Technician`` values, so a hindsight bound or a test can use
it without a simulator.
"""

from __future__ import annotations

import bisect
import enum
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dispatch.model import LatLng, Vehicle, WorkerKind
from simulations.sim.records import JobRecord, SimulationResult
from simulations.sim.world import World

__all__ = [
    "HINDSIGHT",
    "Cause",
    "Decomposition",
    "JobFacts",
    "JobVerdict",
    "Technician",
    "classify",
    "decompose",
]

#: Seconds between two points for a vehicle (``TravelModel.seconds``).
Seconds = Callable[[Vehicle, LatLng, LatLng], float]

#: Slack for comparing float times (the simulator's times are sums of floats).
EPS = 1e-6


class Cause(enum.StrEnum):
    """Why a due job was (or was not) reached by its due time."""

    ON_TIME = "on_time"
    NO_QUALIFIED_TECHNICIAN = "no_qualified_technician"
    AFTER_RUN = "after_run"
    OUTSIDE_SHIFTS = "outside_shifts"
    TRAVEL_UNREACHABLE = "travel_unreachable"
    NEVER_ASSIGNED = "never_assigned"
    ASSIGNED_TOO_LATE = "assigned_too_late"
    PLANNED_LATE = "planned_late"
    PREEMPTED_BY_EMERGENCY = "preempted_by_emergency"
    TAKEN_AWAY = "taken_away"
    QUEUED_BEHIND_OTHER_WORK = "queued_behind_other_work"
    LEFT_TOO_LATE = "left_too_late"
    SLOW_TRAVEL = "slow_travel"


#: Causes no dispatcher could avoid (the job alone is already impossible).
HINDSIGHT = frozenset(
    {
        Cause.NO_QUALIFIED_TECHNICIAN,
        Cause.AFTER_RUN,
        Cause.OUTSIDE_SHIFTS,
        Cause.TRAVEL_UNREACHABLE,
    }
)


@dataclass(frozen=True)
class Technician:
    """A technician's shift and where it was: ``path`` holds (time, position) points
    in time order (the home at the shift's start first, then each leg's end)."""

    id: str
    skills: frozenset[str]
    rating: float
    vehicle: Vehicle
    start_s: float
    end_s: float
    path: tuple[tuple[float, LatLng], ...]

    def position(self, t: float, seconds: Seconds) -> LatLng:
        """Where the technician was at ``t``: on a leg, it left its last point as late
        as the leg's travel time allows (a leg's start is not recorded)."""
        times = [p[0] for p in self.path]
        i = bisect.bisect_right(times, t) - 1
        if i < 0:
            return self.path[0][1]
        here = self.path[i][1]
        if i + 1 >= len(self.path):
            return here
        t1, there = self.path[i + 1]
        leg = seconds(self.vehicle, here, there)
        left = t1 - leg
        if t <= left or leg <= 0:
            return here
        f = min(1.0, (t - left) / leg)
        return LatLng(here.lat + f * (there.lat - here.lat), here.lng + f * (there.lng - here.lng))

    def qualified(self, skills: frozenset[str], min_rating: float | None) -> bool:
        return skills <= self.skills and (min_rating is None or self.rating >= min_rating)


@dataclass(frozen=True)
class JobFacts:
    """One job and what happened to it (times in seconds after the run's start).

    ``assignments`` are the engine's assignment events in time order: (time,
    technician id), or (time, None) when the job went back to pending.
    """

    id: str
    created_s: float
    location: LatLng
    skills: frozenset[str]
    duration_s: float
    emergency: bool
    due_s: float | None
    window: tuple[float, float] | None = None
    min_rating: float | None = None
    cancelled: bool = False
    assignments: tuple[tuple[float, str | None], ...] = ()
    worker: str | None = None
    started_s: float | None = None
    arrived_s: float | None = None
    completed_s: float | None = None
    first_tick_s: float | None = None  # the first tick that looked at it
    reason: str | None = None  # the engine's last reason for it waiting or being late

    @property
    def on_time(self) -> bool:
        return (
            self.due_s is not None
            and self.arrived_s is not None
            and self.arrived_s <= self.due_s + EPS
        )


@dataclass(frozen=True)
class JobVerdict:
    """A due job's cause, with the timeline that decided it."""

    job: JobFacts
    cause: Cause
    detail: str = ""
    #: For ``outside_shifts``: some qualified technician could have arrived by the
    #: due time within its shift, but not finished the job before the shift ended.
    reachable_with_overtime: bool = False

    @property
    def in_hindsight(self) -> bool:
        return self.cause in HINDSIGHT


@dataclass(frozen=True)
class Decomposition:
    """The verdicts of one run's due jobs, and their tallies."""

    verdicts: tuple[JobVerdict, ...]
    counts: dict[Cause, int] = field(init=False)

    def __post_init__(self) -> None:
        tally = Counter(v.cause for v in self.verdicts)
        object.__setattr__(self, "counts", {c: tally.get(c, 0) for c in Cause})

    @property
    def due(self) -> int:
        return len(self.verdicts)

    @property
    def on_time(self) -> int:
        return self.counts[Cause.ON_TIME]

    @property
    def late_in_hindsight(self) -> int:
        return sum(self.counts[c] for c in HINDSIGHT)

    @property
    def late_by_dispatch(self) -> int:
        return self.due - self.on_time - self.late_in_hindsight

    @property
    def on_time_rate(self) -> float | None:
        """The simulator's ``jobs_on_time_rate``."""
        return self.on_time / self.due if self.due else None

    @property
    def possible_on_time_rate(self) -> float | None:
        """On time among the jobs that some dispatcher could have made on time."""
        possible = self.due - self.late_in_hindsight
        return self.on_time / possible if possible else None


def classify(
    job: JobFacts,
    technicians: Sequence[Technician],
    seconds: Seconds,
    end_s: float,
    others: Sequence[JobFacts] = (),
) -> JobVerdict:
    """The cause of one due job (see the module docstring); ``others`` are the run's
    other jobs (what its technicians did instead), ``end_s`` when the run stopped."""
    if job.due_s is None:
        raise ValueError(f"job {job.id} has no due time")
    if job.on_time:
        return JobVerdict(job, Cause.ON_TIME)
    hindsight = _hindsight(job, technicians, seconds, end_s)
    if hindsight is not None:
        return hindsight
    return _dispatch(job, {t.id: t for t in technicians}, seconds, end_s, others)


def _hindsight(
    job: JobFacts, technicians: Sequence[Technician], seconds: Seconds, end_s: float
) -> JobVerdict | None:
    """A cause that no dispatcher could avoid, or None when the job alone was possible."""
    assert job.due_s is not None
    qualified = [t for t in technicians if t.qualified(job.skills, job.min_rating)]
    if not qualified:
        return JobVerdict(job, Cause.NO_QUALIFIED_TECHNICIAN)
    opens = job.created_s if job.window is None else max(job.created_s, job.window[0])
    if opens >= end_s - EPS:
        return JobVerdict(job, Cause.AFTER_RUN, f"can start at {opens:.0f} s, run ends {end_s:.0f}")
    in_shift = []
    overtime = False
    for t in qualified:
        start = max(opens, t.start_s)
        if start > min(job.due_s, t.end_s) + EPS:
            continue
        overtime = True  # it could be reached in the shift, at least without travel
        if start + job.duration_s <= t.end_s + EPS:
            in_shift.append(t)
    if not in_shift:
        return JobVerdict(
            job,
            Cause.OUTSIDE_SHIFTS,
            f"window opens {opens:.0f} s, lasts {job.duration_s:.0f} s",
            reachable_with_overtime=overtime,
        )
    for t in in_shift:
        leave = max(job.created_s, t.start_s)
        arrive = leave + seconds(t.vehicle, t.position(leave, seconds), job.location)
        start = arrive if job.window is None else max(arrive, job.window[0])
        if arrive <= job.due_s + EPS and start + job.duration_s <= t.end_s + EPS:
            return None
    return JobVerdict(job, Cause.TRAVEL_UNREACHABLE, "every qualified technician is too far")


def _latest_leave(job: JobFacts, tech: Technician | None, t: float, seconds: Seconds) -> float:
    """The last moment ``tech``, where it was at ``t``, could leave and arrive in time."""
    assert job.due_s is not None
    if tech is None:
        return job.due_s
    return job.due_s - seconds(tech.vehicle, tech.position(t, seconds), job.location)


def _dispatch(
    job: JobFacts,
    techs: dict[str, Technician],
    seconds: Seconds,
    end_s: float,
    others: Sequence[JobFacts],
) -> JobVerdict:
    """The dispatch cause of a job that was possible on its own and still late."""
    assert job.due_s is not None
    given = [(t, w) for t, w in job.assignments if w is not None]
    if not given:
        return JobVerdict(job, Cause.NEVER_ASSIGNED, job.reason or "")
    first_t, first_w = given[0]
    latest = _latest_leave(job, techs.get(first_w), first_t, seconds)
    if first_t > latest + EPS:
        return JobVerdict(
            job,
            Cause.ASSIGNED_TOO_LATE,
            f"assigned at {first_t:.0f} s to {first_w}, last useful moment {latest:.0f} s",
        )
    for o in others:
        if (
            o.id != job.id
            and o.worker == first_w
            and o.arrived_s is not None
            and o.arrived_s <= first_t + EPS
            and (o.completed_s is None or o.completed_s > first_t)
        ):
            free = o.completed_s if o.completed_s is not None else end_s
            tech = techs.get(first_w)
            away = 0.0 if tech is None else seconds(tech.vehicle, o.location, job.location)
            if free + away > job.due_s + EPS:
                return JobVerdict(
                    job, Cause.PLANNED_LATE, f"{first_w} on site at {o.id} until {free:.0f} s"
                )
    until = job.started_s if job.started_s is not None else end_s
    holders = {w for _, w in given}
    for o in others:
        if (
            o.emergency
            and o.id != job.id
            and o.worker in holders
            and o.started_s is not None
            and first_t - EPS <= o.started_s <= until + EPS
        ):
            return JobVerdict(job, Cause.PREEMPTED_BY_EMERGENCY, f"{o.worker} went to {o.id}")
    if len(job.assignments) > 1:
        moves = ", ".join(f"{t:.0f} s → {w or 'pending'}" for t, w in job.assignments)
        return JobVerdict(job, Cause.TAKEN_AWAY, moves)
    worker = job.worker or first_w
    tech = techs.get(worker)
    latest = _latest_leave(job, tech, until, seconds)
    for o in others:
        if (
            o.id != job.id
            and o.worker == worker
            and o.started_s is not None
            and first_t - EPS <= o.started_s <= until + EPS
        ):
            return JobVerdict(job, Cause.QUEUED_BEHIND_OTHER_WORK, f"{worker} did {o.id} first")
    if job.started_s is None or job.started_s > latest + EPS:
        left = "never" if job.started_s is None else f"at {job.started_s:.0f} s"
        return JobVerdict(job, Cause.LEFT_TOO_LATE, f"left {left}, latest {latest:.0f} s")
    return JobVerdict(job, Cause.SLOW_TRAVEL)


# ---- reading a finished run ------------------------------------------------------------


def decompose(result: SimulationResult) -> Decomposition:
    """Every due, not cancelled job of a run with its cause."""
    world = result.world
    techs = [
        Technician(
            id=a.id,
            skills=a.plan.skills,
            rating=a.plan.rating,
            vehicle=a.plan.vehicle,
            start_s=a.plan.start_s,
            end_s=a.plan.end_s,
            path=_path(a.plan.start_s, a.plan.home, a.path, world.t0),
        )
        for a in result.agents
        if a.plan.kind == WorkerKind.TECHNICIAN
    ]
    events: dict[str, list[dict[str, Any]]] = {}
    for e in result.events:
        if str(e["type"]).startswith("job."):
            events.setdefault(str(e["entity_id"]), []).append(e)
    facts = [_facts(rec, world, events.get(rec.id, [])) for rec in result.jobs]
    due = [  # as ``jobs_on_time_rate`` counts them: not due after the run unless reached
        f
        for f in facts
        if f.due_s is not None
        and not f.cancelled
        and (f.due_s <= result.end_s or f.arrived_s is not None)
    ]
    verdicts = [classify(f, techs, world.travel.seconds, result.end_s, facts) for f in due]
    return Decomposition(tuple(verdicts))


def _path(
    start_s: float, home: LatLng, points: Sequence[tuple[float, float, float]], t0: float
) -> tuple[tuple[float, LatLng], ...]:
    """(time after the start, position) from an agent's path, whose leg ends carry
    clock (epoch) times and whose shift start carries a time after the start."""
    rel = [(t - t0 if t >= t0 else t, LatLng(lat, lng)) for t, lat, lng in points]
    rel.sort(key=lambda p: p[0])
    return ((min(start_s, rel[0][0]) if rel else start_s, home), *rel)


def _facts(rec: JobRecord, world: World, events: Sequence[dict[str, Any]]) -> JobFacts:
    """A job record with what the world drew for it and what the engine said (its events)."""
    arrival = min(
        (a for a in world.jobs if a.skill == rec.skill and a.emergency == rec.emergency),
        key=lambda a: abs(a.t - rec.created_s),
    )
    if abs(arrival.t - rec.created_s) > 1e-3:
        raise ValueError(f"job {rec.id} matches no job arrival of the world")
    assignments: list[tuple[float, str | None]] = []
    first_tick: float | None = None
    reason: str | None = None
    for e in events:
        t = float(e["ts"]) - world.t0
        data = e.get("data") or {}
        kind = e["type"][4:]
        if kind in ("assigned", "reassigned", "unassigned"):
            assignments.append((t, data.get("worker_id") if kind != "unassigned" else None))
        if kind in ("assigned", "at_risk") and first_tick is None:
            first_tick = t
        reason = data.get("reason", reason)
    return JobFacts(
        id=rec.id,
        created_s=rec.created_s,
        location=arrival.location,
        skills=frozenset({rec.skill}),
        duration_s=arrival.duration_s,
        emergency=rec.emergency,
        due_s=rec.due_s,
        window=rec.window,
        min_rating=arrival.min_rating,
        cancelled=rec.state == "cancelled",
        assignments=tuple(assignments),
        worker=rec.worker,
        started_s=rec.started_s,
        arrived_s=rec.arrived_s,
        completed_s=rec.completed_s,
        first_tick_s=first_tick,
        reason=reason,
    )
