"""Config loading: every error names file:line:column and its JSON path; all found in one pass."""

import json
from pathlib import Path

import pytest

from retrovue.config.schema import build_schema
from retrovue.config.validate import load_config
from retrovue.errors import ConfigError
from retrovue.importers.registry import load_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry():
    return load_registry(include_plugins=False)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "retrovue.yaml"
    path.write_text(text)
    return str(path)


def problems(tmp_path, registry, text, env=None):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, registry, env or {})
    return path, info.value.diagnostics


def test_malformed_yaml_names_file_line_and_column(tmp_path, registry):
    path, diags = problems(
        tmp_path, registry, "version: 1\nsources:\n  - name: x\n    type: [filesystem\n"
    )
    assert len(diags) == 1
    assert diags[0].file == path
    assert (diags[0].line, diags[0].column) == (5, 1)
    assert "YAML syntax error" in diags[0].message


def test_duplicate_key_is_an_error_with_location(tmp_path, registry):
    _, diags = problems(tmp_path, registry, "version: 1\nversion: 1\nsources: []\n")
    assert [(d.line, d.column, d.message) for d in diags] == [(2, 1, "duplicate key 'version'")]


def test_unknown_key_and_wrong_type_reported_together(tmp_path, registry):
    text = (
        "version: 1\n"
        "sources:\n"
        "  - name: Lib\n"
        "    type: filesystem\n"
        "    colour: red\n"
        "    config:\n"
        "      base_path: /tmp\n"
        "      follow_symlinks: maybe\n"
    )
    _, diags = problems(tmp_path, registry, text)
    found = {(d.path, d.line) for d in diags}
    assert ("$.sources[0]", 3) in found  # unknown key 'colour' reported at its mapping
    assert ("$.sources[0].config.follow_symlinks", 8) in found
    assert any("colour" in d.message for d in diags)


def test_missing_base_path_names_the_source_config(tmp_path, registry):
    text = "version: 1\nsources:\n  - name: Lib\n    type: filesystem\n    config: {}\n"
    _, diags = problems(tmp_path, registry, text)
    assert [d.path for d in diags] == ["$.sources[0].config"]
    assert "'base_path' is required" in diags[0].message
    assert diags[0].line == 5


def test_unknown_importer_type(tmp_path, registry):
    text = "version: 1\nsources:\n  - name: Lib\n    type: ftp\n    config: {}\n"
    _, diags = problems(tmp_path, registry, text)
    assert any("unknown source type 'ftp'" in d.message and d.line == 4 for d in diags)


def test_unset_env_variable_names_variable_and_place(tmp_path, registry):
    text = "version: 1\nsources:\n  - name: Lib\n    type: filesystem\n    config:\n      base_path: ${MEDIA_ROOT}\n"
    _, diags = problems(tmp_path, registry, text)
    assert len(diags) == 1
    assert "'MEDIA_ROOT' is not set" in diags[0].message
    assert (diags[0].line, diags[0].path) == (6, "$.sources[0].config.base_path")


def test_interpolation_default_and_typing(tmp_path, registry):
    text = (
        "version: 1\nsources:\n  - name: Lib\n    type: filesystem\n    config:\n"
        "      base_path: ${MEDIA_ROOT:-/srv/media}\n      follow_symlinks: ${FOLLOW}\n"
        '      extensions: ["$${literal}"]\n'
    )
    desired = load_config(write(tmp_path, text), registry, {"FOLLOW": "true"})
    config = desired.sources[0].config
    assert config["base_path"] == "/srv/media"
    assert (
        config["follow_symlinks"] is True
    )  # an unquoted single reference is re-typed as YAML would
    assert config["extensions"] == ["${literal}"]


def test_quoted_reference_stays_a_string(tmp_path, registry):
    text = (
        "version: 1\nsources:\n  - name: P\n    type: plex\n    config:\n"
        '      base_url: http://127.0.0.1:32400\n      token: "${TOKEN}"\n'
    )
    desired = load_config(write(tmp_path, text), registry, {"TOKEN": "12345"})
    assert desired.sources[0].config["token"] == "12345"
    # no bare hash of a secret (issue 9, item 12): fingerprints are keyed by the database's key
    assert desired.secret_fingerprints == {} and desired.sources[0].references == {
        "token": "${TOKEN}"
    }


def test_duplicate_source_names_case_insensitive(tmp_path, registry):
    text = (
        "version: 1\nsources:\n"
        "  - {name: Lib, type: filesystem, config: {base_path: /a}}\n"
        "  - {name: lib, type: filesystem, config: {base_path: /b}}\n"
    )
    _, diags = problems(tmp_path, registry, text)
    assert [(d.line, d.path) for d in diags] == [(4, "$.sources[1].name")]
    assert "duplicate source name 'lib'" in diags[0].message


def test_relative_base_path_is_relative_to_the_config_file(tmp_path, registry):
    text = "version: 1\nsources:\n  - {name: Lib, type: filesystem, config: {base_path: media}}\n"
    desired = load_config(write(tmp_path, text), registry, {})
    assert desired.sources[0].config["base_path"] == str(tmp_path / "media")


def test_path_mapping_checks(tmp_path, registry):
    text = (
        "version: 1\nsources:\n  - name: P\n    type: plex\n    config: {base_url: 'http://x:32400', token: t}\n"
        "    collections:\n      - name: Movies\n        path_mappings:\n"
        "          - {plex_path: /data/movies, local_path: relative/dir}\n"
        "          - {plex_path: /data/movies, local_path: /mnt/a}\n"
    )
    _, diags = problems(tmp_path, registry, text)
    messages = " | ".join(d.message for d in diags)
    assert "is not an absolute path" in messages
    assert any(d.path == "$.sources[0].collections[0].path_mappings" for d in diags)  # the overlap


def test_missing_file(tmp_path, registry):
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "nope.yaml"), registry, {})
    assert "config file not found" in info.value.diagnostics[0].message


def test_shipped_schema_is_the_generated_one(registry):
    """schemas/retrovue.schema.json is generated from param_spec(): regenerate with
    `python -m retrovue.config.schema > schemas/retrovue.schema.json`."""
    shipped = json.loads((REPO / "src/retrovue/schemas/retrovue.schema.json").read_text())
    assert shipped == build_schema(registry)


def test_shipped_examples_validate(registry):
    for example in [
        REPO / "retrovue.yaml.example",
        REPO / "examples" / "quickstart" / "retrovue.yaml",
    ]:
        load_config(str(example), registry, {"PLEX_TOKEN": "x", "JELLYFIN_API_KEY": "y"})


def test_validate_command_json_lists_all_diagnostics(rv, tmp_path):
    path = write(
        tmp_path, "version: 2\nsources:\n  - {name: Lib, type: ftp, config: {}}\nextra: 1\n"
    )
    result = rv("validate", "-c", path, "--json")
    assert result.code == 1
    doc = result.json()
    assert doc["valid"] is False and doc["status"] == "error"
    assert len(doc["diagnostics"]) >= 3
    assert all(d["file"] == path and d["line"] for d in doc["diagnostics"])


def test_validate_json_does_not_repeat_the_diagnostics_on_stderr(rv, tmp_path):
    """Issue 19, item 19: `validate --json` printed each diagnostic on stderr as well."""
    path = write(tmp_path, "version: 2\nsources:\n  - {name: Lib, type: ftp, config: {}}\n")
    result = rv("validate", "-c", path, "--json")
    assert result.code == 1 and result.json()["diagnostics"]
    assert path not in result.err


def test_validate_command_human(rv, tmp_path):
    path = write(tmp_path, "version: 1\nsources: []\n")
    ok = rv("validate", "-c", path)
    assert (ok.code, ok.out) == (0, f"{path}: valid (0 sources)\n")
    bad = rv("validate", "-c", write(tmp_path, "version: 1\nsources: {}\n"))
    assert bad.code == 1 and bad.out == ""
    assert f"{path}:2:10" in bad.err and "Traceback" not in bad.err


def test_schema_messages_come_from_the_errors_fields_not_their_wording(tmp_path, registry):
    """Issue 18: the messages are built from what failed (the keyword, its schema value, the
    value at fault), so they stay the same whatever words jsonschema uses."""
    from jsonschema import ValidationError as SchemaError

    from retrovue.config.validate import _messages

    unknown = SchemaError(
        "Zusätzliche Eigenschaften sind nicht erlaubt",
        validator="additionalProperties",
        validator_value=False,
        instance={"name": "a", "zz": 1, "colour": 2},
        schema={"properties": {"name": {}}},
    )
    assert _messages(unknown) == ["unknown key ('colour', 'zz' were unexpected)"]
    missing = SchemaError(
        "ist erforderlich",
        validator="required",
        validator_value=["name", "type", "config"],
        instance={"type": "plex"},
    )
    assert _messages(missing) == ["'name' is required", "'config' is required"]


def test_every_missing_key_is_reported_once_in_order(tmp_path, registry):
    _, diags = problems(tmp_path, registry, "version: 1\nsources:\n  - {}\n")
    assert [d.message for d in diags] == [
        "'name' is required",
        "'type' is required",
        "'config' is required",
    ]
