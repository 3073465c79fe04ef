"""Fault injection in the suite: one fault of each kind against the real processes.

A durable Redis (``appendfsync always``), two API processes and two tick workers
take orders and courier reports while an API process and a worker are killed, a
worker is paused mid-tick for longer than its lease and Redis is killed; after
the system settles, its history must show no anomaly of any kind. About a minute;
the long version is ``benchmarks/faults.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import KINDS, FaultConfig, FaultResult, run_faults
from tests.redis_server import RedisServerMissing, find_redis_server

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> FaultResult:
    """One short run, shared by the tests below (its folder keeps logs and history)."""
    try:
        find_redis_server()
    except RedisServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    config = FaultConfig(
        Path(tmp_path_factory.mktemp("faults")),
        appendfsync="always",
        orders=150,
        rate_per_s=3.0,
        communities=3,
        couriers_per_community=5,
        faults=KINDS,
        seed=1,
        settle_s=45.0,
    )
    return run_faults(config)


def _where(run: FaultResult) -> str:
    return f"(logs and history.json in {run.config.directory})"


def test_each_fault_kind_struck_once(run: FaultResult) -> None:
    """The nemesis killed an API, killed and paused a worker mid-tick, and killed Redis."""
    assert run.faults_by_kind == {kind: 1 for kind in KINDS}
    assert all(f.ended is not None for f in run.faults)
    caught = {f.kind for f in run.faults if f.mid_tick}
    assert caught >= {"kill-worker", "pause-worker"}, f"no worker caught mid-tick: {run.faults}"


def test_history_has_no_anomaly(run: FaultResult) -> None:
    """Feed gapless, one holder per order, no lost or duplicated order or report."""
    assert not run.anomalies, "\n".join(
        [_where(run), *(f"{a.kind}: {a.detail}" for a in run.anomalies[:40])]
    )


def test_ticks_resume_after_each_fault(run: FaultResult) -> None:
    """Every community commits a plan within lease + 2 intervals after every fault."""
    bound = run.config.tick_bound_s
    assert run.overlapped == 0
    assert set(run.resume_s) == set(KINDS), _where(run)
    assert max(run.resume_s.values()) <= bound, (run.resume_s, _where(run))


def test_every_order_acknowledged_and_delivered(run: FaultResult) -> None:
    """Clients' retries got every order in; couriers delivered them all while settling."""
    o = run.orders
    assert o["placed"] >= run.config.orders
    assert o["acknowledged"] == o["placed"] == o["created"], (o, _where(run))
    assert o["delivered"] == o["created"] and o["settled"] == 1, (o, _where(run))
