"""solver_ab: RoutingParams overrides parsed from name=value text."""

from __future__ import annotations

import pytest

from simulations.bench.solver_ab import parse_overrides
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
