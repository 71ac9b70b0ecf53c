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


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports by absolute name, anywhere in it (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def code_files(folder: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


# The people modules that show letters' rows beside a person (reads for display:
# the API's views read a person's timeline and an organization's signatories; the
# reconciliation service reads letters' slugs, for its "letter" property).
PEOPLE_DISPLAYING_LETTERS = {
    "people/selectors.py",
    "people/api/serializers.py",
    "people/api/views.py",
    "people/api/reconcile.py",
    "people/admin.py",
}
LETTERS_READS = {"letters.models", "letters.selectors"}


def test_no_people_module_imports_letters_to_write():
    """Letters' rows follow merges and splits through the registry that
    letters.apps fills; people itself never reaches into letters to write."""
    crossings = []
    for path in code_files("people"):
        name = str(path.relative_to(ROOT))
        letters = {m for m in imported_modules(path) if m.split(".")[0] == "letters"}
        allowed = LETTERS_READS if name in PEOPLE_DISPLAYING_LETTERS else set()
        crossings += [f"{name} imports {module}" for module in sorted(letters - allowed)]
    assert crossings == []


# Where the project is put together rather than plumbing under the apps: the
# router that lists every app's resources, and the metrics page reading the runs.
PROJECT_COMPOSITION = {"tracker/api.py", "tracker/metrics.py"}


def test_the_ground_floor_imports_no_app():
    crossings = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in code_files("tracker")
        if str(path.relative_to(ROOT)) not in PROJECT_COMPOSITION
        for module in sorted(imported_modules(path))
        if module.split(".")[0] in {"letters", "people"}
    ]
    assert crossings == []


def test_the_matcher_stays_free_of_the_database():
    crossings = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in code_files("people/matching")
        for module in sorted(imported_modules(path))
        if module.split(".")[0] in {"django", "letters", "tracker"} or module == "people.models"
    ]
    assert crossings == []


def test_the_layout_test_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from letters.services import signature_record\n")
    assert "letters.services" in imported_modules(module)
