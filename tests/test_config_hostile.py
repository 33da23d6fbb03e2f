"""Hostile config files: bounded parsing and no number that switches a guard off (issue 9)."""

from __future__ import annotations

import pytest

from retrovue.config import loader, validate
from retrovue.config.validate import load_config
from retrovue.errors import ConfigError
from retrovue.importers.registry import load_registry

BASE = """version: 1
missing_threshold: {value}
sources:
  - name: Lib
    type: filesystem
    config: {{base_path: {base}}}
"""


@pytest.fixture
def registry():
    return load_registry(include_plugins=False)


def _diagnostics(tmp_path, registry, text, env=None):
    path = tmp_path / "retrovue.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), registry, env or {})
    return info.value.diagnostics


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf"])
def test_non_finite_threshold_is_refused(tmp_path, registry, value):
    """A NaN threshold compares false with every bound and would disable the mass-missing guard."""
    diags = _diagnostics(tmp_path, registry, BASE.format(value=value, base=tmp_path))
    assert [d.path for d in diags] == ["$.missing_threshold"]
    assert "not a finite number" in diags[0].message
    assert diags[0].line == 2


def test_non_finite_threshold_through_a_variable_is_refused(tmp_path, registry):
    text = BASE.format(value="${THRESHOLD}", base=tmp_path)
    diags = _diagnostics(tmp_path, registry, text, {"THRESHOLD": "nan"})
    assert [d.path for d in diags] == ["$.missing_threshold"]


def test_a_finite_threshold_still_loads(tmp_path, registry):
    path = tmp_path / "retrovue.yaml"
    path.write_text(BASE.format(value="0.5", base=tmp_path))
    assert load_config(str(path), registry, {}).missing_threshold == 0.5


def test_alias_bomb_is_refused_before_it_expands(tmp_path, registry):
    """Nine levels of nine aliases: 9**9 values if expanded; refused after a bounded walk."""
    levels = ['a0: &a0 ["x"]'] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)
    ]
    text = "version: 1\n" + "\n".join(levels) + "\nsources: []\n"
    diags = _diagnostics(tmp_path, registry, text)
    assert len(diags) == 1
    assert f"more than {loader.MAX_NODES:,} values" in diags[0].message


def test_recursive_alias_is_refused(tmp_path, registry):
    diags = _diagnostics(tmp_path, registry, "version: 1\nloop: &l [*l]\nsources: []\n")
    assert "YAML aliases" in diags[0].message


def test_oversized_file_is_refused_unread(tmp_path, registry, monkeypatch):
    monkeypatch.setattr(validate, "MAX_FILE_BYTES", 1024)
    diags = _diagnostics(tmp_path, registry, "version: 1\n# " + "x" * 2000 + "\nsources: []\n")
    assert "larger than" in diags[0].message


def test_deep_nesting_is_a_located_error(tmp_path, registry):
    """Issue 17, item 9: 5,000 nested lists ended in `unexpected error: RecursionError`."""
    text = "version: 1\nsources: " + "[" * 5000 + "]" * 5000 + "\n"
    (diag,) = _diagnostics(tmp_path, registry, text)
    assert f"nests deeper than {loader.MAX_DEPTH} levels" in diag.message
    # the root mapping is level 1, so the 64th bracket (from column 10) opens level 65
    assert (diag.line, diag.column) == (2, 9 + loader.MAX_DEPTH)


def test_a_5000_digit_number_is_a_located_error(tmp_path, registry):
    """Issue 17, item 9: Python refuses to convert more than 4,300 digits (ValueError)."""
    diags = _diagnostics(tmp_path, registry, BASE.format(value="9" * 5000, base=tmp_path))
    assert [(d.path, d.line, d.message) for d in diags] == [
        ("$.missing_threshold", 2, "this number is too long to read")
    ]


def test_a_5000_digit_key_is_a_located_error(tmp_path, registry):
    text = BASE.format(value="0.2", base=tmp_path) + "? " + "9" * 5000 + "\n: 1\n"
    (diag,) = _diagnostics(tmp_path, registry, text)
    assert diag.message == "mapping keys must be strings" and diag.line == 7


def test_a_5000_digit_variable_is_checked_as_text(tmp_path, registry):
    text = BASE.format(value="${BIG}", base=tmp_path)
    (diag,) = _diagnostics(tmp_path, registry, text, env={"BIG": "9" * 5000})
    assert diag.path == "$.missing_threshold" and "is not of type 'number'" in diag.message
