"""The reasons a tick gives waiting work, on plain values."""

from __future__ import annotations

from dispatch.model import Job, LatLng, Order, Price, Worker, WorkerKind, WorkerStatus
from dispatch.reasons import REASON_TEXT, Reason, Reasons

P = LatLng(31.23, 121.47)
PRICE = Price(10.0, 1.0, 10.0, 1)
NOW = 1000.0
ORDER = Order("o1", "c1", P, P, NOW, NOW, NOW + 1800, PRICE)


def courier(wid: str, **kw: object) -> Worker:
    return Worker(wid, WorkerKind.COURIER, "c1", **kw)  # type: ignore[arg-type]


def tech(wid: str, skills: set[str], **kw: object) -> Worker:
    return Worker(wid, WorkerKind.TECHNICIAN, "c1", skills=frozenset(skills), **kw)  # type: ignore[arg-type]


def job(**kw: object) -> Job:
    return Job("j1", "c1", P, frozenset({"plumbing"}), 1800.0, NOW, PRICE, **kw)  # type: ignore[arg-type]


def test_every_reason_has_words() -> None:
    assert set(REASON_TEXT) == set(Reason)


def test_order_reasons_from_basic_to_specific() -> None:
    off = courier("a", status=WorkerStatus.OFFLINE)
    ended = courier("b", shift_end=NOW - 1)
    assert Reasons([off, ended], set(), set(), NOW).order(ORDER) == Reason.NO_WORKER_ON_SHIFT
    assert Reasons([courier("a")], set(), set(), NOW).order(ORDER) == Reason.POSITIONS_STALE
    assert Reasons([courier("a")], {"a"}, {"a"}, NOW).order(ORDER) == Reason.CAPACITY
    free = Reasons([courier("a")], {"a"}, set(), NOW)
    assert free.order(ORDER) == Reason.PROMISE_UNREACHABLE
    techs_only = Reasons([tech("t", {"plumbing"})], {"t"}, set(), NOW)
    assert techs_only.order(ORDER) == Reason.NO_WORKER_ON_SHIFT


def test_job_reasons_look_at_qualified_technicians_only() -> None:
    wrong = tech("t", {"cleaning"})
    low = tech("u", {"plumbing"}, rating=3.0)
    assert Reasons([wrong, courier("a")], {"t", "a"}, set(), NOW).job(job()) == (
        Reason.NO_QUALIFIED_WORKER
    )
    rated = job(min_rating=4.5)
    assert Reasons([low], {"u"}, set(), NOW).job(rated) == Reason.NO_QUALIFIED_WORKER
    away = tech("t", {"plumbing"}, status=WorkerStatus.ON_BREAK)
    assert Reasons([away], set(), set(), NOW).job(job()) == Reason.QUALIFIED_WORKERS_OFF_SHIFT
    ok = tech("t", {"plumbing", "repair"})
    assert Reasons([ok], set(), set(), NOW).job(job()) == Reason.POSITIONS_STALE
    assert Reasons([ok], {"t"}, {"t"}, NOW).job(job()) == Reason.CAPACITY
    assert Reasons([ok], {"t"}, set(), NOW).job(job()) == Reason.WINDOW_UNREACHABLE
    passed = job(window_start=NOW - 600, window_end=NOW - 1, due_by=NOW - 1)
    assert Reasons([ok], {"t"}, {"t"}, NOW).job(passed) == Reason.WINDOW_UNREACHABLE
