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


def _imports(path: Path, package: str = "") -> set[str]:
    """Every module ``path`` imports, absolute; ``from retrovue import render`` names
    ``retrovue.render`` too, and a relative import is resolved against ``package``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def _package_of(path: Path) -> str:
    return ".".join(("retrovue", *path.relative_to(SRC).parent.parts))


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def _offenders(packages: list[str], forbidden) -> list[str]:
    found = []
    for package in packages:
        for path in _modules(package):
            bad = sorted(name for name in _imports(path, _package_of(path)) if forbidden(name))
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


def test_the_application_layer_renders_nothing():
    """Use cases return data; the CLI hands it to a renderer (issue 18)."""
    assert _offenders(["app"], lambda n: _is(n, "retrovue.render", "retrovue.cli")) == []


def test_the_import_check_sees_lazy_parent_and_relative_imports(tmp_path):
    module = tmp_path / "use_case.py"
    module.write_text(
        "def run():\n"
        "    from retrovue import render\n"
        "    from ..cli import console\n"
        "    import retrovue.render.text\n"
    )
    names = _imports(module, "retrovue.app")
    assert {"retrovue.render", "retrovue.cli.console", "retrovue.render.text"} <= names


def test_the_web_view_is_a_thin_client_that_runs_no_sql():
    """Issue 22: like the CLI, the server calls use cases; it neither queries nor executes."""
    assert _modules("web")
    assert (
        _offenders(["web"], lambda n: _is(n, "sqlalchemy", "retrovue.database", "retrovue.execute"))
        == []
    )


def test_nothing_below_the_clients_imports_the_web_view():
    packages = [
        p.name for p in SRC.iterdir() if p.is_dir() and p.name not in ("web", "__pycache__")
    ]
    allowed = {"cli"}  # `retrovue serve` starts it
    assert (
        _offenders([p for p in packages if p not in allowed], lambda n: _is(n, "retrovue.web"))
        == []
    )
