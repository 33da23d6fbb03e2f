"""Values longer than the columns hold give the same outcome on both backends (issue 9, item 11).

PostgreSQL refuses a value longer than its varchar(n), SQLite stores it: retrovue checks the
lengths the models declare before anything is written, so neither backend decides.
"""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, Collection, PathMapping, Source
from retrovue.model import limits

TOKEN_ENV = "TEST_PLEX_TOKEN"
LONG_TITLE = "A Very Long Section Title " * 12  # 312 characters


def _config(tmp_path, plex, local_movies) -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Den Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN_ENV + "}"},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [
                            {"plex_path": "/data/Movies", "local_path": str(local_movies)}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


@pytest.fixture
def library(fake_plex, tmp_path):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    for i in range(3):
        fake_plex.add_movie(movies, f"Film {i}", year=1990 + i)
    local_movies = tmp_path / "nas" / "Movies"
    local_movies.mkdir(parents=True)
    return fake_plex, movies, _config(tmp_path, fake_plex, local_movies)


def _stored(engine):
    with engine.connect() as conn:
        return (
            sorted(conn.execute(select(Collection.c.name)).scalars()),
            conn.execute(select(Asset.c.id)).all(),
        )


def test_a_300_character_plex_section_title_is_stored_shortened_on_both_backends(
    rv, db_url, engine, library
):
    """Issue 9, item 11 and issue 19, item 6: the long section is a collection on both backends
    (PostgreSQL used to fail the whole source, SQLite stored the title; then it was skipped,
    which dropped it from the text plan): its name is shortened to the 255 stored, with a
    marker, and the full title is kept in its config."""
    plex, _, config = library
    plex.add_section("2", LONG_TITLE, "show", ["/data/TV"])
    env = {TOKEN_ENV: plex.token}
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env)
    assert planned.code == 0, planned.err
    assert planned.json()["skipped_collections"] == []
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env)
    assert applied.code == 0, applied.err
    names, assets = _stored(engine)
    assert names == sorted(["Movies", limits.fitted_name(LONG_TITLE)]) and len(assets) == 3
    assert len(limits.fitted_name(LONG_TITLE)) == limits.NAME_MAX


def test_a_plex_location_too_long_for_a_path_mapping_is_skipped(rv, db_url, engine, library):
    """Issue 9, item 11: a section location becomes path_mappings.plex_path (1024 at most)."""
    plex, _, config = library
    plex.add_section("2", "TV", "show", ["/data/" + "d" * 1100])
    env = {TOKEN_ENV: plex.token}
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env)
    assert planned.code == 0, planned.err
    (skipped,) = planned.json()["skipped_collections"]
    assert skipped["name"] == "TV" and "more than the 1024 stored" in skipped["reason"]
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(PathMapping.c.upstream_path)).scalars().all() == ["/data/Movies"]


def test_an_item_whose_change_token_is_too_long_is_counted_unusable(rv, db_url, engine, library):
    """Issue 9, item 11: the item is counted and named, never written; the others are."""
    plex, movies, config = library
    movies.items[0].attrs["updatedAt"] = "9" * 300
    env = {TOKEN_ENV: plex.token}
    planned = rv("plan", "-c", config, db=db_url, env=env)
    assert planned.code == 0, planned.err
    assert "~ assets: +2 ~0 -0 =0, 0 duplicates; 1 unusable" in planned.out
    # named by its local path, as new files are (issue 19, item 5: it was the server's path)
    assert "skipped: change token longer than 255 characters (1, e.g. " in planned.out
    assert "e.g. /data/Movies/" not in planned.out and "/nas/Movies/Film 0" in planned.out
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env)
    assert applied.code == 0, applied.err
    assert len(_stored(engine)[1]) == 2


def test_declared_values_too_long_are_validate_errors_at_their_place(rv, tmp_path):
    """Issue 9, item 11: a declared collection name or path longer than its column is a
    validate error with file:line:column, before any database is opened."""
    path = tmp_path / "retrovue.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  - name: Den\n"
        "    type: plex\n"
        "    config: {base_url: 'http://plex:32400', token: t0k3n}\n"
        "    collections:\n"
        f"      - name: {'n' * 256}\n"
        "        path_mappings:\n"
        f"          - plex_path: /data\n"
        f"            local_path: /{'p' * 1024}\n"
    )
    result = rv("validate", "-c", str(path), "--json")
    assert result.code == 1
    where = {(d["line"], d["column"]): d["message"] for d in json.loads(result.out)["diagnostics"]}
    assert set(where) == {(7, 15), (10, 25)}
    assert all("is too long" in message for message in where.values())


def test_the_limits_are_the_lengths_the_models_declare():
    """Issue 9, item 11: one set of numbers; a model change without the checks fails here."""
    assert {
        Source.c.name.type.length,
        Source.c.external_id.type.length,
        Collection.c.name.type.length,
        Collection.c.external_id.type.length,
    } == {limits.NAME_MAX}
    assert {PathMapping.c.upstream_path.type.length, PathMapping.c.local_path.type.length} == {
        limits.PATH_MAX
    }
    assert Asset.c.change_token.type.length == limits.TOKEN_MAX


def test_fitted_name_keeps_short_names_and_marks_long_ones_distinctly():
    assert limits.fitted_name("x" * 255) == "x" * 255
    one, other = limits.fitted_name("x" * 300), limits.fitted_name("x" * 299 + "y")
    assert len(one) == len(other) == 255 and one != other
    assert one.startswith("x" * 240) and "…" in one[240:]


@pytest.mark.parametrize(
    "external_id, name, problem",
    [
        ("k", "x" * 255, None),
        ("k", "x" * 256, "name is 256 characters long, more than the 255 stored"),
        ("k" * 256, "x", "id is 256 characters long, more than the 255 stored"),
    ],
)
def test_collection_problem_counts_characters(external_id, name, problem):
    """Issue 9, item 11: the filesystem and Plex importers share this check (255 is allowed)."""
    assert limits.collection_problem(external_id, name) == problem
