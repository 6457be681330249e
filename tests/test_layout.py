"""The code's shape: packages follow the method and import only packages below them, no import
cycles, the engine never imports gradio, modules and functions stay small."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "kuda_core"
# a package may import itself and the packages before it (workflows may import all of them)
ORDER = ["streams", "model", "data", "locate", "forget", "inspect", "report", "run_config", "workflows", "cli"]


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Every kuda_core module imported anywhere in the file (late imports inside functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kuda_core"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kuda_core"))
    return found


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in ENGINE.rglob("*.py")}


def test_no_import_cycles_in_the_engine():
    modules = engine_modules()
    graph = {name: {m for m in imports(path) if m in modules and m != name and not modules[m].name == "__init__.py"}
             for name, path in modules.items() if path.name != "__init__.py"}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(trail[trail.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_packages_import_only_packages_below_them():
    for name, path in engine_modules().items():
        parts = name.split(".")
        own = parts[1] if len(parts) > 1 else None
        if own not in ORDER:
            continue
        for target in imports(path):
            other = target.split(".")[1] if "." in target else None
            if other in ORDER:
                assert ORDER.index(other) <= ORDER.index(own), f"{name} imports {target}, a package above it"


def test_the_engine_never_imports_gradio():
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.split(".")[0] == "gradio" for n in names), path


def test_modules_and_functions_stay_small():
    for path in [*ENGINE.rglob("*.py"), *(ROOT / "ui").glob("*.py"), ROOT / "app.py"]:
        source = path.read_text()
        assert source.count("\n") <= 300, f"{path.relative_to(ROOT)} has {source.count(chr(10))} lines"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not (path.parent.name == "ui" and node.name == "build"):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.relative_to(ROOT)}:{node.name} has {length} lines"
