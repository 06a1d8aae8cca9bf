"""The import rule, enforced: the phases of the work import only downward, and no circles.

Layers, lowest first: `policies` and `healthcheck` (each imports neither the other nor
resolver); `resolver.errors`; `resolver.wire`; `resolver.zones`; `resolver.query`;
`resolver.serve` and `resolver.forward` (the network side: listeners, forwarders); the
wiring at the top of `resolver` (cli, app, config, http_api, metrics).
A module may import its own layer and any lower one. Every import counts, including those
inside functions and under TYPE_CHECKING: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("resolver", "policies", "healthcheck")
# (prefix, layer); the longest matching prefix decides a module's layer.
LAYERS = (
    ("policies", 0),
    ("healthcheck", 0),
    ("resolver.errors", 1),
    ("resolver.wire", 2),
    ("resolver.zones", 3),
    ("resolver.query", 4),
    ("resolver.serve", 5),
    ("resolver.forward", 5),
    ("resolver", 6),
)
# Pairs that share a layer but must not meet: policies decide from data handed to them,
# and the checker knows nothing of routing.
APART = {("policies", "healthcheck"), ("healthcheck", "policies")}


def all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that `module` imports, resolved to the module file when an
    import names a module inside a package (`from resolver.wire import names`)."""
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in out if name in known and name != module}


def layer_of(module: str) -> tuple[str, int]:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, layer
    raise AssertionError(f"{module} is in no layer")


def violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        group, layer = layer_of(module)
        for target in sorted(targets):
            target_group, target_layer = layer_of(target)
            if target_layer > layer or (group, target_group) in APART:
                out.append(f"{module} imports {target} ({group} may not import {target_group})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    graph = {name: imports_of(name, path, known) for name, path in modules.items()}
    # A package's __init__ re-exporting its own modules is not a dependency of theirs.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and t in known)}
    return graph


def test_every_import_points_down_the_layers():
    assert violations(package_graph()) == []


def test_no_module_imports_itself_back_through_others():
    assert cycles(package_graph()) == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("resolver.wire.names", "resolver.zones.model"),
        ("resolver.zones.load", "resolver.query.engine"),
        ("resolver.query.handler", "resolver.serve.transport"),
        ("resolver.query.handler", "resolver.metrics"),
        ("resolver.serve.workers", "resolver.config"),
        ("policies.weighted", "resolver.zones.model"),
        ("policies.weighted", "healthcheck.state"),
        ("healthcheck.checker", "policies.base"),
    ],
)
def test_the_rule_catches_an_upward_import(module, target):
    """The checks can fail: each of these would break the rule."""
    assert violations({module: {target}})


def test_the_rule_catches_a_circle():
    graph = {"resolver.app": {"resolver.http_api"}, "resolver.http_api": {"resolver.app"}}
    assert cycles(graph) == [["resolver.app", "resolver.http_api"]]


def test_lazy_and_type_checking_imports_count(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from resolver.app import App\n"
        "def f():\n    from resolver.wire import names\n"
    )
    found = imports_of("resolver.http_api", source, set(all_modules()))
    assert {"resolver.app", "resolver.wire.names"} <= found
