"""The late-work classifier on hand-made jobs and orders (no simulation)."""

from __future__ import annotations

from dataclasses import replace

from simulations.hindsight.decompose import (
    JOB_CAUSES,
    Busy,
    LateJob,
    LateOrder,
    TechDay,
    decompose,
    job_causes,
)

FREE = TechDay("t1", (0.0, 10_000.0))


def late_job(**changes: object) -> LateJob:
    """A job due at 3 000 s, held by t1 from 100 s, reachable at booking, late anyway."""
    base = LateJob(
        id="j1",
        created_s=0.0,
        earliest_s=1_000.0,
        due_s=3_000.0,
        duration_s=1_800.0,
        late_in_hindsight=False,
        qualified=(FREE,),
        reach_s=1_200.0,
        holders=((100.0, "t1"),),
        assigned_reach_s=700.0,
        worker="t1",
        started_s=2_000.0,
        arrived_s=3_500.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_job_with_no_visible_cause_is_other() -> None:
    """Assigned early, a free technician, no emergency, no queue: 'other'."""
    assert job_causes(late_job()) == ("other",)


def test_nobody_qualified_on_shift_before_the_due_time() -> None:
    """A technician whose shift starts after the due time does not count."""
    late = TechDay("t1", (4_000.0, 9_000.0))
    causes = job_causes(late_job(qualified=(late,), reach_s=None, holders=()))
    assert causes[0] == "no qualified technician"
    assert "unreachable at booking" in causes and "never assigned" in causes


def test_no_shift_holds_a_job_that_would_end_after_every_shift() -> None:
    """Window opening plus duration past every qualified shift's end."""
    short = TechDay("t1", (0.0, 2_500.0))
    assert job_causes(late_job(qualified=(short,)))[0] == "no shift holds it"
    assert "no shift holds it" not in job_causes(late_job())


def test_unreachable_at_booking() -> None:
    """The earliest arrival seen at booking is after the due time."""
    assert job_causes(late_job(reach_s=3_100.0))[0] == "unreachable at booking"


def test_skill_scarcity_when_every_qualified_technician_is_busy_all_window() -> None:
    """Both qualified technicians are on other jobs from before the window to after it."""
    a = TechDay("t1", (0.0, 10_000.0), (Busy(500.0, 2_000.0, "x"), Busy(2_000.0, 3_600.0, "y")))
    b = TechDay("t2", (0.0, 10_000.0), (Busy(0.0, 4_000.0, "z"),))
    assert "skill scarcity" in job_causes(late_job(qualified=(a, b)))
    gap = TechDay("t1", (0.0, 10_000.0), (Busy(500.0, 1_500.0, "x"), Busy(1_600.0, 3_600.0, "y")))
    assert "skill scarcity" not in job_causes(late_job(qualified=(gap, b)))


def test_the_job_itself_does_not_make_its_technician_busy() -> None:
    """Time spent on the late job is not scarcity."""
    own = TechDay("t1", (0.0, 10_000.0), (Busy(500.0, 5_000.0, "j1"),))
    assert "skill scarcity" not in job_causes(late_job(qualified=(own,)))


def test_pre_empted_by_an_emergency_after_the_job_was_held() -> None:
    """Its holder set off for an emergency between holding it and reaching it."""
    t = TechDay("t1", (0.0, 10_000.0), (Busy(1_500.0, 3_200.0, "e1", emergency=True),))
    assert "pre-empted by an emergency" in job_causes(late_job(qualified=(t,)))
    before = TechDay("t1", (0.0, 10_000.0), (Busy(50.0, 90.0, "e1", emergency=True),))
    assert "pre-empted by an emergency" not in job_causes(late_job(qualified=(before,)))


def test_assigned_only_when_due() -> None:
    """The first assignment plus the assignee's ride passes the due time."""
    job = late_job(holders=((2_900.0, "t1"),), assigned_reach_s=3_300.0)
    assert "assigned only when due" in job_causes(job)


def test_queued_behind_another_job() -> None:
    """Its technician set off within a minute of completing another job."""
    t = TechDay("t1", (0.0, 10_000.0), (Busy(1_000.0, 1_970.0, "x"),))
    assert "queued behind another job" in job_causes(late_job(qualified=(t,)))
    long_gap = TechDay("t1", (0.0, 10_000.0), (Busy(1_000.0, 1_800.0, "x"),))
    assert "queued behind another job" not in job_causes(late_job(qualified=(long_gap,)))


def test_counts_add_up() -> None:
    """Every late order and job lands in exactly one hindsight bucket and one primary cause."""
    orders = [
        LateOrder("o1", True, True),
        LateOrder("o2", True, False),
        LateOrder("o3", False, False),
    ]
    jobs = [
        late_job(),
        late_job(id="j2", late_in_hindsight=True, reach_s=3_100.0),
        late_job(id="j3", holders=(), assigned_reach_s=None, worker=None, started_s=None),
    ]
    d = decompose(orders, jobs)
    assert (d.late_orders, d.orders_late_in_hindsight, d.orders_late_by_dispatch) == (3, 2, 1)
    assert d.orders_promise_unreachable == 1
    assert (d.late_jobs, d.jobs_late_in_hindsight, d.jobs_late_by_dispatch) == (3, 1, 2)
    assert d.job_primary == {"other": 1, "unreachable at booking": 1, "never assigned": 1}
    assert set(d.job_causes) <= set(JOB_CAUSES)
    assert d.consistent
