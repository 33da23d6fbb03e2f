"""One error model: every code names exactly one error class, and exit codes come from one place."""

from __future__ import annotations

import retrovue.errors as errors
from retrovue.cli.exit_codes import exit_code
from retrovue.model.enums import Outcome


def _error_classes():
    return [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, errors.RetrovueError)
    ]


def test_each_code_is_defined_by_one_class():
    owners: dict[str, list[str]] = {}
    for cls in _error_classes():
        if "code" in vars(cls):  # a subclass that inherits its parent's code specialises it
            owners.setdefault(cls.code, []).append(cls.__name__)
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}


def test_errors_map_to_their_exit_codes():
    assert exit_code(errors.ConfigError([])) == 1
    assert exit_code(errors.ImporterUnreachableError("down")) == 3
    assert exit_code(errors.ImporterAuthError("401")) == 1
    assert exit_code(errors.InterruptedByOperator("^C")) == 130
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(ValueError("anything unexpected")) == 1


def test_outcomes_map_to_the_documented_exit_codes():
    assert {o: exit_code(o) for o in Outcome} == {
        Outcome.OK: 0,
        Outcome.CANCELLED: 0,
        Outcome.FAILED: 1,
        Outcome.CHANGES: 2,
        Outcome.PARTIAL: 2,
        Outcome.UNREACHABLE: 3,
        Outcome.INTERRUPTED: 130,
    }
    assert exit_code(None) == 0


def test_a_config_error_is_a_validation_error():
    """`validate --json` and imperative parameter checks share the VALIDATION_ERROR code."""
    assert errors.ConfigError([]).code == errors.ValidationError("x").code == "VALIDATION_ERROR"
