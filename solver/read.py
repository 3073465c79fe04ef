"""Readers and writers for Solomon VRPTW and Li & Lim PDPTW text instances.

Reading files lives here, apart from the solver, so the solver stays pure.
Solomon: a name line, a VEHICLE block (NUMBER CAPACITY) and a CUSTOMER table
(id x y demand ready due service; row 0 is the depot). Li & Lim: a first line
``K Q speed`` then ``id x y demand earliest latest service pickup delivery``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from solver.errors import InvalidProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Instance:
    """A benchmark instance as written in its file (node 0 is the depot)."""

    name: str
    kind: Literal["vrptw", "pdptw"]
    x: FloatArray
    y: FloatArray
    demand: IntArray
    ready: FloatArray
    due: FloatArray
    service: FloatArray
    num_vehicles: int
    capacity: int
    pairs: IntArray  # (P, 2) node ids (pickup, delivery); empty for VRPTW

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def pickup_of(self) -> IntArray:
        """Per node, its pickup partner (the file's column; 0 when none)."""
        out = np.zeros(self.num_nodes, dtype=np.int64)
        if self.pairs.size:
            out[self.pairs[:, 1]] = self.pairs[:, 0]
        return out

    @property
    def delivery_of(self) -> IntArray:
        """Per node, its delivery partner (the file's column; 0 when none)."""
        out = np.zeros(self.num_nodes, dtype=np.int64)
        if self.pairs.size:
            out[self.pairs[:, 0]] = self.pairs[:, 1]
        return out


@dataclass(frozen=True)
class BKS:
    """Best-known solution figures from a ``bks.csv`` row."""

    vehicles: int | None
    distance: float | None
    distance_only: float | None  # Solomon's distance-only reference, when given
    columns: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def reference(self) -> float | None:
        """The figure a distance-only solver is measured against."""
        return self.distance_only if self.distance_only is not None else self.distance


def _fail(path: Path, line: int, msg: str) -> InvalidProblem:
    return InvalidProblem(f"{path}:{line}: {msg}")


def _numbers(path: Path, lineno: int, parts: list[str], count: int) -> list[float]:
    if len(parts) < count:
        raise _fail(path, lineno, f"expected {count} numbers, found {len(parts)}")
    try:
        values = [float(p) for p in parts[:count]]
    except ValueError as exc:
        raise _fail(path, lineno, f"not a number: {exc}") from None
    if not all(math.isfinite(v) for v in values):
        raise _fail(path, lineno, "non-finite number")
    return values


def _int_column(path: Path, col: FloatArray, what: str) -> IntArray:
    if not np.all(col == np.round(col)):
        raise InvalidProblem(f"{path}: {what} must be whole numbers")
    return col.astype(np.int64)


def read_instance(path: str | Path) -> Instance:
    """Read a Solomon or Li & Lim file; the format is detected from its first line."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InvalidProblem(f"cannot read instance {p}: {exc}") from exc
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines:
        raise InvalidProblem(f"{p}: empty file")
    first = lines[0][1]
    looks_numeric = all(_is_number(tok) for tok in first)
    if looks_numeric and len(first) >= 2:
        return _read_lilim(p, lines)
    return _read_solomon(p, lines)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _read_solomon(path: Path, lines: list[tuple[int, list[str]]]) -> Instance:
    name = lines[0][1][0]
    header = next((k for k, (_, parts) in enumerate(lines) if parts[0].upper() == "NUMBER"), None)
    if header is None or header + 1 >= len(lines):
        raise _fail(path, lines[0][0], "no VEHICLE block (NUMBER CAPACITY) found")
    ln, parts = lines[header + 1]
    k, q = _numbers(path, ln, parts, 2)
    rows: list[list[float]] = []
    for ln, parts in lines[header + 2 :]:
        if not _is_number(parts[0]):
            continue
        rows.append(_numbers(path, ln, parts, 7))
    if len(rows) < 2:
        raise _fail(path, lines[-1][0], "the CUSTOMER table needs a depot and a customer")
    a = np.array(rows)
    if not np.array_equal(a[:, 0], np.arange(len(rows))):
        raise InvalidProblem(f"{path}: customer numbers must run 0..{len(rows) - 1} in order")
    return Instance(
        name=name,
        kind="vrptw",
        x=a[:, 1].copy(),
        y=a[:, 2].copy(),
        demand=_int_column(path, a[:, 3], "demand"),
        ready=a[:, 4].copy(),
        due=a[:, 5].copy(),
        service=a[:, 6].copy(),
        num_vehicles=int(k),
        capacity=int(q),
        pairs=np.zeros((0, 2), dtype=np.int64),
    )


def _read_lilim(path: Path, lines: list[tuple[int, list[str]]]) -> Instance:
    ln0, first = lines[0]
    k, q = _numbers(path, ln0, first, 2)
    rows = [_numbers(path, ln, parts, 9) for ln, parts in lines[1:]]
    if len(rows) < 3:
        raise _fail(path, ln0, "a Li & Lim instance needs a depot and at least one pair")
    a = np.array(rows)
    n = len(rows)
    if not np.array_equal(a[:, 0], np.arange(n)):
        raise InvalidProblem(f"{path}: task numbers must run 0..{n - 1} in order")
    pairs: list[tuple[int, int]] = []
    for i in range(1, n):
        pick, deliv = int(a[i, 7]), int(a[i, 8])
        if pick == 0 and deliv > 0:
            if not 0 < deliv < n or int(a[deliv, 7]) != i:
                raise _fail(
                    path, lines[i + 1][0], f"task {i} names delivery {deliv} inconsistently"
                )
            pairs.append((i, deliv))
        elif not (deliv == 0 and 0 < pick < n):
            raise _fail(path, lines[i + 1][0], f"task {i} is neither a pickup nor a delivery")
        elif int(a[pick, 8]) != i:
            raise _fail(path, lines[i + 1][0], f"task {i} names pickup {pick} inconsistently")
    name = path.stem
    return Instance(
        name=name,
        kind="pdptw",
        x=a[:, 1].copy(),
        y=a[:, 2].copy(),
        demand=_int_column(path, a[:, 3], "demand"),
        ready=a[:, 4].copy(),
        due=a[:, 5].copy(),
        service=a[:, 6].copy(),
        num_vehicles=int(k),
        capacity=int(q),
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
    )


def read_bks(csv_path: str | Path) -> dict[str, BKS]:
    """Read a ``bks.csv`` (Solomon or Li & Lim columns) keyed by instance name."""
    out: dict[str, BKS] = {}
    with Path(csv_path).open(newline="") as fh:
        for row in csv.DictReader(fh):

            def num(*keys: str, row: dict[str, str] = row) -> float | None:
                for key in keys:
                    val = row.get(key)
                    if val not in (None, ""):
                        return float(val)
                return None

            vehicles = num("bks_hier_vehicles", "bks_vehicles")
            out[row["instance"]] = BKS(
                vehicles=int(vehicles) if vehicles is not None else None,
                distance=num("bks_hier_distance", "bks_distance"),
                distance_only=num("bks_distance_only_distance"),
                columns=dict(row),
            )
    return out


def find_bks(instance_path: str | Path) -> BKS | None:
    """The BKS row for an instance from the ``bks.csv`` beside its folder, if any."""
    p = Path(instance_path)
    for folder in (p.parent, p.parent.parent):
        csv_path = folder / "bks.csv"
        if csv_path.is_file():
            return read_bks(csv_path).get(p.stem) or read_bks(csv_path).get(p.stem.upper())
    return None


def _fmt(value: float) -> str:
    """Shortest text that reads back to the same double (integers without a dot)."""
    f = float(value)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def write_solomon(path: str | Path, inst: Instance) -> None:
    """Write an instance in Solomon's text format (used by tests to make fixtures)."""
    rows = [
        "  ".join(
            f"{_fmt(val):>9}"
            for val in (
                i,
                inst.x[i],
                inst.y[i],
                inst.demand[i],
                inst.ready[i],
                inst.due[i],
                inst.service[i],
            )
        )
        for i in range(inst.num_nodes)
    ]
    text = "\n".join(
        [
            inst.name,
            "",
            "VEHICLE",
            "NUMBER     CAPACITY",
            f"  {inst.num_vehicles}         {inst.capacity}",
            "",
            "CUSTOMER",
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE TIME",
            "",
            *rows,
            "",
        ]
    )
    Path(path).write_text(text)


def write_lilim(path: str | Path, inst: Instance) -> None:
    """Write an instance in Li & Lim's tab-separated format (name = file stem)."""
    pickup_of, delivery_of = inst.pickup_of, inst.delivery_of
    lines = [f"{inst.num_vehicles}\t{inst.capacity}\t1"]
    for i in range(inst.num_nodes):
        values = (
            i,
            inst.x[i],
            inst.y[i],
            inst.demand[i],
            inst.ready[i],
            inst.due[i],
            inst.service[i],
            pickup_of[i],
            delivery_of[i],
        )
        lines.append("\t".join(_fmt(val) for val in values))
    Path(path).write_text("\n".join(lines) + "\n")
