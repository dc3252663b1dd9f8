"""The layer rules of ARCHITECTURE.md, read from every module's imports (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What each package must never import, at module level or inside a function.
FORBIDDEN = {
    "domain": ("torch", "prefect", "sqlalchemy", "faiss", "models", "storage", "flows",
               "service"),
    "models": ("prefect", "sqlalchemy", "storage", "flows", "service"),
    "storage": ("torch", "prefect", "faiss", "models", "flows", "service"),
    "service": ("prefect", "flows"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package: str) -> None:
    broken = []
    for path in sorted((REPO / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[package]:
                broken.append(f"{path.relative_to(REPO)} imports {module}")
    assert broken == []


def test_no_module_is_longer_than_its_budget() -> None:
    """Flow modules stay short (~200 lines); nothing else passes ~350 without a reason here."""
    reasons = {"storage/schema.py": "the whole declarative schema in one place, for Alembic"}
    too_long = []
    for package in ("domain", "models", "storage", "flows", "service", "bench"):
        for path in (REPO / package).rglob("*.py"):
            name = str(path.relative_to(REPO))
            limit = 220 if package == "flows" else 360
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit and name not in reasons and "migrations" not in name:
                too_long.append(f"{name}: {lines} lines")
    assert too_long == []
