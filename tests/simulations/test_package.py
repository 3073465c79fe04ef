"""The simulations package's shape: public surfaces, no import cycles, no private reach-ins."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import simulations

ROOT = Path(simulations.__file__).parent
SUBPACKAGES = [
    "simulations",
    "simulations.sim",
    "simulations.mdrp",
    "simulations.bench",
    "simulations.hindsight",
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """Modules named by the file's module-level imports (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If | ast.Try):
            nodes += [*node.body, *node.orelse]
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (subs & known) or {node.module}
    return found


def test_every_public_surface_resolves() -> None:
    """Each package's __all__ lists names once, and each resolves on the package."""
    for name in SUBPACKAGES:
        package = importlib.import_module(name)
        assert len(package.__all__) == len(set(package.__all__)), name
        missing = [n for n in package.__all__ if not hasattr(package, n)]
        assert missing == [], name


def test_module_imports_form_no_cycle() -> None:
    """No two modules of the package import each other, directly or around a loop."""
    modules = _modules()
    graph = {m: _imports(p, set(modules)) & set(modules) for m, p in modules.items()}
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(m) :], m]))
        if m in done:
            return
        for n in sorted(graph[m]):
            visit(n, [*path, m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])


def test_handlers_do_not_know_the_simulator() -> None:
    """Event handlers and worker moves see the run's state, never the simulator."""
    modules = _modules()
    for name in ("simulations.sim._handlers", "simulations.sim._workers"):
        assert "simulations.sim.simulator" not in _imports(modules[name], set(modules))


def test_no_private_module_of_another_package_is_imported() -> None:
    """simulations uses the public names of dispatch, solver and geo."""
    modules = _modules()
    offenders = [
        f"{m}: {imp}"
        for m, path in modules.items()
        for imp in _imports(path, set(modules))
        if imp != "__future__"
        and not imp.startswith("simulations.")
        and any(p.startswith("_") for p in imp.split("."))
    ]
    assert offenders == []
