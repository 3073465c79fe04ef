"""Property-based fuzzing of the OpenAPI schema (schemathesis, in-process over ASGI).

Checks: no 5xx, and every status, content type, header and body is the one
the schema documents. Schema-valid requests may still break domain rules (an
unknown community, a point outside the fence), so "positive data acceptance"
does not apply. Kept small (few examples per operation) to stay fast, and derandomized
(the same cases every run) so CI never fails by the luck of a draw. The longer
randomised run lives outside CI: ``python benchmarks/fuzz.py`` (it sets
``DISPATCH_FUZZ_EXAMPLES`` and ``DISPATCH_FUZZ_RANDOM``); what it finds becomes a
regression test of its own (e.g. ``tests/api/test_edge.py`` for unknown query
parameters).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.settings import ApiSettings
from dispatch import ManualClock, MemoryStore
from dispatch.model import LatLng, WorkerKind
from dispatch.requests import CommunitySpec, LocationUpdate, WorkerSpec
from tests.api.conftest import CENTER, make_engine

KEY = "fuzz-key"
ALL_ROLES = "ops+order-service+courier-app+analyst"


def _fuzz_schema() -> schemathesis.BaseSchema:
    """An app with one all-roles key, a community and a courier; long polls never wait."""
    engine = make_engine(MemoryStore(), ManualClock())
    engine.upsert_community(CommunitySpec("c1", "fuzz", LatLng(CENTER["lat"], CENTER["lng"])))
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    engine.update_location(LocationUpdate("w1", CENTER["lat"], CENTER["lng"]))
    settings = ApiSettings(
        api_keys=f"{KEY}={ALL_ROLES}",
        tick_enabled=False,
        events_max_wait_s=0,
        # Schemathesis sends bad keys and bursts on purpose: limits are tested elsewhere.
        rate_limits="ops=none,order-service=none,courier-app=none,analyst=none",
        auth_failure_limit="1000000/second",
    )
    app = create_app(settings, engine=engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# Built at import: schemathesis parametrises the test from the schema at collection time.
schema = _fuzz_schema()


EXAMPLES = int(os.environ.get("DISPATCH_FUZZ_EXAMPLES", "12"))
RANDOM = os.environ.get("DISPATCH_FUZZ_RANDOM", "") == "1"


# Hypothesis notes any change of the global ``random`` state while a case is drawn
# as a deprecation (an error under ``filterwarnings = error``). Schemathesis'
# own strategies and other threads of the process (Redis clients, timers) can
# change it, which failed CI once by chance; that is no finding about the API.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers(case: schemathesis.Case) -> None:
    """Whatever the generated request, the answer is documented and never a server error."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=[positive_data_acceptance]
    )
