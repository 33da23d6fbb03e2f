"""Real Plex upstreams (issue 19): responses captured from real servers, served by the fake.

The listings in ``tests/fixtures/plex/`` (sources in its README.md) hold shapes nobody here
wrote: a 2012 server whose multi-part films have Parts without ``id``, ``\\\\host\\share`` files
under ``//host/share`` Locations, a Windows server's ``M:\\`` drive with the versions Plex
optimized for mobile and TV, and a 2016 film in two real versions.  Every listed file ends as an
asset or as a counted, named skip reason.
"""

from __future__ import annotations

import yaml
from sqlalchemy import select

from retrovue.database.models import Asset
from tests.fakeplex import FakePlex, captured

TOKEN_ENV = "TEST_PLEX_TOKEN"


def write_config(tmp_path, plex: FakePlex, collections: list[dict], **plex_config) -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Real Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN_ENV + "}", **plex_config},
                "collections": collections,
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def synced(name: str, *mappings: tuple[str, object]) -> dict:
    return {
        "name": name,
        "sync": True,
        "path_mappings": [{"plex_path": p, "local_path": str(local)} for p, local in mappings],
    }


def env(plex: FakePlex) -> dict:
    return {TOKEN_ENV: plex.token}


def ingest_of(plan_json: dict) -> dict:
    (ingest,) = [a for a in plan_json["actions"] if a["kind"] == "ingest_collection"]
    return ingest


def stored_assets(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Asset.c.source_uri,
                Asset.c.canonical_uri,
                Asset.c.change_token,
                Asset.c.metadata,
                Asset.c.missing_since,
            )
        ).all()
    return {r.source_uri: r for r in rows}


def local_dirs(tmp_path, *names: str):
    made = []
    for name in names:
        path = tmp_path / "nas" / name
        path.mkdir(parents=True)
        made.append(path)
    return made


# ----- 4. a share is the same whichever slash spells it; a bare drive covers the drive ----------
def test_a_unc_mapping_covers_the_other_spelling(rv, db_url, engine, fake_plex, tmp_path):
    """The captured 2012 episode lives at ``\\\\GIMMICKY-SERVER\\Videos\\TV\\…``; the mapping
    is written ``//GIMMICKY-SERVER/Videos/TV`` (as that server spells its Locations)."""
    tv = fake_plex.add_section("2", "TV Shows", "show", ["\\\\GIMMICKY-SERVER\\Videos\\TV"])
    fake_plex.load_items(tv, captured("nweber-2012-episode.xml"))
    (local,) = local_dirs(tmp_path, "TV")
    config = write_config(
        tmp_path, fake_plex, [synced("TV Shows", ("//gimmicky-server/Videos/TV", local))]
    )
    planned = rv("plan", "-c", config, db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert "outside every location" not in planned.out + planned.err
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    (episode,) = stored_assets(engine).values()
    assert episode.canonical_uri == str(
        local
        / "Whose Line Is It Anyway"
        / "Season 1"
        / "Whose.Line.is.it.Anyway.US.01x01.(103).DVDRip-XviD-RA.avi"
    )


def ingestible_after(plan_json: dict) -> dict[str, bool]:
    return {
        a["collection"]["external_id"]: a["after"]
        for a in plan_json["actions"]
        if a["kind"] == "set_ingestible"
    }


def test_a_backslash_mapping_covers_a_forward_slash_location(rv, db_url, fake_plex, tmp_path):
    """The 2012 sections answer spells its Locations ``//MY-SERVER/Videos/…``."""
    fake_plex.load_sections(captured("nweber-2012-sections.xml"))
    (share,) = local_dirs(tmp_path, "share")
    (share / "Movies").mkdir()
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("\\\\my-server\\VIDEOS", share))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert ingestible_after(planned.json()) == {"1": True, "2": False}  # "3" is music


def test_a_bare_drive_mapping_covers_the_drive(rv, db_url, engine, fake_plex, tmp_path):
    """The Windows server's ``M:\\Media\\Movies``, mapped by its drive alone."""
    sections = fake_plex.load_sections(captured("plexopedia-2021-sections.xml"))
    fake_plex.load_items(sections[0], captured("plexopedia-2024-movies.xml"))
    (drive,) = local_dirs(tmp_path, "m")
    (drive / "Media" / "Movies").mkdir(parents=True)
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("M:", drive))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert ingestible_after(planned.json())["2"] is True
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    assert stored_assets(engine)["plex://1416"].canonical_uri == str(
        drive
        / "Media"
        / "Movies"
        / "Avatar (2009)"
        / "Avatar (2009) [1080p h.264][AAC DTS DTS-HD].mkv"
    )


# ----- 7. collection show prints a Location as text -----------------------------------------------
def test_collection_show_prints_a_windows_location_as_text(rv, db_url, fake_plex, tmp_path):
    fake_plex.load_sections(captured("plexopedia-2021-sections.xml"))
    config = write_config(tmp_path, fake_plex, [])
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    shown = rv("collection", "show", "Movies", db=db_url, env=env(fake_plex))
    assert shown.code == 0, shown.err
    assert "covers the Plex location(s) 'M:\\Media\\Movies'" in shown.out
    assert "M:\\\\Media" not in shown.out
