"""The geo package's public surface and its place in the layering."""

from __future__ import annotations

import ast
from pathlib import Path

import geo

FORBIDDEN = {"api", "dispatch", "simulations", "solver", "benchmarks", "tests"}


def test_every_exported_name_exists_once() -> None:
    """__all__ lists each public name once and each resolves on the package."""
    assert len(geo.__all__) == len(set(geo.__all__))
    assert all(hasattr(geo, name) for name in geo.__all__)
    for name in ("Geofence", "LocalProjection", "InvalidInput", "HaversineMatrixProvider"):
        assert name in geo.__all__


def test_geo_imports_no_other_layer() -> None:
    """No geo module imports dispatch, solver, api, simulations or benchmarks."""
    package = Path(geo.__file__).parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            offenders += [f"{path.name}: {r}" for r in roots if r in FORBIDDEN]
    assert offenders == []
