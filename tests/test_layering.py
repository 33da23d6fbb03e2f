"""The package layering holds: data flows config → observe → diff → plan → execute → render, the
model is a leaf, and the CLI is the only place that knows click.

Checked on the source (every import statement, including those inside functions), so a lazy
import cannot hide a dependency running the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def _offenders(packages: list[str], forbidden) -> list[str]:
    found = []
    for package in packages:
        for path in _modules(package):
            bad = sorted(name for name in _imports(path) if forbidden(name))
            if bad:
                found.append(f"{path.relative_to(SRC)}: {', '.join(bad)}")
    return found


def _is(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_packages_exist():
    for package in (
        "model",
        "config",
        "observe",
        "diff",
        "plan",
        "execute",
        "render",
        "app",
        "cli",
    ):
        assert _modules(package), package


def test_model_is_a_leaf():
    assert (
        _offenders(["model"], lambda n: _is(n, "retrovue") and not _is(n, "retrovue.model")) == []
    )


@pytest.mark.parametrize("package", ["diff", "plan"])
def test_diff_and_plan_run_no_sql(package):
    assert (
        _offenders(
            [package], lambda n: _is(n, "sqlalchemy", "retrovue.database", "retrovue.execute")
        )
        == []
    )


def test_diff_does_not_import_plan():
    assert _offenders(["diff"], lambda n: _is(n, "retrovue.plan")) == []


def test_render_does_not_reach_back_into_execution():
    assert _offenders(["render"], lambda n: _is(n, "retrovue.execute", "retrovue.database")) == []


def test_only_the_cli_knows_click():
    packages = [
        p.name for p in SRC.iterdir() if p.is_dir() and p.name not in ("cli", "__pycache__")
    ]
    assert packages
    assert _offenders(packages, lambda n: _is(n, "click")) == []
    top_level = [p for p in SRC.glob("*.py") if "click" in _imports(p)]
    assert top_level == []


def test_the_cli_runs_no_sql():
    assert _offenders(["cli"], lambda n: _is(n, "sqlalchemy", "retrovue.database")) == []


def test_the_application_layer_knows_no_click_and_no_rendering_of_its_own():
    assert _offenders(["app"], lambda n: _is(n, "click", "retrovue.cli")) == []
