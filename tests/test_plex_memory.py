"""The Plex listing in bounded memory (issue 23): what it remembers of each item is small, and
still catches an item listed twice across pages (the server's paging moved under it)."""

from __future__ import annotations

import pytest

from retrovue.errors import ImporterResponseError
from retrovue.importers.plex import PlexImporter, _compact
from tests.fakeplex import FakePlex


def test_an_item_repeated_on_a_later_page_fails_the_listing(fake_plex: FakePlex):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    heat = fake_plex.add_movie(movies, "Heat", year=1995)
    fake_plex.add_movie(movies, "Alien", year=1979)
    movies.items.append(heat)  # the third item, on the second page, is the first again
    importer = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    importer.page_size = 2
    with pytest.raises(ImporterResponseError, match=f"item {heat.rating_key} listed twice"):
        list(importer.fetch_assets_for_collection("1"))


def test_rating_keys_are_remembered_as_numbers_only_when_they_read_back_the_same():
    assert _compact("123456") == 123456
    assert {_compact("7"), _compact("007"), _compact("7a"), _compact("")} == {7, "007", "7a", ""}
    assert _compact(None) is None
    assert _compact("1" * 30) == "1" * 30  # no huge ints from a hostile listing
    assert (_compact("\uff17"), _compact("\u00b2")) == ("\uff17", "\u00b2")  # not ASCII digits
