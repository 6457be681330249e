"""docs/ARCHITECTURE.md: the engine's packages follow the method, and a package only imports packages
listed before it in the table there (and never gradio)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "kuda_core"


def _table_order() -> list[str]:
    """The engine's parts in the order of ARCHITECTURE.md's table: 'model', 'data', ..., 'run_config', 'cli'."""
    rows = re.findall(r"^\| `kuda_core/([a-z_]+)(?:/|\.py)`", (ROOT / "docs" / "ARCHITECTURE.md").read_text(), re.M)
    assert rows, "no kuda_core rows found in docs/ARCHITECTURE.md"
    return rows


def _part(module: str) -> str | None:
    """'kuda_core.forget.loop' -> 'forget'; 'kuda_core' itself -> None."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[0] == "kuda_core" else None


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_every_engine_part_is_in_the_table():
    order = _table_order()
    parts = {p.stem for p in ENGINE.iterdir() if (p.is_dir() and (p / "__init__.py").exists()) or
             (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))}
    assert parts - {"assets"} <= set(order), sorted(parts - set(order))


def test_a_part_imports_only_parts_listed_before_it_and_never_gradio():
    order = _table_order()
    rank = {name: i for i, name in enumerate(order)}
    wrong = []
    for path in sorted(ENGINE.rglob("*.py")):
        here = _part(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for module in _imports(path):
            if module.split(".")[0] == "gradio":
                wrong.append(f"{path.relative_to(ROOT)} imports gradio")
            there = _part(module)
            if here in rank and there in rank and rank[there] > rank[here]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} (listed after {here})")
    assert not wrong, "\n".join(wrong)
