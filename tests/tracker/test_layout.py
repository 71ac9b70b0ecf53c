"""How the project's folders may depend on each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports by absolute name, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_tests_and_bench_do_not_import_each_other():
    """What both use is in tracker.testing; neither is a library of the other."""
    crossings = [
        f"{path.relative_to(ROOT)} imports {other}"
        for folder, other in [("tests", "bench"), ("bench", "tests")]
        for path in sorted((ROOT / folder).rglob("*.py"))
        if other in imported_packages(path)
    ]
    assert crossings == []
