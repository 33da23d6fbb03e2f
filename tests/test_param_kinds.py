"""Issue 18: one rule per parameter kind, used by the config schema, the config loader, the
`source add|update` flags and values, and the enrichers' params."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from retrovue.enrichers.base import resolve_params
from retrovue.enrichers.errors import EnricherParamsError
from retrovue.importers.base import ParamSpec
from retrovue.importers.kinds import RULES, rule_of
from retrovue.model.enums import ParamKind

#: a command-line value of each kind, and what it is stored as
GIVEN = {
    ParamKind.STRING: (" plex ", "plex"),
    ParamKind.URL: ("http://plex:32400", "http://plex:32400"),
    ParamKind.BOOL: (True, True),
    ParamKind.LIST: ("MKV, .Mp4,", ["mkv", "mp4"]),
    ParamKind.NUMBER: ("2.0", 2),
}


def test_every_kind_has_its_one_rule():
    assert set(RULES) == set(ParamKind)


def test_a_plugin_may_name_a_kind_by_its_value():
    spec = ParamSpec("timeout", "number")
    assert spec.kind is ParamKind.NUMBER
    assert json.dumps({"kind": spec.kind}) == '{"kind": "number"}'  # serialised as before


def test_an_unknown_kind_is_refused_when_the_spec_is_made():
    with pytest.raises(ValueError, match="parameter 'x': unknown kind 'text'"):
        ParamSpec("x", "text")


@pytest.mark.parametrize("kind", list(GIVEN))
def test_a_value_normalised_from_the_command_line_is_one_a_file_may_hold(kind):
    """What `source add` stores passes the file's schema and the enrichers' check of the same
    kind: the three read one rule."""
    given, stored = GIVEN[kind]
    rule = rule_of(kind)
    value = rule.from_cli(given, "p", "t")
    assert value == stored and rule.accepts(value)
    assert Draft202012Validator(dict(rule.schema)).is_valid(value)
    assert resolve_params([ParamSpec("p", kind)], {"p": value}) == {"p": value}


def test_a_path_is_made_absolute_against_the_given_directory(tmp_path, monkeypatch):
    rule = rule_of(ParamKind.PATH)
    assert rule.in_file("media/../films", "/srv/conf") == "/srv/conf/films"
    assert rule.in_file(7, "/srv") == 7  # the schema reports a wrong type, not this
    (tmp_path / "films").mkdir()
    monkeypatch.chdir(tmp_path)
    assert rule.from_cli("films/", "base_path", "filesystem") == str(tmp_path / "films")
    assert rule_of(ParamKind.STRING).in_file("media", "/srv") == "media"


@pytest.mark.parametrize(
    "kind, given, problem",
    [
        (ParamKind.URL, "plex:32400", "Invalid URL format for p parameter"),
        (ParamKind.LIST, " , ", "Invalid configuration for source type 't': p must not be empty"),
        (
            ParamKind.NUMBER,
            "nan",
            "Invalid configuration for source type 't': p must be a finite number",
        ),
        (ParamKind.NUMBER, "-1", "Invalid configuration for source type 't': p must be positive"),
        (ParamKind.STRING, "  ", "Invalid configuration for source type 't': p must not be empty"),
    ],
)
def test_a_bad_command_line_value_says_why(kind, given, problem):
    with pytest.raises(ValueError) as caught:
        rule_of(kind).from_cli(given, "p", "t")
    assert str(caught.value) == problem


def test_an_enricher_param_of_the_wrong_kind_names_the_kind():
    with pytest.raises(EnricherParamsError) as caught:
        resolve_params([ParamSpec("window", "number")], {"window": True})
    assert caught.value.message == "parameter 'window' must be a number, not bool"
    assert caught.value.hint == "parameters: window (number)"


def test_the_flags_come_from_the_rules():
    from retrovue.cli.imperative.params import _option

    assert _option(ParamSpec("base_url", "url"), hidden=False).metavar == "URL"
    assert _option(ParamSpec("exts", "list"), hidden=False).metavar == "A,B,…"
    assert _option(ParamSpec("follow", "bool"), hidden=False).opts == ["--follow"]
