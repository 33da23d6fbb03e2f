"""Collections selected by the address the plan prints, and no silent cross-source picks."""

from __future__ import annotations

import uuid

import pytest

from retrovue.app.selectors import resolve_collection
from retrovue.errors import AmbiguousSelectorError, NotFoundError
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource
from tests.imperative_helpers import add_fs, media_fixture, one_json  # noqa: F401


def _source(name, external_id, *collections):
    sid = uuid.uuid4()
    cols = tuple(
        DbCollection(uuid.uuid4(), sid, ext, cname, False, False, None, (), ())
        for ext, cname in collections
    )
    return DbSource(sid, external_id, name, "filesystem", {}, "cli", cols)


@pytest.fixture
def snap():
    # a filesystem collection's external_id is its folder name; a Plex one's is a number
    return DbSnapshot(
        (
            _source("Home NAS", "plex-1", ("1", "Movies"), ("2", "TV/Kids")),
            _source("Files", "filesystem-1", ("movies", "movies"), ("tv", "tv")),
        )
    )


def test_plan_address_quoted_and_bare(snap):
    """issue 10: `"Home NAS"/"Movies"` (as the plan prints it) and `Home NAS/Movies` select."""
    nas, files = snap.sources
    assert resolve_collection(snap, '"Home NAS"/"Movies"') == (nas, nas.collections[0])
    assert resolve_collection(snap, "home nas/MOVIES") == (nas, nas.collections[0])
    assert resolve_collection(snap, "Files/movies") == (files, files.collections[0])
    assert resolve_collection(snap, "plex-1/1") == (nas, nas.collections[0])  # external ids
    # a Plex name holding a slash still resolves, bare or quoted
    assert resolve_collection(snap, "Home NAS/TV/Kids")[1].name == "TV/Kids"
    assert resolve_collection(snap, '"Home NAS"/"TV/Kids"')[1].name == "TV/Kids"
    with pytest.raises(NotFoundError):
        resolve_collection(snap, '"Files"/"Movies 2"')


def test_no_silent_cross_source_pick(snap):
    """issue 10: `movies` is one source's external_id and another's name: ambiguous, with the
    address of each candidate on its hint line."""
    with pytest.raises(AmbiguousSelectorError) as exc:
        resolve_collection(snap, "movies")
    err = exc.value
    assert len(err.context["candidates"]) == 2
    assert '"Home NAS"/"Movies"' in err.hint and '"Files"/"movies"' in err.hint
    # within one source the external_id still comes before the name
    tv = resolve_collection(snap, "tv")
    assert tv[1].external_id == "tv"


def test_cli_address(rv, db_url, media):
    """issue 10: `collection show SOURCE/COLLECTION` through the CLI, both backends."""
    add_fs(rv, db_url, media, "A")
    add_fs(rv, db_url, media, "B")
    r = rv("collection", "show", '"B"/"Movies"', "--json", db=db_url)
    assert r.code == 0, r.err
    assert one_json(r.out)["name"] == "Movies"
    r = rv("collection", "show", "Movies", db=db_url)
    assert r.code == 1 and '"A"/"Movies"' in r.err and '"B"/"Movies"' in r.err
