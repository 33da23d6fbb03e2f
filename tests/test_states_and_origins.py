"""Issue 18: an asset's lifecycle state, a source's origin and a source update's config fields
are spelled in one place each (model/), and written and read as the words they always were."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import select, update

from retrovue.app.asset_read import STATES
from retrovue.database.tables import Asset, Source
from retrovue.model.actions import CreateSource, FieldChange, SourceAddress
from retrovue.model.codec import decode_action, encode_action
from retrovue.model.enums import AssetState, SourceOrigin
from tests.helpers import make_tree

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"
PLAN_SCHEMA = json.loads((SRC / "schemas" / "plan.schema.json").read_text())
SOURCE = SourceAddress("Films", uuid.UUID("00000000-0000-4000-8000-000000000001"))


def test_the_asset_states_are_the_words_the_outputs_always_used():
    assert STATES == ("new", "enriching", "ready", "retired")
    assert [type(s) for s in STATES] == [str] * 4  # click matches and shows the words


def test_a_created_source_is_the_configs_unless_a_command_made_it():
    action = CreateSource(SOURCE, "filesystem", "fs-1", {"base_path": "/m"})
    assert action.origin is SourceOrigin.CONFIG
    document = encode_action(action)
    assert document["origin"] == "config"
    assert decode_action({**document, "origin": "cli"}).origin is SourceOrigin.CLI


def test_the_plan_schema_names_the_origins():
    """A saved plan may carry no other origin: prune safety rests on it."""
    action = {"$ref": "#/$defs/action", "$defs": PLAN_SCHEMA["$defs"]}
    document = encode_action(CreateSource(SOURCE, "filesystem", "fs-1", {"base_path": "/m"}))
    jsonschema.validate({**document, "origin": "cli"}, action)
    with pytest.raises(jsonschema.ValidationError, match="'anything' is not one of"):
        jsonschema.validate({**document, "origin": "anything"}, action)


def test_a_config_field_is_named_and_read_by_one_helper():
    change = FieldChange.of_config("token", None, "x", sensitive=True)
    assert change.field == "config.token" and change.config_key == "token"
    assert FieldChange("name", "a", "b").config_key is None


def _apply(rv, db_url, tmp_path, names: list[str]) -> Path:
    media = make_tree(tmp_path / "m", {"movies": ["Heat (1995).mkv"]})
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(media)},
                "collections": [{"name": "movies", "sync": True}],
            }
            for name in names
        ],
    }
    path = tmp_path / f"{len(names)}.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert rv("apply", "-c", str(path), "--auto-approve", db=db_url).code == 0
    return path


def test_states_and_origins_are_stored_as_their_words(rv, db_url, engine, tmp_path):
    _apply(rv, db_url, tmp_path, ["A"])
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.origin)).scalar_one() == "config"
        assert set(conn.execute(select(Asset.c.state)).scalars()) == {AssetState.NEW.value}


def test_a_hand_written_origin_is_read_and_never_pruned(rv, db_url, engine, tmp_path):
    _apply(rv, db_url, tmp_path, ["A", "B"])
    with engine.begin() as conn:
        conn.execute(update(Source).where(Source.c.name == "B").values(origin="manual"))
    only_a = _apply(rv, db_url, tmp_path / "again", ["A"])
    pruned = rv("apply", "-c", str(only_a), "--prune", "--auto-approve", db=db_url)
    assert pruned.code == 0, pruned.err
    assert rv("source", "list", db=db_url).code == 0
    with engine.connect() as conn:
        assert set(conn.execute(select(Source.c.name)).scalars()) == {"A", "B"}
