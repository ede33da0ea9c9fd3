"""The package's import graph, read from the source (ast): no cycles between modules, and the core
never imports a task, a study or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "neurecon"
CORE = (
    "neurecon.io",
    "neurecon.nn",
    "neurecon.train",
    "neurecon.models",
    "neurecon.infer",
    "neurecon.render",
    "neurecon.buffers",
    "neurecon.losses",
    "neurecon.metrics",
)
UPPER = ("neurecon.tasks", "neurecon.cli", "neurecon.studies")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that `path` imports (at any depth: deferred imports count too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    return {m: imports_of(p, set(files)) for m, p in files.items()}


def is_within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    # a package's __init__ importing its own submodules is how packages export; submodules
    # importing their parent package back would be the cycle, so edges into a parent package
    # from its own children are kept and edges from a package to its children are dropped
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in g.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t) :] + [t]
            if t not in state and (c := visit(t)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_the_graph_sees_real_imports():
    g = graph()
    assert "neurecon.infer.tiler" in g["neurecon.infer.denoiser"]
    assert "neurecon.tasks.denoise.frames" in g["neurecon.tasks.denoise.packed"]
    assert "neurecon.models.registry" in g["neurecon.models.checkpoint"]


def test_no_import_cycles():
    assert find_cycle(graph()) is None, f"import cycle: {' -> '.join(find_cycle(graph()) or [])}"


def test_a_planted_cycle_is_found():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(g) == ["a", "b", "c", "a"]


def test_the_core_never_imports_a_task_a_study_or_the_cli():
    bad = sorted(f"{m} -> {t}" for m, ts in graph().items() if is_within(m, CORE) for t in ts if is_within(t, UPPER))
    assert not bad, bad
