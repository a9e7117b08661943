"""The package's shape: the modules import each other one way (no cycle, function-level
imports included), and the leaf modules import nothing of ours (docs in DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "juno_kg"
#: Modules everything may import; they import only other leaves.
LEAVES = {"errors": set(), "vocab": {"config"}, "config": set(), "formats": set(),
          "serialize": {"config", "formats", "vocab"}, "layout": {"formats"},
          "atomic": {"errors"}, "protocol": {"errors"}, "sparql": {"config", "errors", "vocab"}}


def imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = path.stem
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("juno_kg."):
                found.add(node.module.split(".")[1])
        graph[name] = found - {name, "__init__"}
    return graph


def test_no_import_cycle_between_modules():
    graph = imports()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt in graph and len(path) < len(graph):
                visit(nxt, [*path, nxt])

    for module in graph:
        visit(module, [module])
    assert not cycles, sorted(set(cycles))[:10]


def test_leaf_modules_import_nothing_of_ours():
    graph = imports()
    for leaf, allowed in LEAVES.items():
        assert graph[leaf] <= allowed, (leaf, graph[leaf] - allowed)


def test_the_checker_sees_function_level_imports():
    """The cycle test reads imports inside functions too (they hid the cycles before):
    the CLI imports ``write`` only inside its commands."""
    assert "write" in imports()["cli"]


def test_modules_and_functions_stay_small():
    """No module over 600 lines and no function over 80: a module that grows past that is
    several concerns (split it by concern, as serve.py and query.py were)."""
    too_long = []
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text("utf-8")
        if text.count("\n") > 600:
            too_long.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    too_long.append(f"{path.name}: {node.name}() {length} lines")
    assert not too_long, too_long
