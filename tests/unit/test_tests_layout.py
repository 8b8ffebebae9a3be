"""The tests' own layout (issue 17 item 7): ``tests/unit`` mirrors the source folders, and no test
module imports another one (what tests share lives in ``tests/support/``).

An AST walk, nothing is imported: every Python file under ``tests/`` is read for imports of a
``test_*.py`` module, absolute or relative, and ``tests/unit`` for files that are not where they
belong. Each finding names the file (and the line of an import) and what to do about it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE_FILES = frozenset({"__init__.py", "conftest.py"})
"""Files any folder of ``tests/unit`` may hold besides its test modules."""


def is_test_module(path: Path) -> bool:
    return path.name.startswith("test_") and path.suffix == ".py"


def package_of(path: Path, root: Path) -> list[str]:
    """The dotted package a module file sits in, as its parts (``tests/unit/x.py``: tests, unit)."""
    return list(path.parent.relative_to(root).parts)


def imported_names(tree: ast.Module, package: list[str]) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every module an import may load: ``from a import b`` gives ``a``
    and ``a.b`` (``b`` may be a module); relative imports are resolved against ``package``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base:
                yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if base else alias.name


def imports_of_test_modules(root: Path) -> list[str]:
    """``path:line: ...`` for each import, in a Python file under ``root/tests``, of a test
    module (a ``test_*.py`` file of the tree)."""
    found = []
    for path in sorted((root / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in imported_names(tree, package_of(path, root)):
            target = root.joinpath(*name.split(".")).with_suffix(".py")
            if is_test_module(target) and target.is_file():
                found.append(
                    f"{path.relative_to(root)}:{line}: imports the test module {name}; "
                    "move what they share to tests/support/"
                )
    return found


def misplaced_in_unit(root: Path, top_level: frozenset[str]) -> list[str]:
    """Files and folders of ``root/tests/unit`` out of the layout: a file directly in it (other
    than ``PACKAGE_FILES`` and ``top_level``), a file beside the tests that is no test module, a
    folder without ``__init__.py`` (module names must stay unique), a folder that mirrors no
    source folder (``root/<path>``, or ``root/tests/<path>`` for the tests' own support)."""
    unit = root / "tests" / "unit"
    found = []
    for path in sorted(unit.rglob("*")):
        relative = path.relative_to(unit)
        if "__pycache__" in relative.parts or relative.parts[0].startswith("."):
            continue
        shown = path.relative_to(root)
        if path.is_dir():
            if not (path / "__init__.py").is_file():
                found.append(f"{shown}/: no __init__.py (tests/unit is a package tree)")
            if not ((root / relative).is_dir() or (root / "tests" / relative).is_dir()):
                found.append(f"{shown}/: mirrors no source folder ({relative}/ does not exist)")
        elif path.name in PACKAGE_FILES:
            continue
        elif len(relative.parts) == 1 and path.name not in top_level:
            found.append(
                f"{shown}: sits directly in tests/unit; move it to the folder mirroring what it "
                "tests (a helper: tests/support/)"
            )
        elif len(relative.parts) > 1 and not is_test_module(path):
            found.append(f"{shown}: not a test module; shared helpers go to tests/support/")
    return found


def test_no_module_under_tests_imports_a_test_module():
    assert imports_of_test_modules(REPO) == []


def test_tests_unit_holds_only_test_modules_in_folders_mirroring_the_sources():
    assert misplaced_in_unit(REPO, frozenset({Path(__file__).name})) == []


@pytest.fixture
def make_tree(tmp_path):
    """A repository of the given files (path -> text) under a fresh directory; its root."""

    def make(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path

    return make


PACKAGES = {
    "streams/state/store.py": "",
    "tests/__init__.py": "",
    "tests/support/__init__.py": "",
    "tests/support/shared.py": "from tests.support import helper\n",
    "tests/unit/__init__.py": "",
    "tests/unit/streams/__init__.py": "",
    "tests/unit/streams/test_a.py": "VALUE = 1\n",
}


def test_each_import_of_a_test_module_is_named_by_file_and_line(make_tree):
    importer = "\n".join(
        [
            "import pytest",
            "from tests.support.shared import helper",
            "from tests.unit.streams.test_a import VALUE",
            "from .test_a import VALUE as again",
            "from tests.unit.streams import test_a",
            "import tests.unit.streams.test_a",
            "from . import test_missing",
        ]
    )
    root = make_tree({**PACKAGES, "tests/unit/streams/test_b.py": importer + "\n"})

    found = imports_of_test_modules(root)

    assert [finding.split(": imports")[0] for finding in found] == [
        "tests/unit/streams/test_b.py:3",
        "tests/unit/streams/test_b.py:4",
        "tests/unit/streams/test_b.py:5",
        "tests/unit/streams/test_b.py:6",
    ]
    assert "imports the test module tests.unit.streams.test_a;" in found[1]


def test_a_file_directly_in_tests_unit_a_helper_and_an_unmirrored_folder_are_named(make_tree):
    root = make_tree(
        {
            **PACKAGES,
            "tests/unit/conftest.py": "",
            "tests/unit/test_loose.py": "",
            "tests/unit/test_allowed.py": "",
            "tests/unit/streams/helpers.py": "",
            "tests/unit/streams/state/test_store.py": "",
            "tests/unit/support/__init__.py": "",
            "tests/unit/nowhere/__init__.py": "",
            "tests/unit/nowhere/__pycache__/test_x.cpython-311.pyc": "",
        }
    )

    found = misplaced_in_unit(root, frozenset({"test_allowed.py"}))

    assert [finding.split(": ")[0] for finding in found] == [
        "tests/unit/nowhere/",
        "tests/unit/streams/helpers.py",
        "tests/unit/streams/state/",
        "tests/unit/test_loose.py",
    ]
    assert "mirrors no source folder" in found[0]
    assert "no __init__.py" in found[2]
