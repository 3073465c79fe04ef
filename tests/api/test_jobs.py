"""Technician jobs: booking, windows, emergencies, cancellation and technician events."""

from __future__ import annotations

import httpx
import pytest

from dispatch import ManualClock
from tests.api.conftest import APP, OPS, OS, assert_problem, job_body

pytestmark = pytest.mark.anyio


async def test_emergency_job_is_due_within_the_sla_and_assigned(
    client: httpx.AsyncClient, technician: str
) -> None:
    """201 with due_by 30 min out; a tick gives it to the plumber."""
    r = await client.post("/v1/jobs", json=job_body(emergency=True), headers=OS)
    assert r.status_code == 201, r.text
    job = r.json()
    assert (
        job["emergency"] and job["due_by"] == "2026-01-01T00:30:00Z" and job["state"] == "pending"
    )
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    got = (await client.get(f"/v1/jobs/{job['id']}", headers=OPS)).json()
    assert got["worker_id"] == "t1" and got["state"] == "assigned" and got["eta"]


async def test_job_lifecycle_through_technician_events(
    client: httpx.AsyncClient, technician: str, clock: ManualClock
) -> None:
    """started → arrived → completed; then cancel is 409."""
    window = {"start": "2026-01-01T01:00:00Z", "end": "2026-01-01T03:00:00Z"}
    job = (await client.post("/v1/jobs", json=job_body(window=window), headers=OS)).json()
    assert job["window"] == window and job["due_by"] == window["end"]
    await client.post("/v1/communities/c1/dispatch", headers=OPS)
    states = []
    for kind in ("started", "arrived", "completed"):
        clock.advance(600)
        r = await client.post(
            f"/v1/jobs/{job['id']}/events", json={"type": kind, "worker_id": "t1"}, headers=APP
        )
        assert r.status_code == 200, r.text
        states.append(r.json()["state"])
    assert states == ["en_route", "in_service", "completed"]
    assert_problem(await client.post(f"/v1/jobs/{job['id']}/cancel", headers=OS), 409)


async def test_job_cancel_is_idempotent(client: httpx.AsyncClient, technician: str) -> None:
    """Cancelling twice returns the cancelled job both times."""
    job = (await client.post("/v1/jobs", json=job_body(), headers=OS)).json()
    for _ in range(2):
        r = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=OS)
        assert r.status_code == 200 and r.json()["state"] == "cancelled"


async def test_job_idempotency(client: httpx.AsyncClient, technician: str) -> None:
    """Same key and body: same job; another body: 409."""
    headers = {**OS, "Idempotency-Key": "job-1"}
    a = await client.post("/v1/jobs", json=job_body(), headers=headers)
    b = await client.post("/v1/jobs", json=job_body(), headers=headers)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert_problem(
        await client.post("/v1/jobs", json=job_body(duration_min=60), headers=headers), 409
    )


async def test_job_input_errors(client: httpx.AsyncClient, technician: str) -> None:
    """Missing skills, bad windows, unknown ids and events for the wrong worker."""
    for bad in (
        {"skills": []},
        {"duration_min": 0},
        {"min_rating": 6},
        {"service_type": "takeout"},
        {"window": {"start": "2026-01-01T03:00:00Z"}},
    ):
        assert_problem(await client.post("/v1/jobs", json=job_body(**bad), headers=OS), 422)
    backwards = {"start": "2026-01-01T03:00:00Z", "end": "2026-01-01T01:00:00Z"}
    assert_problem(await client.post("/v1/jobs", json=job_body(window=backwards), headers=OS), 422)
    assert_problem(await client.post("/v1/jobs", json=job_body(community_id="x"), headers=OS), 404)
    assert_problem(await client.get("/v1/jobs/nope", headers=OS), 404)
    job = (await client.post("/v1/jobs", json=job_body(), headers=OS)).json()
    ev = {"type": "started", "worker_id": "t1"}  # not assigned yet
    assert_problem(await client.post(f"/v1/jobs/{job['id']}/events", json=ev, headers=APP), 409)
    ev = {"type": "delivered", "worker_id": "t1"}  # an order event on a job
    assert_problem(await client.post(f"/v1/jobs/{job['id']}/events", json=ev, headers=APP), 422)
