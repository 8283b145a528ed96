"""The package's layering, read from the source with ``ast``: what the package root holds, which layer may import
which, and no import cycle between the sub-packages. Every import counts, also one inside a function or under
TYPE_CHECKING."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ddss_platform"
ROOT_MODULES = {"__init__.py", "definitions.py", "settings.py"}

# layer -> the layers it must not import
FORBIDDEN = {
    "events": {"stores", "processing", "spark", "defs", "api", "cli", "definitions"},
    "scoring": {"stores", "processing", "spark", "defs", "api", "cli", "definitions"},
    "stores": {"processing", "spark", "defs", "api", "cli", "definitions"},
    "processing": {"spark", "defs", "api", "cli", "definitions"},
    "spark": {"processing", "defs", "api", "cli", "definitions"},
    "api": {"processing", "spark", "defs", "cli", "definitions"},
    "defs": {"api", "cli", "definitions"},
    "settings": {"events", "scoring", "stores", "processing", "spark", "defs", "api", "cli", "definitions"},
}


def layer(module: str) -> str | None:
    """The sub-package (or root module) a ``ddss_platform`` module belongs to; None outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "ddss_platform" and len(parts) > 1 else None


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def layer_imports() -> dict[str, dict[str, set[str]]]:
    """layer -> imported layer -> the files that import it."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent)
        source = layer(".".join(relative.with_suffix("").parts))
        for module in imported_modules(path):
            target = layer(module)
            if source and target and target != source:
                found[source][target].add(str(relative))
    return found


def test_the_package_root_holds_only_the_definitions_and_the_settings():
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert modules == ROOT_MODULES


def test_no_layer_imports_a_layer_above_it():
    imports = layer_imports()
    wrong = {
        (source, target): sorted(files)
        for source, forbidden in FORBIDDEN.items()
        for target, files in imports.get(source, {}).items()
        if target in forbidden
    }
    assert wrong == {}


def test_no_import_cycle_between_sub_packages():
    imports = layer_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for target in imports.get(start, {}):
            if target == goal or (target not in seen and reaches(target, goal, seen | {target})):
                return True
        return False

    cycles = sorted(source for source in imports if reaches(source, source, {source}))
    assert cycles == []
