"""Where Python source reaches into a third-party class's private parts (an AST walk, no import
of the code walked).

Flagged, as ``path:line: what``:

- ``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()`` (another object's private);
- ``getattr(x, "_name")`` and ``setattr``/``hasattr`` likewise;
- ``super()._name`` in a class that is not built on the project's own classes alone;
- ``self._name`` in a class with a third-party base when neither the class nor its project
  bases define ``_name`` (a private inherited from that base);
- ``def _name`` overriding a private method of a third-party base;
- any attribute named in ``internal_names`` (undocumented Faust state), whatever its owner.

Names of the form ``_name_`` (Enum's ``_missing_``, ``_generate_next_value_``) are documented
hooks, not privates. A base counts as the project's when it is defined in a module walked along
(by class name) or imported from one of ``project_packages``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path

SELF_NAMES = frozenset({"self", "cls"})
ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "hasattr"})


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("_")


def is_super_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Each name a module binds by import, and the dotted path it stands for."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    if isinstance(node, ast.Subscript):  # Generic[T], Mapping[str, int]
        return dotted(node.value)
    return None


def resolve(path: str) -> object | None:
    """The object a dotted path names (``faust.App``), or None when it cannot be imported."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                found = getattr(found, part)
        except AttributeError:
            return None
        return found
    return getattr(builtins, path, None)


def own_names(node: ast.ClassDef) -> set[str]:
    """Names a class body defines: methods, class attributes and ``self.x = ...`` targets."""
    names: set[str] = set()
    for item in ast.walk(node):
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(item.name)
        elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
            if isinstance(item.value, ast.Name) and item.value.id in SELF_NAMES:
                names.add(item.attr)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
    return names


class PrivateAccessFinder:
    """Walks modules for the accesses listed in the module docstring."""

    def __init__(
        self, paths: Iterable[Path], project_packages: Iterable[str], internal_names: Iterable[str]
    ) -> None:
        self.trees = {path: ast.parse(path.read_text(), str(path)) for path in paths}
        self.project = tuple(f"{package}." for package in project_packages)
        self.internal = frozenset(internal_names)
        self.classes = {
            node.name: node
            for tree in self.trees.values()
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
        }

    def findings(self) -> Iterator[str]:
        for path, tree in sorted(self.trees.items()):
            aliases = import_aliases(tree)
            for line, what in sorted(set(self._in_module(tree, aliases))):
                yield f"{path}:{line}: {what}"

    def _in_module(self, tree: ast.Module, aliases: dict[str, str]) -> Iterator[tuple[int, str]]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                yield from self._attribute(node)
            elif isinstance(node, ast.Call):
                yield from self._attribute_call(node)
            elif isinstance(node, ast.ClassDef):
                yield from self._class(node, aliases)

    def _attribute(self, node: ast.Attribute) -> Iterator[tuple[int, str]]:
        if node.attr in self.internal:
            yield node.lineno, f"Faust internal .{node.attr}"
        owner = node.value
        if not is_private(node.attr) or is_super_call(owner):
            return
        if not (isinstance(owner, ast.Name) and owner.id in SELF_NAMES):
            yield node.lineno, f"{ast.unparse(owner)}.{node.attr}"

    def _attribute_call(self, node: ast.Call) -> Iterator[tuple[int, str]]:
        if not (isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_CALLS):
            return
        if len(node.args) < 2 or not isinstance(node.args[1], ast.Constant):
            return
        name, owner = node.args[1].value, node.args[0]
        is_self = isinstance(owner, ast.Name) and owner.id in SELF_NAMES
        if isinstance(name, str) and is_private(name) and not is_self:
            yield node.lineno, f"{node.func.id}({ast.unparse(owner)}, {name!r})"

    def _class(self, node: ast.ClassDef, aliases: dict[str, str]) -> Iterator[tuple[int, str]]:
        foreign = [base for base in self._foreign_bases(node, aliases) if base is not object]
        # A mixin (no base) cooperates with whatever follows it in the MRO: a third party's.
        unknown_bases = bool(foreign) or not node.bases
        defined = self._defined(node)
        for item in ast.walk(node):
            if isinstance(item, ast.Attribute) and is_private(item.attr):
                if is_super_call(item.value) and unknown_bases:
                    yield item.lineno, f"super().{item.attr} (a base's private)"
                elif unknown_bases and self._inherited(item, defined):
                    yield item.lineno, f"self.{item.attr} not defined by {node.name} (inherited)"
            elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and is_private(item.name):
                base = next((b for b in foreign if hasattr(b, item.name)), None)
                if base is not None:
                    yield item.lineno, f"def {item.name} overrides {base!r}.{item.name}"

    @staticmethod
    def _inherited(item: ast.Attribute, defined: set[str]) -> bool:
        owner = item.value
        is_self = isinstance(owner, ast.Name) and owner.id in SELF_NAMES
        return is_self and item.attr not in defined

    def _defined(self, node: ast.ClassDef) -> set[str]:
        """Names the class and its project bases (by class name) define."""
        names = own_names(node)
        for base in node.bases:
            name = dotted(base)
            project = self.classes.get(name.rsplit(".", 1)[-1]) if name else None
            if project is not None and project is not node:
                names |= self._defined(project)
        return names

    def _foreign_bases(self, node: ast.ClassDef, aliases: dict[str, str]) -> list[object]:
        """The class's third-party bases (resolved), its project bases followed."""
        found: list[object] = []
        for base in node.bases:
            name = dotted(base)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            path = aliases.get(head, head) + (f".{rest}" if rest else "")
            if path.startswith(self.project):
                continue
            project = self.classes.get(name.rsplit(".", 1)[-1])
            if project is not None and head not in aliases:
                found += self._foreign_bases(project, aliases)
                continue
            resolved = resolve(path)
            if isinstance(resolved, type):
                found.append(resolved)
        return found
