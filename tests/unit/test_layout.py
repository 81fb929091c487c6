"""The layout stays true: imports read from the sources (AST, nothing imported) run one way,
cli -> features -> engine -> contract -> detectors, with no circle anywhere (DESIGN.md, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("streams", "detectors", "grafana", "benchmarks", "deploy")
# A package of streams/ and its layer: a module may import its own package and lower layers only.
LAYERS = {"cli": 4, "live": 3, "overflow": 3, "offline": 3, "simulate": 3, "stack": 3}
LAYERS |= {"engine": 2, "contract": 1}
MAX_MODULE_LINES = 420  # "no module over ~400 lines": a split by responsibility, not by count


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, tops: tuple[str, ...] = PROJECT) -> dict[str, set[str]]:
    """module -> the project modules it imports, lazy (in-function) imports included."""
    paths = {module_name(root, p): p for top in tops for p in sorted((root / top).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # `from pkg import mod` names a module; `from mod import name` names the module.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base
                           for a in node.names]  # fmt: skip
            else:
                continue
            deps.update(t for t in targets if t in paths and t != name)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _place(module: str) -> tuple[str, int] | None:
    """(package, layer) of a module of streams/ or detectors/; None for the rest."""
    parts = module.split(".")
    if parts[0] == "detectors":
        return "detectors", 0
    if parts[0] == "streams" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1], LAYERS[parts[1]]
    return None


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports against the direction: to a higher layer, between two features, or from
    detectors/ into anything of the project but itself."""
    out = []
    for module, deps in sorted(graph.items()):
        here = _place(module)
        if here is None:
            continue
        for dep in sorted(deps):
            there = _place(dep)
            if there is None or there[0] == here[0]:
                if there is None and here[0] == "detectors":
                    out.append(f"{module} -> {dep}: detectors/ imports nothing of the project")
                continue
            if there[1] > here[1] or (there[1] == here[1] and here[0] != "cli"):
                out.append(f"{module} -> {dep}: {here[0]} may not import {there[0]}")
    return out


def test_the_project_has_no_import_circle() -> None:
    """No module of the project reaches itself through imports."""
    assert circles(import_graph(ROOT)) == []


def test_imports_run_one_way() -> None:
    """cli -> features -> engine -> contract -> detectors, and features never import each other."""
    assert violations(import_graph(ROOT)) == []


def test_every_package_says_what_it_holds_and_may_import() -> None:
    """Each subpackage of streams/ has a docstring naming what it may import."""
    for package in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / "streams" / package / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), f"streams/{package}/__init__.py"


@pytest.mark.parametrize("top", ["streams", "detectors", "grafana", "benchmarks"])
def test_no_module_is_over_about_400_lines(top: str) -> None:
    """Modules are split by responsibility before they grow past ~400 lines."""
    sizes = {p: len(p.read_text().splitlines()) for p in (ROOT / top).rglob("*.py")}
    assert {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


SYNTHETIC = {
    "streams/__init__.py": "",
    "streams/contract/__init__.py": "",
    "streams/contract/records.py": "import detectors.windows\n",
    "streams/engine/__init__.py": "",
    "streams/engine/ops.py": "from streams.contract.records import X\n",
    "streams/live/__init__.py": "",
    "streams/live/agent.py": "from streams.engine import ops\n",
    "streams/offline/__init__.py": "",
    "streams/offline/replay.py": "from streams.engine.ops import Ops\n",
    "streams/cli/__init__.py": "",
    "streams/cli/main.py": "from streams.live import agent\nfrom streams.offline import replay\n",
    "detectors/__init__.py": "",
    "detectors/windows.py": "import numpy\n",
}


def test_a_tree_that_follows_the_direction_passes(tmp_path: Path) -> None:
    """The synthetic tree as the layout wants it has no violation and no circle."""
    graph = import_graph(_tree(tmp_path, SYNTHETIC), ("streams", "detectors"))
    assert graph["streams.cli.main"] == {"streams.live.agent", "streams.offline.replay"}
    assert violations(graph) == []
    assert circles(graph) == []


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        (
            "streams/contract/records.py",
            "from streams.live.agent import run\n",
            "streams.contract.records -> streams.live.agent: contract may not import live",
        ),
        (
            "streams/live/agent.py",
            "def f():\n    from streams.offline import replay\n",  # a lazy import counts too
            "streams.live.agent -> streams.offline.replay: live may not import offline",
        ),
        (
            "streams/engine/ops.py",
            "from streams.cli.main import main\n",
            "streams.engine.ops -> streams.cli.main: engine may not import cli",
        ),
        (
            "detectors/windows.py",
            "from streams.contract import records\n",
            "detectors.windows -> streams.contract.records: detectors may not import contract",
        ),
    ],
)
def test_a_reversed_import_is_reported(tmp_path: Path, path: str, line: str, expected: str) -> None:
    """An import added against the direction is named, with the rule it breaks."""
    files = dict(SYNTHETIC)
    files[path] += line
    assert expected in violations(import_graph(_tree(tmp_path, files), ("streams", "detectors")))


def test_a_circle_is_reported(tmp_path: Path) -> None:
    """Two modules of one package importing each other form a circle, even lazily."""
    files = dict(SYNTHETIC)
    files["streams/contract/settings.py"] = "from streams.contract.security import validate\n"
    files["streams/contract/security.py"] = "def f():\n    from streams.contract import settings\n"
    graph = import_graph(_tree(tmp_path, files), ("streams", "detectors"))
    assert violations(graph) == []
    assert circles(graph) == [["streams.contract.security", "streams.contract.settings"]]
