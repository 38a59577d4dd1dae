"""The house's shape, read from the source (AST, nothing imported): the package's layers, its
import cycles and its module sizes. Each allowlist holds today's exceptions, and a test fails
when one is fixed but still listed, so the lists only shrink."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "a2d_edge"

# Layer of each top-level module or subpackage: a module imports its own package or lower ones.
LAYERS = {
    "errors": 0,
    "utils": 1,
    "config": 2, "applies": 2, "zoo": 2,
    "envs": 3, "nets": 3, "compile": 3,
    "runtime": 4, "sources": 4,
    "rl": 5, "hw": 5,
    "search": 6, "export": 6,
    "experiments": 7,
    "cli": 8, "demo": 8,
    "__main__": 9,
}  # fmt: skip

# Import cycles between modules (imports inside functions included).
KNOWN_CYCLES: set[frozenset[str]] = set()  # none left: keep it so

# Imports of a package of the same or a higher layer (module -> module), as they are today.
KNOWN_SIDEWAYS: set[tuple[str, str]] = set()  # none left: keep it so

# Modules over MAX_LINES, as they are today.
MAX_LINES = 500
KNOWN_LONG: set[str] = set()  # none left: keep it so


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """The a2d_edge modules `name` imports (at any depth, TYPE_CHECKING blocks left out), each
    with the line of its import."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for t in ast.walk(tree) if _type_checking(t) for n in ast.walk(t)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package up
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name and target.startswith("a2d_edge."):
                out.append((target, node.lineno))
    return out


def package(name: str) -> str:
    return name.split(".")[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    g: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target, _ in imports(name, path, known):
            g[name].add(target)
    return g


def cycles(g: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.add(frozenset(comp))
    return found


def test_the_cycle_finder_on_a_hand_made_graph():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert cycles(g) == {frozenset("abc"), frozenset("de")}


def test_no_import_cycle_but_the_known_ones(graph):
    found = cycles(graph)
    assert found - KNOWN_CYCLES == set(), "a new import cycle"
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: take it off KNOWN_CYCLES"


def test_no_import_of_a_higher_or_sideways_layer_but_the_known_ones(graph):
    found = set()
    for src, targets in graph.items():
        for dst in targets:
            ps, pd = package(src), package(dst)
            if ps != pd and LAYERS[pd] >= LAYERS[ps]:
                found.add((src, dst))
    assert found - KNOWN_SIDEWAYS == set(), "an import of the same or a higher layer"
    assert KNOWN_SIDEWAYS - found == set(), "a known one is gone: take it off KNOWN_SIDEWAYS"


def test_every_package_has_a_layer():
    assert {package(n) for n in modules() if n != "a2d_edge"} <= set(LAYERS)


def test_no_module_over_the_limit_but_the_known_ones():
    long = {
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if len(p.read_text().splitlines()) > MAX_LINES
    }
    assert long - KNOWN_LONG == set(), f"a module over {MAX_LINES} lines"
    assert KNOWN_LONG - long == set(), "a known one is short now: take it off KNOWN_LONG"
