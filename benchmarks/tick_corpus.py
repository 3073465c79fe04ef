"""A corpus of real tick problems: save and load one tick as a compressed ``.npz``.

A tick is what the optimizer policy sees: the ``RoutingProblem``, the previous
plan as initial routes, and the search budget it was given. Matrices are stored
as int32 when they fit (they are seconds and metres), every other field as int64;
``allowed_vehicles`` (a tuple of frozensets or None) as flat values with offsets.
Loading rebuilds the problem through its constructor, so it is validated again.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solver import RoutingProblem

#: Array fields of RoutingProblem stored as they are (None fields are left out).
ARRAY_FIELDS = (
    "travel_time",
    "stop_location",
    "vehicle_start",
    "travel_cost",
    "service_time",
    "demand",
    "tw_start",
    "tw_end",
    "soft_deadline",
    "lateness_weight",
    "fee_deadline",
    "late_fee",
    "drop_penalty",
    "committed_vehicle",
    "preferred_vehicle",
    "churn_penalty",
    "pairs",
    "vehicle_end",
    "capacity",
    "vehicle_initial_load",
    "vehicle_start_time",
    "vehicle_end_time",
    "vehicle_pickup_end",
    "vehicle_fixed_cost",
    "vehicle_profile",
    "trip_group",
)
SMALL = np.iinfo(np.int32)


@dataclass(frozen=True)
class CorpusTick:
    """One saved tick: the problem, the previous plan and the budget it had."""

    name: str
    problem: RoutingProblem
    initial_routes: list[list[int]]
    budget_s: float
    meta: dict[str, Any]


def save_tick(
    path: Path,
    problem: RoutingProblem,
    initial_routes: list[list[int]],
    budget_s: float,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write one tick to ``path`` (``.npz``, compressed)."""
    arrays: dict[str, np.ndarray] = {}
    for name in ARRAY_FIELDS:
        arr = np.asarray(getattr(problem, name))
        fits = arr.size == 0 or (arr.min() >= SMALL.min and arr.max() <= SMALL.max)
        arrays[name] = arr.astype(np.int32 if fits else np.int64)
    if problem.allowed_vehicles is not None:
        flat: list[int] = []
        offsets = [0]
        for allowed in problem.allowed_vehicles:
            flat.extend([-1] if allowed is None else sorted(allowed))
            offsets.append(len(flat))
        arrays["allowed_flat"] = np.asarray(flat, dtype=np.int32)
        arrays["allowed_offsets"] = np.asarray(offsets, dtype=np.int64)
    route_flat = [s for r in initial_routes for s in r]
    arrays["initial_flat"] = np.asarray(route_flat, dtype=np.int64)
    arrays["initial_lengths"] = np.asarray([len(r) for r in initial_routes], dtype=np.int64)
    header = {"budget_s": budget_s, "meta": meta or {}}
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_tick(path: Path) -> CorpusTick:
    """Read one tick written by ``save_tick``."""
    with np.load(path) as data:
        fields: dict[str, Any] = {
            name: data[name].astype(np.int64) for name in ARRAY_FIELDS if name in data
        }
        if "allowed_flat" in data:
            flat, offsets = data["allowed_flat"].tolist(), data["allowed_offsets"].tolist()
            allowed: list[frozenset[int] | None] = []
            for a, b in itertools.pairwise(offsets):
                chunk = flat[a:b]
                allowed.append(None if chunk == [-1] else frozenset(chunk))
            fields["allowed_vehicles"] = tuple(allowed)
        lengths = data["initial_lengths"].tolist()
        flat_routes = data["initial_flat"].tolist()
        header = json.loads(bytes(data["header"]).decode("utf-8"))
    routes: list[list[int]] = []
    at = 0
    for k in lengths:
        routes.append(flat_routes[at : at + k])
        at += k
    return CorpusTick(
        name=path.stem,
        problem=RoutingProblem(**fields),
        initial_routes=routes,
        budget_s=float(header["budget_s"]),
        meta=dict(header["meta"]),
    )


def load_corpus(folder: Path) -> list[CorpusTick]:
    """Every tick in a folder, in name order."""
    return [load_tick(p) for p in sorted(folder.glob("*.npz"))]
