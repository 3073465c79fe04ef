"""The HTTP ceiling: a bare FastAPI endpoint taking the order-shaped JSON body.

Nothing of ours runs here: uvicorn, FastAPI and pydantic parse the same body
``POST /v1/orders`` takes (same fields, closed, finite numbers) and answer 201
with a JSON object of about the same size. Our request paths are judged as a
share of this, measured in the same run with the same load generator
(``benchmarks/http.py``). ``POST /v1/orders`` is a plain ``def`` like ours (it
runs in the thread pool); ``POST /v1/orders/async`` is the same as ``async def``
(no thread hop), the framework's own best case.

Run (from the repository root; not with benchmarks/ on the path, where ``http.py`` would
shadow the standard library):

    .venv/bin/python -m uvicorn benchmarks.bare_app:app --port 8001 --no-access-log
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_ids = itertools.count()


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    lat: float = Field(strict=True, ge=-90, le=90)
    lng: float = Field(strict=True, ge=-180, le=180)


class OrderBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    community_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    pickup: Point
    dropoff: Point
    ready_at: AwareDatetime | None = None
    size: int = Field(default=1, ge=1, le=10)
    priority: Literal["standard", "silver", "gold", "diamond"] = "standard"
    service_type: Literal["grocery", "medicine", "takeout"] = "takeout"
    merchant_id: str | None = Field(default=None, min_length=1, max_length=64)


Key = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)]

app = FastAPI(title="bare ceiling")


def _answer(body: OrderBody) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": f"o_{next(_ids):016x}",
        "state": "pending",
        "created_at": now.isoformat(),
        "ready_at": (body.ready_at or now).isoformat(),
        **body.model_dump(mode="json"),
    }


@app.post("/v1/orders", status_code=status.HTTP_201_CREATED)
def create_order(body: OrderBody, idempotency_key: Key = None) -> dict[str, Any]:
    """Parse and echo (a plain ``def``, like the real endpoint)."""
    return _answer(body)


@app.post("/v1/orders/async", status_code=status.HTTP_201_CREATED)
async def create_order_async(body: OrderBody, idempotency_key: Key = None) -> dict[str, Any]:
    """Parse and echo without the thread-pool hop."""
    return _answer(body)
