"""What a built wheel depends on, checked fast from the source tree (CI builds and installs the
real wheel): the package data is reachable through importlib.resources, and pyproject.toml
declares exactly the third-party distributions that src/retrovue imports."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from fnmatch import fnmatch
from importlib import resources
from importlib.metadata import packages_distributions
from pathlib import Path

from alembic.script import ScriptDirectory

from retrovue.database import migrate

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "retrovue"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# declared, but never imported by name: used through another library
USED_INDIRECTLY = {
    "psycopg": "the SQLAlchemy driver of postgresql+psycopg:// URLs",
    "python-multipart": "what FastAPI parses the web view's forms with",
    "httptools": "the HTTP parser Uvicorn's http='auto' takes (serve's SPEED)",
    "uvloop": "the event loop Uvicorn's loop='auto' takes (serve's SPEED)",
}


def _normalize(name: str) -> str:  # PEP 503
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distribution names of [project].dependencies (extras and markers stripped)."""
    return {
        _normalize(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group())
        for req in PYPROJECT["project"]["dependencies"]
    }


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module name -> the files under src/retrovue importing it (absolute imports only;
    the stdlib and retrovue itself left out)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in {"retrovue", "__future__"}:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_migrations_are_package_data():
    migrations = resources.files("retrovue") / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    versions = [v for v in (migrations / "versions").iterdir() if v.name.endswith(".py")]
    assert versions and all("revision = " in v.read_text() for v in versions)


def test_alembic_finds_the_packaged_scripts():
    location = migrate.migrations_dir()
    assert location.is_dir() and (location / "env.py").is_file()
    assert ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_schemas_are_package_data():
    schemas = resources.files("retrovue") / "schemas"
    for name in ("retrovue.schema.json", "plan.schema.json"):
        doc = json.loads((schemas / name).read_text())
        assert doc["$schema"].startswith("https://json-schema.org/")


def test_every_data_file_matches_a_package_data_glob():
    """migrations/ and schemas/ are namespace packages to setuptools: their .py files ship as
    modules, anything else only when [tool.setuptools.package-data] names it."""
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    missed = []
    for folder in ("migrations", "schemas"):
        for path in (PACKAGE / folder).rglob("*"):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".py":
                continue
            package = ".".join(path.parent.relative_to(PACKAGE.parent).parts)
            if not any(fnmatch(path.name, glob) for glob in package_data.get(package, [])):
                missed.append(str(path.relative_to(ROOT)))
    assert not missed, f"not in [tool.setuptools.package-data], so not in the wheel: {missed}"


def test_top_level_symlinks_point_into_the_package():
    for name in ("migrations", "schemas"):
        link = ROOT / name
        assert link.is_symlink() and link.resolve() == PACKAGE / name


def test_every_third_party_import_is_declared():
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, files in sorted(_third_party_imports().items()):
        providers = {_normalize(d) for d in distributions.get(module, [])}
        if not providers & declared:
            undeclared[module] = (sorted(providers) or ["not installed"], sorted(files))
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"


def test_every_declared_dependency_is_used():
    distributions = packages_distributions()
    imported = {
        _normalize(dist)
        for module in _third_party_imports()
        for dist in distributions.get(module, [])
    }
    unused = _declared() - imported - set(USED_INDIRECTLY)
    assert not unused, f"declared in [project].dependencies but never imported: {sorted(unused)}"
