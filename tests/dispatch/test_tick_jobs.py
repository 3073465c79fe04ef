"""Technician jobs in a tick: booked windows, emergencies pre-empting, late work served."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import geo
from dispatch import EngineSettings
from dispatch.model import (
    Community,
    Job,
    JobState,
    Price,
    StopKind,
    Worker,
    WorkerKind,
)
from dispatch.policies import OptimizerPolicy, RegretInsertionPolicy
from dispatch.reasons import Reason
from dispatch.tick import TickProblem, TickSnapshot, apply_plan, build_tick_problem
from dispatch.tick.build import job_timing
from solver import NONE, RoutingParams, RoutingResult, check_routes
from solver.problem import HORIZON_MAX
from tests.dispatch.conftest import CENTER, offset

NOW = 1_000_000.0
SETTINGS = EngineSettings()
MATRICES = geo.HaversineMatrixProvider()
PRICE = Price(10.0, 1.0, 10.0, 1)
PLUMBING = frozenset({"plumbing"})

Solve = Callable[[TickProblem], RoutingResult]
SOLVERS: dict[str, Solve] = {
    "regret-insertion": lambda tp: RegretInsertionPolicy().solve(tp, 1.0),
    "optimizer": lambda tp: OptimizerPolicy(RoutingParams(use_vroom=False, isolate=False)).solve(
        tp, 0.3
    ),
}


def _tech(wid: str, at: tuple[float, float]) -> Worker:
    return Worker(
        wid,
        WorkerKind.TECHNICIAN,
        "c1",
        position=offset(*at),
        position_ts=NOW,
        skills=PLUMBING,
    )


def _booked(jid: str, at: tuple[float, float], opens: float, closes: float, **kw: Any) -> Job:
    """A plumbing job booked in the window [NOW + opens, NOW + closes]."""
    return Job(
        jid,
        "c1",
        offset(*at),
        PLUMBING,
        kw.pop("duration_s", 3600.0),
        NOW - 3600,
        PRICE,
        window_start=NOW + opens,
        window_end=NOW + closes,
        due_by=NOW + closes,
        **kw,
    )


def _emergency(jid: str, at: tuple[float, float], due_in: float, duration_s: float) -> Job:
    return Job(
        jid,
        "c1",
        offset(*at),
        PLUMBING,
        duration_s,
        NOW - 60,
        PRICE,
        emergency=True,
        due_by=NOW + due_in,
    )


def _snapshot(workers: list[Worker], jobs: list[Job]) -> TickSnapshot:
    community = Community(id="c1", name="Riverside", center=CENTER)
    return TickSnapshot(community, None, tuple(workers), (), tuple(jobs), NOW)


def _plan(snap: TickSnapshot, solve: Solve) -> tuple[TickProblem, RoutingResult, dict[str, Any]]:
    """Build, solve, check with the independent checker; each job's worker and start."""
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    result = solve(tp)
    assert check_routes(tp.problem, result).feasible
    where: dict[str, Any] = {}
    for k, (route, starts) in enumerate(zip(result.routes, result.start_times, strict=True)):
        for pos, (s, t) in enumerate(zip(route, starts, strict=True)):
            where[tp.stops[s].entity_id] = (tp.workers[k].id, pos, t)
    return tp, result, where


def test_job_timing_by_kind() -> None:
    """Booked: hard start, soft end at the window price (the lateness price once closed);
    emergencies at their weight; jobs without a due time have none."""
    open_ = job_timing(_booked("b", (0, 0), 600, 2400), NOW, SETTINGS)
    assert open_ == {"tw_start": 600, "soft": 2400, "weight": SETTINGS.window_cost_per_s}
    closed = job_timing(_booked("c", (0, 0), -3000, -600), NOW, SETTINGS)
    assert closed == {"tw_start": 0, "soft": 0, "weight": SETTINGS.lateness_cost_per_s}
    e = job_timing(_emergency("e", (0, 0), 1200, 600), NOW, SETTINGS)
    assert e == {"soft": 1200 - SETTINGS.emergency_buffer_s, "weight": SETTINGS.emergency_weight}
    soon = job_timing(_emergency("e", (0, 0), 60, 600), NOW, SETTINGS)
    assert soon["soft"] == 0
    plain = Job("p", "c1", CENTER, PLUMBING, 600, NOW, PRICE)
    none = {"soft": NONE, "weight": SETTINGS.lateness_cost_per_s}
    assert job_timing(plain, NOW, SETTINGS) == none
    assert SETTINGS.lateness_cost_per_s < SETTINGS.window_cost_per_s < SETTINGS.emergency_weight
    with pytest.raises(ValueError, match="window_cost_per_s"):
        EngineSettings(window_cost_per_s=0)
    with pytest.raises(ValueError, match="emergency_buffer_s"):
        EngineSettings(emergency_buffer_s=-1)


def test_a_booked_window_has_no_hard_end() -> None:
    """The window's end is a price, not a wall: a window no one can keep is served late."""
    tp = build_tick_problem(
        _snapshot([_tech("t1", (0, 0))], [_booked("b", (300, 0), 600, 2400)]), SETTINGS, MATRICES
    )
    p = tp.problem
    assert p.tw_start is not None and p.tw_end is not None and p.soft_deadline is not None
    assert (int(p.tw_start[0]), int(p.tw_end[0]), int(p.soft_deadline[0])) == (
        600,
        HORIZON_MAX,
        2400,
    )


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_an_emergency_pre_empts_the_only_plumber(solver: str) -> None:
    """One plumber, a booked job about to open and an emergency: the emergency goes
    first; the booked job is served late (and flagged), not dropped."""
    booked = _booked("b", (1000, 0), 600, 2400)
    urgent = _emergency("e", (-1000, 0), 1800, 2700)
    snap = _snapshot([_tech("t1", (0, 0))], [booked, urgent])
    tp, result, where = _plan(snap, SOLVERS[solver])
    assert where["e"][:2] == ("t1", 0) and where["e"][2] <= 1800
    assert where["b"][:2] == ("t1", 1) and where["b"][2] > 2400
    changes = apply_plan(snap, tp, result, SETTINGS, solve_ms=1.0, fallback=False)
    b = next(j for j in changes.jobs if j.id == "b")
    assert b.state == JobState.ASSIGNED and b.at_risk and b.reason == Reason.LATE_ETA.value


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_an_emergency_takes_the_plumber_it_disrupts_least(solver: str) -> None:
    """A free plumber that reaches the emergency in time takes it; the other keeps its
    booked job on time."""
    booked = _booked("b", (1000, 0), 600, 2400)
    urgent = _emergency("e", (-1000, 0), 1800, 2700)
    techs = [_tech("t1", (0, 0)), _tech("t2", (-1500, 0))]
    _, _, where = _plan(_snapshot(techs, [booked, urgent]), SOLVERS[solver])
    assert where["e"][0] == "t2" and where["e"][2] <= 1800
    assert where["b"][0] == "t1" and 600 <= where["b"][2] <= 2400


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_an_emergency_goes_to_the_plumber_sure_to_make_it(solver: str) -> None:
    """A plumber on site next door until just before the SLA ends loses the emergency to
    a free one farther away who arrives with time to spare."""
    urgent = _emergency("e", (0, 0), 1800, 1200)
    on_site = Job(
        "w",
        "c1",
        offset(100, 0),
        PLUMBING,
        3600.0,
        NOW - 3600,
        PRICE,
        state=JobState.IN_SERVICE,
        worker_id="t1",
        arrived_at=NOW - 1900,  # busy until NOW + 1700
    )
    techs = [_tech("t1", (100, 0)), _tech("t2", (-1500, 0))]
    tp, _, where = _plan(_snapshot(techs, [urgent, on_site]), SOLVERS[solver])
    assert tp.problem.vehicle_start_time is not None
    assert int(tp.problem.vehicle_start_time[0]) == 1700
    assert where["e"][0] == "t2" and where["e"][2] <= 1800 - SETTINGS.emergency_buffer_s


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_a_closed_window_is_served_after_work_that_can_still_be_on_time(solver: str) -> None:
    """A booked job whose window closed unserved is still planned, after the job whose
    window can still be kept."""
    closed = _booked("c", (500, 0), -3000, -600, duration_s=1800.0)
    open_ = _booked("b", (-500, 0), 300, 1500, duration_s=1800.0)
    _, _, where = _plan(_snapshot([_tech("t1", (0, 0))], [closed, open_]), SOLVERS[solver])
    assert where["b"][:2] == ("t1", 0) and 300 <= where["b"][2] <= 1500
    assert where["c"][:2] == ("t1", 1)


def test_a_technician_on_the_way_still_waits_for_the_window() -> None:
    """A job en route stays on its technician and starts when its window opens, so the
    rest of the technician's day is planned from the right time."""
    on_way = dataclasses.replace(
        _booked("b", (300, 0), 1200, 3000), state=JobState.EN_ROUTE, worker_id="t1"
    )
    later = _booked("l", (600, 0), 0, 7200, duration_s=600.0)
    snap = _snapshot([_tech("t1", (0, 0)), _tech("t2", (5000, 0))], [on_way, later])
    tp, _, where = _plan(snap, SOLVERS["regret-insertion"])
    b = next(i for i, s in enumerate(tp.stops) if s.entity_id == "b")
    assert tp.problem.committed_vehicle is not None and tp.problem.tw_start is not None
    assert int(tp.problem.committed_vehicle[b]) == 0 and int(tp.problem.tw_start[b]) == 1200
    assert where["b"][0] == "t1" and where["b"][2] == 1200
    assert tp.stops[b].kind == StopKind.JOB
