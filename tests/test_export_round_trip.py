"""Issue 10: `retrovue export` plans cleanly from every state the database can be in.

Each test brings the database into a state through the commands an operator uses (apply, the
imperative commands, changes upstream), exports it and plans the exported file: no changes, exit
0 with ``--detailed-exitcode``.  Notes that change nothing (a collection the upstream no longer
offers) may be shown; they are not changes.
"""

from __future__ import annotations

import shutil

import yaml

from tests.helpers import fs_config, make_tree

TOKEN = "PLEX_TOKEN"
#: an exported Plex token is a ${VAR}: the stored reference, or a name derived from the source
EXPORT_ENV_NAMES = (TOKEN, "LIVING_ROOM_PLEX_TOKEN")


def _export_and_plan(rv, db_url, tmp_path, env=None):
    exported = rv("export", db=db_url, env=env)
    assert exported.code == 0, exported.err
    path = tmp_path / "exported.yaml"
    path.write_text(exported.out)
    planned = rv("plan", "-c", str(path), "--detailed-exitcode", db=db_url, env=env)
    assert planned.code == 0, planned.out + planned.err
    return exported, planned


def _summary(planned) -> str:
    return planned.out.strip().splitlines()[-1]


def test_collection_removed_upstream_still_plans(rv, db_url, tmp_path):
    """issue 10: export after a collection disappeared upstream plans cleanly (it used to fail
    with "declared collection … is not offered upstream")."""
    media = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"], "TV Shows": []})
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True, "TV Shows": True})
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    shutil.rmtree(media / "TV Shows")
    exported, planned = _export_and_plan(rv, db_url, tmp_path)
    assert "TV Shows" in exported.out  # the database still holds it: export says so
    assert 'collection "TV Shows" is no longer offered upstream' in planned.out
    assert _summary(planned) == "No changes. 1 warning."


def test_collection_renamed_upstream_and_rediscovered(rv, db_url, tmp_path):
    """issue 10: a folder renamed upstream, picked up by `source discover` and enabled by
    `collection update`: the export pins both the new collection and the vanished one."""
    media = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"], "shows": ["a.mkv"]})
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    (media / "shows").rename(media / "series")
    assert rv("source", "discover", "Library", db=db_url).code == 0
    assert rv("collection", "update", "series", "--sync-enable", db=db_url).code == 0
    assert rv("collection", "ingest", "series", db=db_url).code == 0
    _, planned = _export_and_plan(rv, db_url, tmp_path)
    assert _summary(planned) == "No changes. 1 warning."


def test_imperative_source_and_collection_changes(rv, db_url, tmp_path):
    """issue 10: a source renamed and reconfigured with `source update`, a collection disabled
    with `collection update`: the export plans as no change."""
    media = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"], "ads": []})
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    updated = rv(
        "source", "update", "Library", "--name", "Media", "--extensions", "mkv,mp4", db=db_url
    )
    assert updated.code == 0, updated.err
    assert rv("collection", "update", "movies", "--sync-disable", db=db_url).code == 0
    exported, planned = _export_and_plan(rv, db_url, tmp_path)
    source = yaml.safe_load(exported.out)["sources"][0]
    assert source["name"] == "Media" and source["config"]["extensions"] == ["mkv", "mp4"]
    assert _summary(planned) == "No changes."


def _plex_config(tmp_path, plex, collections) -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Living Room Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN + "}"},
                "collections": collections,
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_plex_renames_removals_and_mapping_edits(rv, db_url, tmp_path, fake_plex):
    """issue 10: a section renamed and another deleted upstream, a mapped location gone from a
    section (its row stays in the database) and a mapping's local path edited with `collection
    update`: the export still plans as no change."""
    nas = tmp_path / "nas"
    for name in ("Movies", "More", "Other"):
        (nas / name).mkdir(parents=True)
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies", "/data/More"])
    fake_plex.add_movie(movies, "Heat", year=1995)
    fake_plex.add_section("2", "TV", "show", ["/data/TV"])
    env = {name: fake_plex.token for name in EXPORT_ENV_NAMES}
    cfg = _plex_config(
        tmp_path,
        fake_plex,
        [
            {
                "name": "Movies",
                "sync": True,
                "path_mappings": [
                    {"plex_path": "/data/Movies", "local_path": str(nas / "Movies")},
                    {"plex_path": "/data/More", "local_path": str(nas / "More")},
                ],
            }
        ],
    )
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url, env=env).code == 0
    movies.title = "Films"
    movies.locations = ["/data/Movies"]
    del fake_plex.sections["2"]
    followed = rv("apply", "-c", cfg, "--auto-approve", db=db_url, env=env)
    assert followed.code == 0, followed.out + followed.err
    edited = rv(
        "collection",
        "update",
        "Films",
        "--path-mapping",
        str(nas / "Other"),
        "--path-mapping-plex",
        "/data/Movies",
        db=db_url,
        env=env,
    )
    assert edited.code == 0, edited.err
    assert rv("collection", "ingest", "Films", db=db_url, env=env).code == 0
    exported, planned = _export_and_plan(rv, db_url, tmp_path, env=env)
    films, tv = yaml.safe_load(exported.out)["sources"][0]["collections"]
    assert (films["name"], tv["name"]) == ("Films", "TV")
    assert {m["plex_path"]: m["local_path"] for m in films["path_mappings"]} == {
        "/data/Movies": str(nas / "Other"),
        "/data/More": str(nas / "More"),
    }
    assert 'collection "TV" is no longer offered upstream' in planned.out
    assert "path mapping" not in planned.out
    assert _summary(planned) == "No changes. 1 warning."


def test_export_says_it_cannot_know_missing_threshold(rv, db_url, tmp_path):
    """issue 10: the database stores no missing_threshold, so export cannot give one back; the
    exported file says so instead of dropping it silently."""
    media = make_tree(tmp_path / "media", {"movies": []})
    cfg = tmp_path / "retrovue.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "missing_threshold": 0.5,
                "sources": [
                    {
                        "name": "Library",
                        "type": "filesystem",
                        "config": {"base_path": str(media)},
                        "collections": [{"name": "movies", "sync": True, "missing_threshold": 0.1}],
                    }
                ],
            }
        )
    )
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    exported, planned = _export_and_plan(rv, db_url, tmp_path)
    assert "missing_threshold is not stored in the database" in exported.out
    assert "missing_threshold:" not in exported.out
    assert _summary(planned) == "No changes."


def test_enricher_attachments_round_trip(rv, db_url, tmp_path):
    """issue 11: declarative: export writes the stored enrichers, declared or attached with
    `source attach-enricher` (a bare type for the defaults, a mapping otherwise), where they are
    attached, and the exported file plans as no change."""
    from tests.media import write_av

    media = tmp_path / "media"
    (media / "movies").mkdir(parents=True)
    (media / "ads").mkdir()
    write_av(media / "movies" / "Heat (1995).mp4", seconds=0.2)
    cfg = tmp_path / "retrovue.yaml"
    loudness = {"type": "loudness", "priority": 5, "params": {"true_peak": False}}
    cfg.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "Library",
                        "type": "filesystem",
                        "config": {"base_path": str(media)},
                        "enrichers": ["ffprobe"],
                        "collections": [
                            {"name": "movies", "sync": True, "enrichers": [loudness]},
                            {"name": "ads", "sync": False},
                        ],
                    }
                ],
            }
        )
    )
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    attached = rv("source", "attach-enricher", "Library", "loudness", "--priority", "3", db=db_url)
    assert attached.code == 0, attached.err
    exported, planned = _export_and_plan(rv, db_url, tmp_path)
    source = yaml.safe_load(exported.out)["sources"][0]
    assert source["enrichers"] == ["ffprobe", {"type": "loudness", "priority": 3}]
    movies, ads = sorted(source["collections"], key=lambda c: c["name"], reverse=True)
    assert movies["enrichers"] == [loudness]
    assert "enrichers" not in ads  # nothing attached to it: left unmanaged
    assert _summary(planned) == "No changes."
