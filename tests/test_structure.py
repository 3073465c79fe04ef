"""Structural rules of the repository, read from the source with ``ast`` (nothing is imported).

What counts as an import:
- ``import a.b.c`` loads the module ``a.b.c``;
- ``from a.b import n`` loads ``a.b.n`` when ``a/b/n.py`` or ``a/b/n/`` exists, else
  the module ``a.b`` (``a/b/__init__.py`` for a package) and takes the name ``n`` from it;
- relative imports are resolved against the importing file's package.

Import cycles count the imports that run when a module is loaded: module level, class
bodies and ``if TYPE_CHECKING:`` blocks (a cycle only for types is still a cycle), but
not imports inside function bodies, which run lazily. The layer rules and the
private-module rule count every import, lazy ones too.

The private-module rule covers tests/ as well: tests use the public surface of the
code they test (``tests.*`` helpers are their own). ``WHITE_BOX`` names each
exception with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The installed packages (design.md, "Layers").
PACKAGES = ("geo", "solver", "dispatch", "simulations", "api")
#: Code that must use other packages' public surfaces: the packages, benchmarks and tests.
CLIENTS = (*PACKAGES, "benchmarks", "tests")
#: Top-level package -> the top-level packages it must never import (design.md).
FORBIDDEN = {
    "solver": {"geo", "dispatch", "api", "simulations"},
    "geo": {"solver", "dispatch", "api", "simulations"},
    "dispatch": {"api", "simulations"},
}
ENGINE_MAX_LINES = 400
#: (importing file, private module) pairs allowed anyway, each with its reason.
WHITE_BOX = {
    ("tests/solver/test_insertion_route.py", "solver._insertion_route"): (
        "brute-force check of the insertion prices that steer regret insertion; "
        "no public call exposes them"
    ),
    ("tests/solver/test_pickup_deadline.py", "solver._ortools_routing"): (
        "the OR-Tools back-end alone must keep per-vehicle pickup deadlines exactly; "
        "solve_routing's portfolio would hide it behind the other members' plans"
    ),
    ("tests/solver/test_pickup_deadline.py", "solver._vroom_construct"): (
        "VROOM's construction must decline a problem with pickup deadlines (it cannot "
        "express them); solve_routing only shows the fallback, not why"
    ),
}


@dataclass(frozen=True)
class Import:
    """One module an import statement loads, and the names it takes from that module."""

    importer: str  # dotted name of the importing module ("pkg" for pkg/__init__.py)
    file: Path  # the importing file, relative to the root
    line: int
    target: str  # dotted name of the loaded module
    names: tuple[str, ...]  # names taken from the target (empty: the module itself)
    lazy: bool  # inside a function body: runs on call, not on load


def module_name(rel: Path) -> str:
    """``pkg/sub/mod.py`` -> ``pkg.sub.mod``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path, tops: tuple[str, ...]) -> dict[str, Path]:
    """Every Python file under the given top-level folders, by dotted module name."""
    out: dict[str, Path] = {}
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if not any(part.startswith(".") for part in rel.parts):
                out[module_name(rel)] = rel
    return out


def known_modules(files: dict[str, Path]) -> set[str]:
    """Module names that exist: the files, plus every folder holding Python files."""
    known = set(files)
    for rel in files.values():
        for k in range(1, len(rel.parts)):
            known.add(".".join(rel.parts[:k]))
    return known


def _walk(node: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements under a node; ``lazy`` once inside a function or lambda body."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, lazy
        inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _walk(child, inner)


def _base(importer: str, rel: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement names."""
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    if rel.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def imports_of(root: Path, rel: Path, known: set[str]) -> list[Import]:
    """Every module a file loads (see the module docstring for the rules)."""
    importer = module_name(rel)
    tree = ast.parse((root / rel).read_text(encoding="utf-8"), filename=str(rel))
    out: list[Import] = []
    for node, lazy in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(importer, rel, node.lineno, alias.name, (), lazy))
            continue
        base = _base(importer, rel, node)
        taken: list[str] = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if alias.name != "*" and sub in known:
                out.append(Import(importer, rel, node.lineno, sub, (), lazy))
            else:
                taken.append(alias.name)
        if taken:
            out.append(Import(importer, rel, node.lineno, base, tuple(taken), lazy))
    return out


def all_imports(root: Path, tops: tuple[str, ...], targets: tuple[str, ...] = ()) -> list[Import]:
    """Every import in the files under ``tops``, resolved against ``tops`` and ``targets``."""
    files = source_files(root, tops)
    known = known_modules({**source_files(root, targets), **files})
    return [imp for rel in files.values() for imp in imports_of(root, rel, known)]


def _top(module: str) -> str:
    return module.split(".")[0]


def _where(imp: Import) -> str:
    return f"{imp.file}:{imp.line}"


# ---- cycles -------------------------------------------------------------------


def import_graph(root: Path, package: str) -> tuple[dict[str, set[str]], dict[str, Path]]:
    """Load-time imports between the modules of one top-level package."""
    files = source_files(root, (package,))
    known = known_modules(files)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for rel in files.values():
        for imp in imports_of(root, rel, known):
            if not imp.lazy and imp.target in files and imp.target != imp.importer:
                graph[imp.importer].add(imp.target)
    return graph, files


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _shortest_cycle(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """A shortest cycle through ``start`` inside one component (breadth-first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start]


def find_cycles(root: Path, package: str) -> list[str]:
    """Each group of mutually importing modules, as one cycle of file paths plus its members."""
    graph, files = import_graph(root, package)
    found: list[str] = []
    for comp in _components(graph):
        if len(comp) < 2:
            continue
        cycle = _shortest_cycle(graph, comp[0], set(comp))
        text = " -> ".join(str(files[m]) for m in cycle)
        if len(comp) > len(cycle) - 1:
            text += f" (cycle group: {', '.join(str(files[m]) for m in comp)})"
        found.append(text)
    return sorted(found)


# ---- private modules and names ---------------------------------------------------


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_reaches(
    root: Path,
    tops: tuple[str, ...],
    owners: tuple[str, ...],
    allowed: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Imports from ``tops`` of another top-level package's private modules or names.

    Only modules of ``owners`` (our own packages) are judged; a test module may use
    ``tests.*`` helpers freely. ``allowed`` holds (file, module) exceptions.
    """
    bad: list[str] = []
    for imp in all_imports(root, tops, owners):
        owner = _top(imp.target)
        if owner not in owners or owner == _top(imp.importer):
            continue
        if (imp.file.as_posix(), imp.target) in allowed:
            continue
        if any(_private(part) for part in imp.target.split(".")):
            bad.append(f"{_where(imp)} imports private module {imp.target}")
        for name in imp.names:
            if _private(name):
                bad.append(f"{_where(imp)} imports private name {imp.target}.{name}")
    return bad


# ---- layers -------------------------------------------------------------------------


def layer_violations(
    root: Path, forbidden: dict[str, set[str]], packages: tuple[str, ...]
) -> list[str]:
    """Imports (lazy ones too) from a layer of a layer it must not reach."""
    return [
        f"{_where(imp)}: {_top(imp.importer)} imports {imp.target}"
        for imp in all_imports(root, tuple(forbidden), packages)
        if _top(imp.target) in forbidden[_top(imp.importer)]
    ]


# ---- __all__ -----------------------------------------------------------------------


def _load_time_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Nodes that run when the module loads (function bodies skipped)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        todo.extend(ast.iter_child_nodes(node))


def bound_names(tree: ast.Module) -> set[str]:
    """Names a module binds at load time: definitions, assignments and imports."""
    names: set[str] = set()
    for node in _load_time_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def declared_all(tree: ast.Module) -> list[str] | None:
    """The literal ``__all__`` of a module, or None when it has none (or not a literal)."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            try:
                names = ast.literal_eval(value)
            except ValueError:
                return None
            return [str(n) for n in names] if isinstance(names, list | tuple) else None
    return None


def all_problems(root: Path, packages: tuple[str, ...]) -> list[str]:
    """Package ``__init__`` files without a literal ``__all__`` or listing unbound names."""
    bad: list[str] = []
    for package in packages:
        for init in sorted((root / package).rglob("__init__.py")):
            rel = init.relative_to(root)
            tree = ast.parse(init.read_text(encoding="utf-8"), filename=str(rel))
            names = declared_all(tree)
            if names is None:
                bad.append(f"{rel}: no literal __all__")
                continue
            unbound = sorted(set(names) - bound_names(tree))
            if unbound:
                bad.append(f"{rel}: __all__ lists names it never binds: {unbound}")
            if len(set(names)) != len(names):
                bad.append(f"{rel}: __all__ lists a name twice")
    return bad


# ---- the rules -------------------------------------------------------------------------


def test_engine_stays_a_small_facade() -> None:
    """dispatch/engine.py has at most 400 lines."""
    lines = len((ROOT / "dispatch" / "engine.py").read_text(encoding="utf-8").splitlines())
    assert lines <= ENGINE_MAX_LINES, f"dispatch/engine.py has {lines} lines (max 400)"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    """No two modules of a package import each other at load time, even only for types."""
    cycles = find_cycles(ROOT, package)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_module_or_name_crosses_a_package() -> None:
    """Code reaches other packages only through their public modules and public names."""
    bad = private_reaches(ROOT, CLIENTS, PACKAGES, frozenset(WHITE_BOX))
    assert not bad, "private imports across packages:\n" + "\n".join(bad)
    used = {(imp.file.as_posix(), imp.target) for imp in all_imports(ROOT, CLIENTS, PACKAGES)}
    stale = sorted(set(WHITE_BOX) - used)
    assert not stale, f"WHITE_BOX exceptions nothing needs any more: {stale}"


def test_every_package_declares_what_it_exports() -> None:
    """Every package __init__ has a literal __all__ and binds every name it lists."""
    bad = all_problems(ROOT, PACKAGES)
    assert not bad, "\n".join(bad)


def test_layers_import_downwards_only() -> None:
    """solver and geo import no other layer; dispatch never imports api or simulations."""
    bad = layer_violations(ROOT, FORBIDDEN, PACKAGES)
    assert not bad, "layer violations:\n" + "\n".join(bad)


# ---- the checkers themselves can fail ------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_cycle_finder_finds_cycles_and_skips_lazy_imports(tmp_path: Path) -> None:
    """The cycle finder sees re-export and TYPE_CHECKING cycles and skips lazy imports."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n__all__ = ['A']\n",
            "pkg/a.py": "from pkg import helper\nfrom pkg import B\nclass A: ...\n",
            "pkg/helper.py": "X = 1\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .c import C\nB = 1\n",
            "pkg/c.py": "from pkg.b import B\nC = 1\n",
            "pkg/d.py": "def f():\n    from pkg.e import E\n    return E\n",
            "pkg/e.py": "from pkg.d import f\nE = 1\n",
        },
    )
    cycles = find_cycles(tmp_path, "pkg")
    assert cycles == [
        "pkg/__init__.py -> pkg/a.py -> pkg/__init__.py",
        "pkg/b.py -> pkg/c.py -> pkg/b.py",
    ]


def test_private_and_all_checkers_catch_offenders(tmp_path: Path) -> None:
    """The private-import and __all__ checkers report planted offenders and nothing else."""
    _write(
        tmp_path,
        {
            "low/__init__.py": "from low.pub import f\n__all__ = ['f', 'ghost']\n",
            "low/pub.py": "from low._impl import g\ndef f(): ...\ndef _h(): ...\n",
            "low/_impl.py": "def g(): ...\n",
            "high/__init__.py": "__all__: list[str] = []\n",
            "high/use.py": "from low import _impl\nfrom low.pub import _h, f\n"
            "def lazy():\n    import low._impl\n",
            "tests/test_x.py": "from tests.helpers import _fixture\nfrom low.pub import f\n",
        },
    )
    bad = private_reaches(tmp_path, ("low", "high", "tests"), ("low", "high"))
    assert bad == [
        "high/use.py:1 imports private module low._impl",
        "high/use.py:2 imports private name low.pub._h",
        "high/use.py:4 imports private module low._impl",
    ]
    excused = frozenset({("high/use.py", "low._impl")})
    assert private_reaches(tmp_path, ("high",), ("low",), excused) == [
        "high/use.py:2 imports private name low.pub._h"
    ]
    assert all_problems(tmp_path, ("low", "high")) == [
        "low/__init__.py: __all__ lists names it never binds: ['ghost']"
    ]


def test_layer_checker_sees_lazy_imports(tmp_path: Path) -> None:
    """The layer checker reports a forbidden import even inside a function body."""
    _write(
        tmp_path,
        {
            "low/__init__.py": "import high.api\n",
            "low/core.py": "def f():\n    from high import api\n    return api\n",
            "high/__init__.py": "",
            "high/api.py": "import low.core\n",
        },
    )
    assert layer_violations(tmp_path, {"low": {"high"}}, ("low", "high")) == [
        "low/__init__.py:1: low imports high.api",
        "low/core.py:2: low imports high.api",
    ]
