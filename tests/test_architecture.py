"""The rules ARCHITECTURE.md states about the code itself, checked on the source."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mockserver", "contracts")
LIBRARIES = ("connexion", "starlette", "uvicorn")


def sources(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def library_names(tree: ast.Module) -> set[str]:
    """Names a module binds to something imported from Connexion, Starlette or uvicorn."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith(LIBRARIES)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(LIBRARIES):
            names |= {a.asname or a.name for a in node.names}
    return names


def library_private_uses(tree: ast.Module) -> list[str]:
    """Private names of the three libraries a module imports, reads or overrides."""
    found = []
    imported = library_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(LIBRARIES):
            modules = node.module.split(".") if node.module else []
            found += [f"from {node.module} import {a.name}" for a in node.names if is_private(a.name)]
            found += [f"module {node.module}" for part in modules if is_private(part)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(LIBRARIES) and "._" in a.name]
        elif (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id in imported for base in node.bases
        ):
            own = {
                target.attr
                for sub in ast.walk(node)
                if isinstance(sub, ast.Assign | ast.AnnAssign)
                for target in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                if isinstance(target, ast.Attribute)
            }
            for sub in ast.walk(node):
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and is_private(sub.name):
                    found.append(f"{node.name}.{sub.name} overrides a private hook")
                if isinstance(sub, ast.Attribute) and is_private(sub.attr) and sub.attr not in own:
                    found.append(f"{node.name}: {ast.unparse(sub)}")
    return found


def test_no_private_name_of_connexion_starlette_or_uvicorn_outside_compat() -> None:
    offenders = {
        module: uses
        for module, tree in sources(*PACKAGES, "tests", "benchmarks")
        if module != "mockserver/compat.py" and (uses := library_private_uses(tree))
    }
    assert offenders == {}, "library internals belong in mockserver/compat.py"


def test_the_private_name_check_catches_each_form() -> None:
    code = """
from connexion.spec import OpenAPISpecification
from connexion.validators.json import JSONRequestBodyValidator
from starlette._utils import is_async_callable
from uvicorn.protocols import _helper
OpenAPISpecification._validate_spec = None
class Body(JSONRequestBodyValidator):
    def _validate(self, body):
        return self._schema
"""
    assert sorted(library_private_uses(ast.parse(code))) == [
        "Body._validate overrides a private hook",
        "Body: self._schema",
        "OpenAPISpecification._validate_spec",
        "from uvicorn.protocols import _helper",
        "module starlette._utils",
    ]


# -- the layer table of ARCHITECTURE.md ------------------------------------------------------


@dataclass(frozen=True)
class Import:
    target: str  # a first-party module, or a third-party top-level package
    first_party: bool
    type_only: bool


def module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, tree: ast.Module, known: set[str]) -> list[Import]:
    """Every import of a module (module level, inside functions, under ``if TYPE_CHECKING``)."""
    found: list[Import] = []

    def add(name: str, type_only: bool) -> None:
        first_party = name.split(".")[0] in PACKAGES
        if first_party:
            while name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
        found.append(Import(name if first_party else name.split(".")[0], first_party, type_only))

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, type_only)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level] if not module.endswith("__init__") else module
                base = ".".join([*package, *([node.module] if node.module else [])])
            for alias in node.names:
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, type_only)
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    return found


def all_imports() -> dict[str, list[Import]]:
    trees = {module_name(path): tree for path, tree in sources(*PACKAGES)}
    return {module: imports(module, tree, set(trees)) for module, tree in trees.items()}


def layer_table() -> list[tuple[str, list[str], list[str], list[str]]]:
    """(layer, module patterns, layers it may import, packages it may import) per table row."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Layers and who may import whom", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "---") or not line.startswith("|"):
            continue
        layer, modules, may = cells
        patterns = re.findall(r"`([^`]+)`", modules)
        packages = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", may))
        prose = re.sub(r"\([^)]*\)", "", re.sub(r"`[^`]+`", "", may))  # packages and remarks out
        layers = [p.strip() for p in prose.split(",") if p.strip()]
        rows.append((layer, patterns, layers, packages))
    return rows


def pattern_module(pattern: str) -> str:
    """A table entry as a module name: ``backend/`` -> ``mockserver.backend``, ``contracts/local.py``
    -> ``contracts.local``, ``__init__`` -> ``mockserver``."""
    name = pattern.rstrip("/").removesuffix(".py").replace("/", ".")
    if name == "__init__":
        return "mockserver"
    return name if name.split(".")[0] in PACKAGES else f"mockserver.{name}"


def layer_of(module: str, rows: list[tuple[str, list[str], list[str], list[str]]]) -> str | None:
    """The row naming the module most specifically (``contracts/local.py`` before ``contracts/``):
    a module by name, a folder (``backend/``) with everything in it."""
    best: tuple[int, str] | None = None
    for layer, patterns, _layers, _packages in rows:
        for pattern in patterns:
            name = pattern_module(pattern)
            folder = pattern.endswith("/")
            if module == name or (folder and module.startswith(name + ".")):
                if best is None or len(name) > best[0]:
                    best = (len(name), layer)
    return best[1] if best else None


def test_every_module_belongs_to_one_layer_of_the_table() -> None:
    rows = layer_table()
    assert len(rows) >= 10, "ARCHITECTURE.md's layer table was not found"
    unplaced = [module for module in all_imports() if layer_of(module, rows) is None]
    assert unplaced == []


def test_every_import_is_allowed_by_the_layer_table() -> None:
    rows = layer_table()
    allowed = {layer: (set(layers), set(packages)) for layer, _p, layers, packages in rows}
    stdlib = set(sys.stdlib_module_names)
    broken = []
    for module, found in all_imports().items():
        layer = layer_of(module, rows)
        assert layer is not None, module
        layers, packages = allowed[layer]
        for item in found:
            if item.first_party:
                target = layer_of(item.target, rows)
                if target != layer and target not in layers and not is_enclosing(item, module):
                    broken.append(f"{module} ({layer}) imports {item.target} ({target})")
            elif item.target not in stdlib and item.target not in packages:
                broken.append(f"{module} ({layer}) imports the package {item.target}")
    assert broken == [], "ARCHITECTURE.md's table and the code disagree"


def is_enclosing(item: Import, module: str) -> bool:
    """A type-only import of the package the module belongs to (a component naming ``Backend``)."""
    return item.type_only and module.startswith(item.target + ".")


def test_no_import_cycle() -> None:
    graph = {
        module: {i.target for i in found if i.first_party and not is_enclosing(i, module)} - {module}
        for module, found in all_imports().items()
    }
    cycles = []
    state: dict[str, int] = {}

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                walk(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_the_table_check_notices_a_forbidden_import() -> None:
    rows = layer_table()
    known = set(all_imports())
    code = ast.parse("import starlette\nfrom mockserver import app")
    backend = imports("mockserver.backend.datasets", code, known)
    layers, packages = next((set(names), set(pkgs)) for name, _m, names, pkgs in rows if name == "backend")
    assert "starlette" not in packages
    assert layer_of("mockserver.app", rows) not in layers
    assert {i.target for i in backend} == {"starlette", "mockserver.app"}


# -- private attributes across modules -----------------------------------------------------


#: standard library functions whose documented, public name starts with an underscore
DOCUMENTED_UNDERSCORED = frozenset({"os._exit"})


def foreign_private_reads(tree: ast.Module) -> list[str]:
    """``x._name`` (and ``getattr(x, "_name")``) where ``x`` is not ``self``/``cls`` and the module
    does not itself define ``_name`` on ``self``: reading another module's private state."""
    own = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
        and isinstance(node.ctx, ast.Store)
    } | {
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and ast.unparse(node) not in DOCUMENTED_UNDERSCORED
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            and not (isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "super")
            and node.attr not in own
        ):
            found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and is_private(node.args[1].value)
            and node.args[1].value not in own
        ):
            found.append(ast.unparse(node))
    return found


def test_no_module_reads_another_modules_private_attributes() -> None:
    offenders = {
        module: reads
        for module, tree in sources("mockserver")
        if module != "mockserver/compat.py" and (reads := foreign_private_reads(tree))
    }
    assert offenders == {}, "use a public accessor (or an after_restore hook) of the module that owns it"


def test_the_private_read_check_catches_each_form() -> None:
    code = """
class Mine:
    def __init__(self):
        self._own = 1
    def peek(self, other, ids, pager):
        return other._own, ids._issued, pager.tokens._secret, getattr(other, "_entries", {})
"""
    assert sorted(foreign_private_reads(ast.parse(code))) == [
        "getattr(other, '_entries', {})",
        "ids._issued",
        "pager.tokens._secret",
    ]
