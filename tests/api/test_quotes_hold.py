"""Quotes that hold over HTTP: id, expiry, currency; orders and jobs with quote_id; job quotes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatch import ManualClock
from tests.api.conftest import OS, assert_problem, job_body, north, order_body

pytestmark = pytest.mark.anyio


async def _quote(client: httpx.AsyncClient, path: str = "/v1/quotes", **kw: Any) -> dict[str, Any]:
    body = job_body(**kw) if path.endswith("jobs") else order_body(**kw)
    r = await client.post(path, json=body, headers=OS)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_quote_answers_its_id_expiry_and_currency(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """The quote keeps its price fields and adds id, kind, expires_at (120 s) and currency."""
    q = await _quote(client)
    assert q["id"] and q["kind"] == "order" and q["currency"] == "CNY"
    assert q["expires_at"] == "2026-01-01T00:02:00Z"  # the manual clock starts at midnight
    assert {"eta_min", "base", "multiplier", "total", "rule_version", "explanation"} <= set(q)
    assert (await _quote(client))["id"] != q["id"]


async def test_an_order_with_its_quote_is_charged_the_quoted_price_once(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """201 at the quoted total with quote_id shown; a second order with it is 409 quote_used."""
    q = await _quote(client)
    body = order_body(quote_id=q["id"], notes="gate 4")
    r = await client.post("/v1/orders", json=body, headers={**OS, "Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["quote_id"] == q["id"]
    assert (order["price"]["total"], order["price"]["currency"]) == (q["total"], q["currency"])
    again = await client.post("/v1/orders", json=body, headers={**OS, "Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    used = await client.post("/v1/orders", json=body, headers=OS)
    assert assert_problem(used, 409)["code"] == "quote_used"
    got = await client.get(f"/v1/orders/{order['id']}", headers=OS)
    assert got.json()["quote_id"] == q["id"]


async def test_expired_mismatched_and_unknown_quotes_are_refused_clearly(
    client: httpx.AsyncClient, community: dict[str, Any], clock: ManualClock
) -> None:
    """409 quote_expired, 422 quote_mismatch, 422 quote_unknown; no order is stored."""
    q = await _quote(client)
    moved = order_body(dropoff=north(800, 300), quote_id=q["id"])
    r = await client.post("/v1/orders", json=moved, headers=OS)
    assert assert_problem(r, 422)["code"] == "quote_mismatch"
    r = await client.post("/v1/orders", json=order_body(quote_id="q-nope"), headers=OS)
    assert assert_problem(r, 422)["code"] == "quote_unknown"
    clock.advance(120)
    r = await client.post("/v1/orders", json=order_body(quote_id=q["id"]), headers=OS)
    problem = assert_problem(r, 409)
    assert problem["code"] == "quote_expired" and "quote again" in problem["detail"]
    listed = await client.get("/v1/orders", params={"community_id": "c1"}, headers=OS)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_quote_ids_are_checked_at_the_edge(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """A malformed quote_id is 422 with errors[]; a quote request naming a quote is 422."""
    r = await client.post("/v1/orders", json=order_body(quote_id="no spaces!"), headers=OS)
    assert any(e["loc"][-1] == "quote_id" for e in assert_problem(r, 422)["errors"])
    q = await _quote(client)
    r = await client.post("/v1/quotes", json=order_body(quote_id=q["id"]), headers=OS)
    assert "quote_id belongs" in assert_problem(r, 422)["detail"]


async def test_technician_jobs_are_quoted_and_booked_at_the_quote(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """POST /v1/quotes/jobs prices an emergency plumbing job; the job pays it; orders cannot."""
    q = await _quote(client, "/v1/quotes/jobs", emergency=True)
    assert q["kind"] == "job" and q["id"] and q["total"] > 0
    r = await client.post("/v1/orders", json=order_body(quote_id=q["id"]), headers=OS)
    assert assert_problem(r, 422)["code"] == "quote_mismatch"
    r = await client.post("/v1/jobs", json=job_body(emergency=False, quote_id=q["id"]), headers=OS)
    assert assert_problem(r, 422)["code"] == "quote_mismatch"
    r = await client.post("/v1/jobs", json=job_body(emergency=True, quote_id=q["id"]), headers=OS)
    assert r.status_code == 201, r.text
    assert r.json()["quote_id"] == q["id"] and r.json()["price"]["total"] == q["total"]
    r = await client.post("/v1/quotes/jobs", json=job_body(skills=[]), headers=OS)
    assert_problem(r, 422)


async def test_quotes_need_the_order_service_role(
    client: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    """Job quotes are for order services, like order quotes."""
    r = await client.post(
        "/v1/quotes/jobs", json=job_body(), headers={"Authorization": "Bearer an-k"}
    )
    assert_problem(r, 403)
