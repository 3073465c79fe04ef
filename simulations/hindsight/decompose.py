"""Why deliveries and jobs were late: a pure classifier and its inputs.

Every late delivery (delivered after its promise) and every late job (a job
with a due time, not cancelled, reached after it or never) of a policy run is
"late even in hindsight" when the hindsight plan misses it too (or drops it),
else "late because of dispatch". Deliveries late even in hindsight whose
promise no courier could keep (the order's real ready time, the pickup service
and the fastest courier's direct ride already pass the promise) are also
counted as "promise unreachable".

Late jobs also get every cause the run shows, in this order (the first that
applies is the job's primary cause):

- ``no qualified technician``: nobody with the skill and rating works before the due time;
- ``no shift holds it``: no qualified technician's shift lasts from the job's earliest
  start to its end (the engine plans whole jobs inside shifts; on a simulated day
  these are mostly jobs booked for after the day's shifts);
- ``unreachable at booking``: no qualified technician could get there by the due time
  from where it stood when the job was booked;
- ``never assigned``: the run never gave the job to a technician;
- ``skill scarcity``: at no moment between the job's earliest start and its due time was
  any qualified technician on shift and free (not between setting off for another
  job and completing it);
- ``pre-empted by an emergency``: a technician holding the job went to an emergency
  before reaching it;
- ``assigned only when due``: the first assignment came too late for the assignee to
  ride there by the due time;
- ``queued behind another job``: its technician came straight from another job;
- ``other``: none of these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Job causes in priority order (module docstring).
JOB_CAUSES = (
    "no qualified technician",
    "no shift holds it",
    "unreachable at booking",
    "never assigned",
    "skill scarcity",
    "pre-empted by an emergency",
    "assigned only when due",
    "queued behind another job",
    "other",
)
#: A technician setting off within this long of completing a job came "straight" from it.
STRAIGHT_S = 60.0
_EPS = 1e-6


@dataclass(frozen=True)
class Busy:
    """A technician's spell on one job: from setting off to completing it."""

    start_s: float
    end_s: float
    job: str
    emergency: bool = False


@dataclass(frozen=True)
class TechDay:
    """One qualified technician's day in the run."""

    id: str
    shift: tuple[float, float]
    busy: tuple[Busy, ...] = ()


@dataclass(frozen=True)
class LateJob:
    """What the classifier needs to know of one late job (times in run seconds)."""

    id: str
    created_s: float
    earliest_s: float  # window opening (or booking)
    due_s: float
    duration_s: float
    late_in_hindsight: bool
    qualified: tuple[TechDay, ...]  # every technician allowed to do it
    reach_s: float | None  # earliest arrival of any qualified technician seen at booking
    holders: tuple[tuple[float, str], ...] = ()  # (assigned at, technician), in time order
    assigned_reach_s: float | None = None  # first assignment + the assignee's ride from there
    worker: str | None = None  # the technician who served it in the end
    started_s: float | None = None  # when that technician set off for it
    arrived_s: float | None = None


@dataclass(frozen=True)
class LateOrder:
    id: str
    late_in_hindsight: bool
    promise_unreachable: bool  # ready + pickup service + fastest direct ride > promise


@dataclass
class Decomposition:
    """Counts of one policy run's late work; they add up (``consistent``)."""

    late_orders: int = 0
    orders_late_in_hindsight: int = 0
    orders_late_by_dispatch: int = 0
    orders_promise_unreachable: int = 0
    late_jobs: int = 0
    jobs_late_in_hindsight: int = 0
    jobs_late_by_dispatch: int = 0
    job_primary: Counter[str] = field(default_factory=Counter)  # one cause per job
    job_causes: Counter[str] = field(default_factory=Counter)  # every cause that applies
    per_job: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        return (
            self.orders_late_in_hindsight + self.orders_late_by_dispatch == self.late_orders
            and self.orders_promise_unreachable <= self.orders_late_in_hindsight
            and self.jobs_late_in_hindsight + self.jobs_late_by_dispatch == self.late_jobs
            and sum(self.job_primary.values()) == self.late_jobs
        )


def _free_during(tech: TechDay, a: float, b: float, skip: str) -> bool:
    """Whether the technician is on shift and free at some moment of [a, b]."""
    lo, hi = max(a, tech.shift[0]), min(b, tech.shift[1])
    if lo > hi + _EPS:
        return False
    spells = sorted((x for x in tech.busy if x.job != skip), key=lambda x: x.start_s)
    t = lo
    for spell in spells:
        if spell.end_s <= t:
            continue
        if spell.start_s > t + _EPS:
            return True  # a gap before this spell
        t = max(t, spell.end_s)
        if t > hi:
            return False
    return t <= hi + _EPS


def _preempted(job: LateJob) -> bool:
    until = job.arrived_s if job.arrived_s is not None else job.due_s
    by_tech = {t.id: t for t in job.qualified}
    for held_at, tech_id in job.holders:
        tech = by_tech.get(tech_id)
        if tech is None:
            continue
        if any(
            x.emergency and x.job != job.id and held_at - _EPS <= x.start_s < until
            for x in tech.busy
        ):
            return True
    return False


def _straight_from_other(job: LateJob) -> bool:
    if job.worker is None or job.started_s is None:
        return False
    tech = next((t for t in job.qualified if t.id == job.worker), None)
    if tech is None:
        return False
    started = job.started_s
    return any(
        x.job != job.id and x.end_s <= started + _EPS and started - x.end_s <= STRAIGHT_S
        for x in tech.busy
    )


def job_causes(job: LateJob) -> tuple[str, ...]:
    """Every cause that applies to a late job, in ``JOB_CAUSES`` order (never empty)."""
    found: list[str] = []
    on_shift = [t for t in job.qualified if t.shift[0] <= job.due_s]
    if not on_shift:
        found.append("no qualified technician")
    if not any(t.shift[1] + _EPS >= job.earliest_s + job.duration_s for t in job.qualified):
        found.append("no shift holds it")
    if job.reach_s is None or job.reach_s > job.due_s + _EPS:
        found.append("unreachable at booking")
    if not job.holders:
        found.append("never assigned")
    if on_shift and not any(_free_during(t, job.earliest_s, job.due_s, job.id) for t in on_shift):
        found.append("skill scarcity")
    if _preempted(job):
        found.append("pre-empted by an emergency")
    if job.assigned_reach_s is not None and job.assigned_reach_s > job.due_s + _EPS:
        found.append("assigned only when due")
    if _straight_from_other(job):
        found.append("queued behind another job")
    return tuple(found) or ("other",)


def decompose(orders: Sequence[LateOrder], jobs: Sequence[LateJob]) -> Decomposition:
    """Tally late orders and jobs by hindsight verdict and (jobs) by cause."""
    d = Decomposition()
    for o in orders:
        d.late_orders += 1
        if o.late_in_hindsight:
            d.orders_late_in_hindsight += 1
            d.orders_promise_unreachable += int(o.promise_unreachable)
        else:
            d.orders_late_by_dispatch += 1
    for j in jobs:
        d.late_jobs += 1
        if j.late_in_hindsight:
            d.jobs_late_in_hindsight += 1
        else:
            d.jobs_late_by_dispatch += 1
        causes = job_causes(j)
        d.per_job[j.id] = causes
        d.job_primary[causes[0]] += 1
        d.job_causes.update(causes)
    return d
