"""Engine settings refuse values that would make ticks meaningless, naming the field."""

from __future__ import annotations

import math

import pytest

from dispatch import EngineSettings


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("location_staleness_s", 0.0),
        ("lease_ttl_s", math.inf),
        ("max_batch", 0),
        ("lateness_cost_per_s", 0),
        ("delivery_time_cost_per_s", -1),
        ("promise_cost_per_s", -1),
        ("promise_fee", -1),
        ("promise_buffer_s", -1),
        ("churn_penalty", -5),
    ],
)
def test_bad_values_name_their_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        EngineSettings(**{field: value})  # type: ignore[arg-type]


def test_the_buffer_can_be_switched_off_for_time_pricing() -> None:
    """None prices every second to the door instead (the MDRP replay does)."""
    assert EngineSettings().promise_buffer_s == 600
    assert EngineSettings(promise_buffer_s=None).promise_buffer_s is None
    assert EngineSettings(promise_buffer_s=0).promise_buffer_s == 0
