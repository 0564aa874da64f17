"""The rules ARCHITECTURE.md states about the code itself, checked on the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
