"""The lock (constraints.txt) must cover pyproject.toml: .ci/check_lock.py refuses a stale one."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / ".ci" / "check_lock.py"


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_lock", CHECKER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECKER), str(root)], capture_output=True, text=True)


def test_the_committed_lock_covers_pyproject() -> None:
    assert load_checker().problems(ROOT) == []


def test_every_direct_dependency_is_pinned_inside_its_range() -> None:
    checker = load_checker()
    import tomllib

    pinned = checker.pins((ROOT / "constraints.txt").read_text())
    for _, req in checker.direct_requirements(tomllib.loads((ROOT / "pyproject.toml").read_text())):
        versions = pinned[checker.canonicalize_name(req.name)]
        assert any(req.specifier.contains(v) for v in versions), (req, versions)


def test_a_dependency_missing_from_the_lock_fails_naming_it_and_the_refresh_command(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"rich>=13",', '"rich>=13",\n    "tabulate>=0.9",'))
    result = run(project)
    assert result.returncode == 1
    assert "tabulate (pyproject dependencies) is not pinned in constraints.txt" in result.stderr
    assert "uv pip compile pyproject.toml" in result.stderr


def test_a_pin_outside_the_declared_range_fails(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"sortedcontainers>=2.4"', '"sortedcontainers>=3"'))
    result = run(project)
    assert result.returncode == 1
    assert "sortedcontainers: constraints.txt pins 2.4.0, outside pyproject's '>=3'" in result.stderr


def test_a_missing_lock_fails(project: Path) -> None:
    (project / "constraints.txt").unlink()
    assert run(project).returncode == 1
