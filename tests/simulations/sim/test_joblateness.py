"""Why technician jobs were late: each cause on a hand-built day, and a whole run's tally."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.model import LatLng, Vehicle
from simulations.sim.demand import build_world
from simulations.sim.joblateness import (
    HINDSIGHT,
    Cause,
    Decomposition,
    JobFacts,
    JobVerdict,
    Technician,
    classify,
    decompose,
)
from simulations.sim.kpis import compute_kpis
from simulations.sim.scenario import Scenario
from simulations.sim.simulator import Simulation

END = 36_000.0


def at(x: float) -> LatLng:
    """A point x seconds of travel east of the origin (see ``seconds``)."""
    return LatLng(0.0, x / 1e5)


def seconds(vehicle: Vehicle, a: LatLng, b: LatLng) -> float:
    """Travel: one second per 1e-5 degree, whatever the vehicle."""
    return abs(a.lat - b.lat) * 1e5 + abs(a.lng - b.lng) * 1e5


def tech(tid: str = "t1", home: float = 0.0, end_s: float = 30_000.0, **kw: object) -> Technician:
    values: dict[str, object] = {
        "id": tid,
        "skills": frozenset({"plumbing"}),
        "rating": 4.5,
        "vehicle": Vehicle.SCOOTER,
        "start_s": 0.0,
        "end_s": end_s,
        "path": ((0.0, at(home)),),
    }
    values.update(kw)
    return Technician(**values)  # type: ignore[arg-type]


def job(jid: str = "j1", **kw: object) -> JobFacts:
    """A plumbing job 600 s from the origin, booked 10 000-17 200 s, booked at 1 000 s."""
    values: dict[str, object] = {
        "id": jid,
        "created_s": 1000.0,
        "location": at(600.0),
        "skills": frozenset({"plumbing"}),
        "duration_s": 3600.0,
        "emergency": False,
        "due_s": 17_200.0,
        "window": (10_000.0, 17_200.0),
    }
    values.update(kw)
    return JobFacts(**values)  # type: ignore[arg-type]


def verdict(j: JobFacts, techs: list[Technician] | None = None, others: tuple = ()) -> JobVerdict:
    return classify(j, techs if techs is not None else [tech()], seconds, END, others)


def test_a_job_reached_by_its_due_time_is_on_time() -> None:
    """Arrival at the due time exactly is on time; a second later is not."""
    assert verdict(job(arrived_s=17_200.0)).cause == Cause.ON_TIME
    assert verdict(job(arrived_s=17_201.0)).cause != Cause.ON_TIME


def test_hindsight_causes_from_skills_run_end_and_shifts() -> None:
    """No one with the skill or rating; the window opens after the run; no shift holds it."""
    assert verdict(job(skills=frozenset({"cleaning"}))).cause == Cause.NO_QUALIFIED_TECHNICIAN
    assert verdict(job(min_rating=4.8)).cause == Cause.NO_QUALIFIED_TECHNICIAN
    late = job(window=(END, END + 7200.0), due_s=END + 7200.0)
    assert verdict(late).cause == Cause.AFTER_RUN
    # Opens 1 000 s before the shift ends and lasts an hour: reachable only with overtime.
    tight = verdict(job(window=(29_000.0, 31_000.0), due_s=31_000.0))
    assert tight.cause == Cause.OUTSIDE_SHIFTS and tight.reachable_with_overtime
    assert tight.in_hindsight
    # Opens after the shift ended: not even overtime helps.
    after = verdict(job(window=(30_500.0, 32_000.0), due_s=32_000.0))
    assert after.cause == Cause.OUTSIDE_SHIFTS and not after.reachable_with_overtime
    # The same job fits a technician whose shift is an hour longer.
    longer = [tech(end_s=30_000.0), tech("t2", end_s=34_000.0)]
    assert verdict(job(window=(29_000.0, 31_000.0), due_s=31_000.0), longer).cause not in HINDSIGHT


def test_an_emergency_too_far_from_every_qualified_technician() -> None:
    """Due 900 s after booking, 1 000 s away from the only plumber: late in hindsight; a
    plumber 300 s away makes it a dispatch matter."""
    e = job(emergency=True, window=None, due_s=1900.0, location=at(1000.0))
    assert verdict(e, [tech(home=0.0)]).cause == Cause.TRAVEL_UNREACHABLE
    near = [tech(home=0.0), tech("t2", home=700.0)]
    assert verdict(e, near).cause == Cause.NEVER_ASSIGNED


def test_where_a_technician_was_on_a_leg() -> None:
    """Between two path points it waits, then moves at travel speed to arrive on time."""
    t = tech(path=((0.0, at(0.0)), (1000.0, at(400.0))))
    assert t.position(100.0, seconds) == at(0.0)  # leaves at 600 s
    assert t.position(800.0, seconds).lng == pytest.approx(at(200.0).lng)
    assert t.position(5000.0, seconds) == at(400.0)


def test_dispatch_causes_from_the_timeline() -> None:
    """Never assigned; assigned after the last useful moment; taken away; left too late;
    set off in time and still late."""
    assert verdict(job(reason="capacity")).cause == Cause.NEVER_ASSIGNED
    # Due 17 200 s, 600 s away: the last useful moment is 16 600 s.
    late_give = job(assignments=((16_700.0, "t1"),), worker="t1", started_s=16_700.0)
    assert verdict(dataclasses.replace(late_give, arrived_s=17_300.0)).cause == (
        Cause.ASSIGNED_TOO_LATE
    )
    moved = job(
        assignments=((2000.0, "t1"), (9000.0, "t2")),
        worker="t2",
        started_s=16_900.0,
        arrived_s=17_500.0,
    )
    two = [tech(), tech("t2")]
    assert verdict(moved, two).cause == Cause.TAKEN_AWAY
    lazy = job(assignments=((2000.0, "t1"),), worker="t1", started_s=16_800.0, arrived_s=17_400.0)
    assert verdict(lazy).cause == Cause.LEFT_TOO_LATE
    never = job(assignments=((2000.0, "t1"),), worker="t1")
    assert verdict(never).cause == Cause.LEFT_TOO_LATE
    slow = job(assignments=((2000.0, "t1"),), worker="t1", started_s=16_000.0, arrived_s=17_300.0)
    assert verdict(slow).cause == Cause.SLOW_TRAVEL


def test_other_work_and_emergencies_in_between() -> None:
    """An emergency its technician started after the job was assigned pre-empted it; any
    other job started in between queued it."""
    j = job(assignments=((2000.0, "t1"),), worker="t1", started_s=17_000.0, arrived_s=17_600.0)
    other = job("j2", worker="t1", started_s=9000.0, arrived_s=9600.0)
    assert verdict(j, others=(j, other)).cause == Cause.QUEUED_BEHIND_OTHER_WORK
    emergency = dataclasses.replace(other, emergency=True, window=None)
    assert verdict(j, others=(j, emergency)).cause == Cause.PREEMPTED_BY_EMERGENCY
    before = dataclasses.replace(other, started_s=1500.0)  # started before j was assigned
    assert verdict(j, others=(j, before)).cause == Cause.LEFT_TOO_LATE


def test_given_to_a_technician_on_site_until_too_late() -> None:
    """Assigned while its technician works elsewhere until after the last useful moment:
    late as planned; the same technician free in time makes it another cause."""
    j = job(assignments=((9000.0, "t1"),), worker="t1", started_s=17_000.0, arrived_s=17_600.0)
    busy = job(
        "j2",
        location=at(0.0),
        worker="t1",
        started_s=8000.0,
        arrived_s=8600.0,
        completed_s=17_000.0,
    )
    verdict_ = verdict(j, others=(j, busy))
    assert verdict_.cause == Cause.PLANNED_LATE and "j2" in verdict_.detail
    done = dataclasses.replace(busy, completed_s=12_000.0)
    assert verdict(j, others=(j, done)).cause == Cause.LEFT_TOO_LATE


def test_a_job_without_a_due_time_has_no_verdict() -> None:
    """Only due jobs are classified."""
    with pytest.raises(ValueError, match="no due time"):
        verdict(job(window=None, due_s=None))


def test_tallies_and_rates() -> None:
    """Counts per cause; the rate among jobs some dispatcher could have made on time."""
    dec = Decomposition(
        (
            JobVerdict(job("a"), Cause.ON_TIME),
            JobVerdict(job("b"), Cause.ON_TIME),
            JobVerdict(job("c"), Cause.OUTSIDE_SHIFTS),
            JobVerdict(job("d"), Cause.NEVER_ASSIGNED),
        )
    )
    assert dec.counts[Cause.ON_TIME] == 2 and dec.counts[Cause.SLOW_TRAVEL] == 0
    assert (dec.due, dec.late_in_hindsight, dec.late_by_dispatch) == (4, 1, 1)
    assert dec.on_time_rate == 0.5
    assert dec.possible_on_time_rate == pytest.approx(2 / 3)


def test_a_run_decomposes_into_its_kpi(tiny: Scenario) -> None:
    """Every due job of a simulated day gets one cause; the on-time share is the KPI's."""
    result = Simulation(build_world(tiny, 3), policy="nearest-idle", surge=False).run()
    dec = decompose(result)
    kpis = compute_kpis(result)
    assert dec.due > 0 and sum(dec.counts.values()) == dec.due
    assert dec.on_time_rate == pytest.approx(kpis["jobs_on_time_rate"], abs=1e-4)
    for v in dec.verdicts:
        assert (v.cause == Cause.ON_TIME) == v.job.on_time
        if v.job.first_tick_s is not None:
            assert v.job.first_tick_s >= v.job.created_s


def test_a_job_due_after_the_run_is_not_judged_unless_reached(tiny: Scenario) -> None:
    """A window that ends after the day stopped was not missed: neither the KPI nor the
    decomposition counts it, while a job reached before the end still counts."""
    from simulations.sim.records import JobRecord
    from simulations.sim.world import JobArrival

    result = Simulation(build_world(tiny, 3), policy="nearest-idle", surge=False).run()
    some = next(j for j in result.jobs if j.due_s is not None)
    later = JobRecord(
        "after-the-day",
        created_s=result.end_s - 600.0,
        skill=some.skill,
        emergency=False,
        window=(result.end_s + 900.0, result.end_s + 8100.0),
        due_s=result.end_s + 8100.0,
        multiplier=1.0,
    )
    drawn = JobArrival(
        later.created_s, result.world.jobs[0].location, some.skill, 3600.0, later.window
    )
    world = dataclasses.replace(result.world, jobs=[*result.world.jobs, drawn])
    result = dataclasses.replace(result, world=world)
    before, dec_before = compute_kpis(result), decompose(result)
    extended = dataclasses.replace(result, jobs=[*result.jobs, later])
    assert compute_kpis(extended)["jobs_on_time_rate"] == before["jobs_on_time_rate"]
    assert decompose(extended).due == dec_before.due
    reached = dataclasses.replace(later, arrived_s=result.end_s - 60.0, state="in_progress")
    with_reached = dataclasses.replace(result, jobs=[*result.jobs, reached])
    assert decompose(with_reached).due == dec_before.due + 1
