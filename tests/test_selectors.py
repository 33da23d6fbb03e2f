"""The one selector resolver (contracts §0.5)."""

from __future__ import annotations

import uuid

import pytest

from retrovue.app.selectors import resolve_collection, resolve_source
from retrovue.errors import AmbiguousSelectorError, NotFoundError, UsageError
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
    # a source whose *name* is another's external_id: the external_id step wins
    return DbSnapshot(
        (
            _source("Plex", "plex-1", ("1", "Movies"), ("2", "TV")),
            _source("plex-1", "plex-2", ("1", "Movies")),
            _source("Straße", "fs-1", ("%", "100%")),
        )
    )


def test_uuid_then_external_id_then_name(snap):  # §0.5 steps 1-3
    a = snap.sources[0]
    assert resolve_source(snap, str(a.id)) is a
    assert resolve_source(snap, str(a.id).upper()) is a
    assert resolve_source(snap, "plex-1") is a  # external_id beats the name 'plex-1'
    assert resolve_source(snap, "PLEX") is a  # name, case-insensitive
    assert resolve_source(snap, "STRASSE") is snap.sources[2]  # Unicode casefold


def test_literal_matching(snap):  # §0.5 matching is literal
    with pytest.raises(NotFoundError):
        resolve_source(snap, "Pl%")
    with pytest.raises(NotFoundError) as exc:
        resolve_source(snap, "Pl*")
    assert exc.value.message == "Source 'Pl*' not found"
    _s, col = resolve_collection(snap, "%")
    assert col.name == "100%"


def test_ambiguous_collection(snap):  # §0.5 several rows
    with pytest.raises(AmbiguousSelectorError) as exc:
        resolve_collection(snap, "movies")
    err = exc.value
    assert err.message == "Multiple collections match 'movies'. Please specify the UUID."
    assert len(err.context["candidates"]) == 2
    assert set(err.context["candidates"][0]) == {"id", "name", "external_id"}
    with pytest.raises(AmbiguousSelectorError):
        resolve_collection(snap, "1")  # the same external_id under two sources


def test_blank(snap):  # §0.5 blank selector is a usage error
    with pytest.raises(UsageError) as exc:
        resolve_collection(snap, "  ")
    assert (
        exc.value.message
        == "Invalid collection ID format. Expected UUID, external ID, or collection name."
    )
    with pytest.raises(UsageError):
        resolve_source(snap, "")


def test_cli_ambiguous_source(rv, db_url, media):  # §0.5 through the CLI, both backends
    add_fs(rv, db_url, media, "Same", False)
    add_fs(rv, db_url, media, "same", False)
    r = rv("source", "show", "SAME", db=db_url)
    assert r.code == 1 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0] == "Error: Multiple sources match 'SAME'. Please specify the UUID."
    assert len(lines) == 3 and all(
        line.startswith("  ") and "(filesystem-" in line for line in lines[1:]
    )
    ids = [
        one_json(rv("source", "list", "--json", db=db_url).out)["sources"][i]["id"] for i in (0, 1)
    ]
    assert rv("source", "show", ids[0], db=db_url).code == 0
