"""`retrovue export`: the YAML it prints describes the database, so `plan` with it shows no changes."""

from __future__ import annotations

import uuid

import yaml
from sqlalchemy import insert, select, update

from retrovue.app.export import env_var_name, what_to_export
from retrovue.database.tables import Collection, PathMapping, Source, utcnow
from retrovue.importers.registry import load_registry
from retrovue.model.snapshots import DbSnapshot, DbSource
from retrovue.render.export import export_yaml
from tests.helpers import fs_config, make_tree

TOKEN_VAR = "LIVING_ROOM_PLEX_TOKEN"


def _no_changes(rv, db_url, path, env=None) -> None:
    result = rv("plan", "-c", str(path), "--detailed-exitcode", db=db_url, env=env)
    assert result.code == 0, result.out + result.err
    assert result.out.strip().endswith("No changes.")


def test_round_trip_of_an_imperatively_changed_filesystem_setup(rv, db_url, engine, tmp_path):
    media = make_tree(
        tmp_path / "mé dia $HOME", {"movies": ["Heat (1995).mkv"], "shows": [], "ads": []}
    )
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}, name='Quoted "Lib" #1')
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:  # drift made outside the config: a `collection update`
        conn.execute(
            update(Collection).where(Collection.c.name == "shows").values(sync_enabled=True)
        )
    exported = rv("export", db=db_url)
    assert exported.code == 0, exported.err
    path = tmp_path / "exported.yaml"
    path.write_text(exported.out)
    doc = yaml.safe_load(exported.out)
    (source,) = doc["sources"]
    assert source["name"] == 'Quoted "Lib" #1' and source["type"] == "filesystem"
    assert {c["name"]: c["sync"] for c in source["collections"]} == {
        "ads": False,
        "movies": True,
        "shows": True,
    }
    assert rv("validate", "-c", str(path), db=db_url).code == 0
    _no_changes(rv, db_url, path)


def test_round_trip_of_plex_with_secret_and_path_mappings(rv, db_url, engine, tmp_path, fake_plex):
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies", "/data/More"])
    fake_plex.add_movie(section, "Heat", year=1995)
    fake_plex.add_section("2", "TV", "show", ["/data/TV"])
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Living Room Plex",
                "type": "plex",
                "config": {"base_url": fake_plex.url, "token": "${PLEX_TOKEN}"},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    cfg = tmp_path / "retrovue.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    assert (
        rv(
            "apply",
            "-c",
            str(cfg),
            "--auto-approve",
            db=db_url,
            env={"PLEX_TOKEN": fake_plex.token},
        ).code
        == 0
    )
    exported = rv("export", db=db_url)
    assert exported.code == 0, exported.err
    assert fake_plex.token not in exported.out + exported.err
    # stored as its reference (issue 9, item 12), so exported as that same reference
    assert 'token: "${PLEX_TOKEN}"' in exported.out
    assert "# secret: set PLEX_TOKEN to this source's token" in exported.out
    assert "PLEX_TOKEN" in exported.err  # the operator is told on stderr too
    path = tmp_path / "exported.yaml"
    path.write_text(exported.out)
    source = yaml.safe_load(exported.out)["sources"][0]
    movies = next(c for c in source["collections"] if c["name"] == "Movies")
    assert movies["path_mappings"] == [{"plex_path": "/data/Movies", "local_path": str(local)}]
    assert rv("plan", "-c", str(path), db=db_url).code == 1  # the variable must be set
    _no_changes(rv, db_url, path, env={"PLEX_TOKEN": fake_plex.token})


def test_imperative_source_is_adopted_and_only_selected_sources_exported(
    rv, db_url, engine, tmp_path
):
    media = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"]})
    other = make_tree(tmp_path / "other", {"clips": []})
    now = utcnow()
    with engine.begin() as conn:  # as `source add` would have stored them
        for name, base, coll in (("Imported", media, "movies"), ("Other", other, "clips")):
            sid, cid = uuid.uuid4(), uuid.uuid4()
            conn.execute(
                insert(Source).values(
                    id=sid,
                    external_id=f"filesystem-{name.lower()}",
                    name=name,
                    type="filesystem",
                    config={"base_path": str(base)},
                    origin="cli",
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                insert(Collection).values(
                    id=cid,
                    source_id=sid,
                    external_id=coll,
                    name=coll,
                    sync_enabled=True,
                    ingestible=True,
                    locations=[str(base / coll)],
                    created_at=now,
                    updated_at=now,
                )
            )
    exported = rv("export", "--source", "imported", db=db_url)
    assert exported.code == 0, exported.err
    doc = yaml.safe_load(exported.out)
    assert [s["name"] for s in doc["sources"]] == ["Imported"]
    assert doc["sources"][0]["external_id"] == "filesystem-imported"
    path = tmp_path / "adopted.yaml"
    path.write_text(exported.out)
    result = rv("plan", "-c", str(path), db=db_url)
    assert "will be created" not in result.out and "will be updated" not in result.out
    assert "+1 ~0 -0 =0" in result.out  # adopted: only the pending ingest remains
    assert rv("export", "--source", "nope", db=db_url).code == 1


def test_empty_database_and_json(rv, db_url):
    result = rv("export", "--json", db=db_url)
    assert result.code == 0
    doc = result.json()
    assert yaml.safe_load(doc["yaml"]) == {"version": 1, "sources": []} and doc["variables"] == []


def test_env_var_names_and_unknown_importer_keeps_secrets_out():
    assert env_var_name("Living Room Plex", "token") == "LIVING_ROOM_PLEX_TOKEN"
    assert env_var_name("4K / HDR", "api_key") == "RV_4K_HDR_API_KEY"
    snapshot = DbSnapshot(
        (
            DbSource(
                uuid.uuid4(),
                "jf-1",
                "Jelly",
                "kodi",
                {"url": "http://j", "api_key": "k3y-v4lue"},
                "cli",
            ),
        )
    )
    text = export_yaml(what_to_export(snapshot, load_registry(include_plugins=False)))
    assert "k3y-v4lue" not in text and "${JELLY_API_KEY}" in text
    assert "is not loaded here" in text


def test_dollar_signs_survive_the_round_trip(rv, db_url, engine, tmp_path):
    base = make_tree(tmp_path / "price $5 ${X}", {"movies": []})
    cfg = tmp_path / "retrovue.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "Dollar",
                        "type": "filesystem",
                        "config": {"base_path": str(base).replace("$", "$$")},
                    }
                ],
            }
        )
    )
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.config)).scalar_one()["base_path"] == str(base)
    path = tmp_path / "exported.yaml"
    path.write_text(rv("export", db=db_url).out)
    _no_changes(rv, db_url, path)


def test_unmapped_locations_are_left_to_discovery(engine, db_url):
    """Only mappings with a local_path are declared; NULL ones come back from discovery."""
    now = utcnow()
    sid, cid = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid,
                external_id="plex-1",
                name="P",
                type="plex",
                config={"base_url": "http://p", "token": "t0k3n"},
                origin="cli",
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(Collection).values(
                id=cid,
                source_id=sid,
                external_id="1",
                name="Movies",
                sync_enabled=False,
                ingestible=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(PathMapping),
            [
                {
                    "id": uuid.uuid4(),
                    "collection_id": cid,
                    "upstream_path": "/a",  # the column key (its name stays plex_path)
                    "local_path": "/mnt/a",
                    "created_at": now,
                    "updated_at": now,
                },
                {
                    "id": uuid.uuid4(),
                    "collection_id": cid,
                    "upstream_path": "/b",
                    "local_path": None,
                    "created_at": now,
                    "updated_at": now,
                },
            ],
        )
    from retrovue.observe.db import load_snapshot

    with engine.connect() as conn:
        text = export_yaml(
            what_to_export(load_snapshot(conn), load_registry(include_plugins=False))
        )
    movies = yaml.safe_load(text)["sources"][0]["collections"][0]
    assert movies["path_mappings"] == [{"plex_path": "/a", "local_path": "/mnt/a"}]
    assert "t0k3n" not in text
