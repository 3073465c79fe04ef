"""solver_ab: RoutingParams overrides parsed from name=value text; differences over rounds."""

from __future__ import annotations

import pytest

from simulations.bench.solver_ab import parse_overrides, round_differences
from simulations.bench.solver_bench import BenchRow
from solver.routing import RoutingParams


def test_overrides_become_typed_routing_params() -> None:
    """Booleans, integers and floats are typed; the result builds valid RoutingParams."""
    got = parse_overrides(["ils_hint=false", "lns_share=0", "vroom_level=3", "vroom_share=0.5"])
    assert got == {"ils_hint": False, "lns_share": 0, "vroom_level": 3, "vroom_share": 0.5}
    prm = RoutingParams(**got)  # type: ignore[arg-type]
    assert not prm.ils_hint and prm.lns_share == 0


def test_unknown_field_is_refused() -> None:
    """A name RoutingParams does not have stops the run before it starts."""
    with pytest.raises(SystemExit, match="no_such"):
        parse_overrides(["no_such=1"])


def _row(kind: str, gap: float | None) -> BenchRow:
    return BenchRow(
        instance="x",
        kind=kind,
        routes=[],
        vehicles=0,
        distance=None,
        feasible=True,
        solve_s=0.0,
        backend="",
        gap_pct=gap,
    )


def test_round_differences_pair_old_and_new_per_kind() -> None:
    """Each round's mean per kind, and new - old over rounds with its spread; rows
    without a gap are left out of both sides."""
    rounds = [
        {
            "old": [_row("vrptw", 2.0), _row("vrptw", 4.0), _row("pdptw", 1.0)],
            "new": [_row("vrptw", 1.0), _row("vrptw", 3.0), _row("pdptw", None)],
        },
        {
            "old": [_row("vrptw", 3.0), _row("vrptw", 3.0), _row("pdptw", 1.0)],
            "new": [_row("vrptw", 3.0), _row("vrptw", 3.0), _row("pdptw", 0.5)],
        },
    ]
    got = round_differences(rounds)
    assert got["vrptw"]["old_means"] == [3.0, 3.0]
    assert got["vrptw"]["new_means"] == [2.0, 3.0]
    assert got["vrptw"]["diff_mean"] == -0.5
    assert got["vrptw"]["diff_sd"] == pytest.approx(0.707, abs=1e-3)
    assert got["vrptw"]["diff_se"] == pytest.approx(0.5, abs=1e-3)
    assert got["pdptw"]["old_means"] == [1.0]  # the first round's pdptw row had no new gap
    assert got["pdptw"]["diff_mean"] == -0.5
