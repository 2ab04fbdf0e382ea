"""How the project's modules may import each other, read from their source (AST), so a
violation fails here whether or not anything runs it.

- labeling's domain modules never import the classifier: the classifier builds on labeling,
  and the pages that show both apps (labeling's views, API and admin) import the
  classifier's selectors and forms themselves.
- No import cycle among the project's modules, counting the imports inside functions too
  (an import moved into a function hides a cycle from Python, not from a reader).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("labelplatform", "labeling", "classifier", "webhooks")
LABELING_DOMAIN = (
    "models",
    "services",
    "selectors",
    "ingest",
    "export",
    "splits",
    "signals",
    "permissions",
    "forms",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported name, as written (absolute)
    line: int


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages (migrations
    left out: they are generated, and import nothing of ours that matters here)."""
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, at any depth, except inside `if TYPE_CHECKING:` (never imported)."""
    for child in ast.iter_child_nodes(tree):
        if _is_type_checking_block(child):
            continue
        yield child
        yield from _nodes(child)


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """What the module imports, as absolute dotted names: `from a import b` gives a.b (a
    module, or a name in module a), plus import_module("...") calls with a literal name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                yield Import(module, f"{base}.{alias.name}", node.lineno)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(module, node.args[0].value, node.lineno)


def owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted name lives in (itself, or the nearest enclosing module),
    or None for anything outside the project."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for imported in imports_of(module, path):
            target = owning_module(imported.target, modules)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm,
    iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


# Cycles that exist on purpose for now, each with the work that removes it. Listed, not
# ignored: a cycle that is gone must leave this list too (the test says so), and any other
# cycle fails the suite.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def labeling_domain_files() -> list[Path]:
    files = []
    for name in LABELING_DOMAIN:
        module, package = ROOT / "labeling" / f"{name}.py", ROOT / "labeling" / name
        files += [module] if module.exists() else sorted(package.rglob("*.py"))
    return files


@pytest.mark.parametrize("name", LABELING_DOMAIN)
def test_each_labeling_domain_module_exists(name):
    # So a renamed module cannot drop out of the rule below unnoticed.
    assert (ROOT / "labeling" / f"{name}.py").exists() or (ROOT / "labeling" / name).is_dir()


def test_labelings_domain_modules_never_import_the_classifier():
    modules = {path: name for name, path in module_files().items()}
    offending = [
        f"{imported.module} line {imported.line}: {imported.target}"
        for path in labeling_domain_files()
        for imported in imports_of(modules[path], path)
        if imported.target == "classifier" or imported.target.startswith("classifier.")
    ]
    assert not offending, "labeling's domain imports the classifier:\n" + "\n".join(offending)


# The checks above are only as good as the scan: it must see what it is meant to see.


def test_the_project_has_no_import_cycle():
    found = {frozenset(cycle): cycle for cycle in cycles(import_graph())}
    new = [cycle for key, cycle in found.items() if key not in KNOWN_CYCLES]
    assert not new, "Import cycles:\n" + "\n".join(" <-> ".join(cycle) for cycle in new)
    gone = [sorted(key) for key in KNOWN_CYCLES if key not in found]
    assert not gone, f"These cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path):
    path = tmp_path / "views.py"
    path.write_text(
        "from . import forms\n"
        "from ..classifier import selectors\n"
        "def view():\n"
        "    from classifier.image_filters import PredictionFilterForm\n"
        "    importlib.import_module('classifier.admin')\n"
        "if TYPE_CHECKING:\n"
        "    import classifier.models\n"
    )

    targets = [imported.target for imported in imports_of("labeling.views", path)]

    assert targets == [
        "labeling.forms",
        "classifier.selectors",
        "classifier.image_filters.PredictionFilterForm",
        "classifier.admin",
    ]


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}

    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
