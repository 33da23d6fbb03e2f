"""Issue 22: the server-rendered pages (usable without JavaScript): what they show, that their
forms write only with the session's CSRF token, that hostile names are escaped and that a
browser signs in with a token."""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from sqlalchemy import select, update

from retrovue.database.tables import Asset, Collection, Source
from tests.helpers import fs_config, make_tree
from tests.serve_helpers import build_catalogue, client

RW = "rw-token-0123456789abcdef"


@pytest.fixture
def cat(rv, db_url, engine, tmp_path):
    return build_catalogue(rv, db_url, engine, tmp_path)


@pytest.fixture
def web(cat):
    with client(cat) as c:
        yield c


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def conn_id(engine):
    with engine.connect() as conn:
        return conn.execute(select(Asset.c.id)).scalar_one()


def _approved(engine, asset_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(
            select(Asset.c.approved_for_broadcast).where(Asset.c.id == uuid.UUID(asset_id))
        ).scalar_one()


def test_the_dashboard_shows_each_collection_with_its_counts_and_last_run(web):
    page = web.get("/").text
    assert "Library" in page and ">movies</a>" in page and ">shows</a>" in page
    assert 'class="num bad">1<' in page  # movies: one failed enrichment
    assert "run-ok" in page


def test_the_collection_page_filters_counts_plots_and_lists_failures(web, cat):
    page = web.get(f"/collections/{cat.movies}").text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="histogram"') == 2
    assert 'id="count-ready">2<' in page and 'id="count-new">1<' in page
    assert "PROBE_FAILED" in page and "not a media file" in page
    assert all(title in page for title in ("Heat", "Alien", "Brazil"))
    filtered = web.get(f"/collections/{cat.movies}", params={"q": "hea"}).text
    assert "Heat" in filtered.split("<h2>Assets</h2>")[1].split("<h2>Enrichment")[0]
    table = filtered.split('<table class="assets">')[1].split("</table>")[0]
    assert "Heat" in table and "Alien" not in table
    ready = web.get(f"/collections/{cat.movies}", params={"state": "ready"}).text
    table = ready.split('<table class="assets">')[1].split("</table>")[0]
    assert "Brazil" not in table and "Alien" in table


def test_the_collection_page_links_the_next_page(web, cat):
    page = web.get(f"/collections/{cat.movies}", params={"limit": 2}).text
    href = re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
    rest = web.get(href + "&limit=2").text
    table = rest.split('<table class="assets">')[1].split("</table>")[0]
    assert table.count('name="asset_ids"') == 1


def test_the_asset_runs_and_plan_pages(web, cat, rv):
    asset = web.get(f"/assets/{cat.ids['Heat']}").text
    assert "10200000" in asset and "-23.0" in asset  # duration_ms and loudness facts
    runs = web.get("/runs").text
    assert runs.count('class="run-ok"') == 2
    plan = web.get("/plan").text
    printed = rv("plan", "-c", cat.config, "--detail", "--no-color", db=cat.db_url).out
    first = printed.strip().splitlines()[0]
    assert first.replace('"', "&#34;") in plan


def test_a_form_writes_only_with_the_sessions_csrf_token(web, cat, engine):
    heat = cat.ids["Heat"]
    page = web.get(f"/assets/{heat}").text
    refused = web.post(f"/assets/{heat}/approval", data={"action": "approve", "csrf": "forged"})
    assert refused.status_code == 403 and not _approved(engine, heat)
    done = web.post(
        f"/assets/{heat}/approval",
        data={"action": "approve", "csrf": _csrf(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and _approved(engine, heat)
    assert 'id="approved">yes<' in web.get(f"/assets/{heat}").text


def test_a_form_of_another_site_is_refused_even_with_a_token(web, cat, engine):
    heat = cat.ids["Heat"]
    csrf = _csrf(web.get(f"/assets/{heat}").text)
    response = web.post(
        f"/assets/{heat}/approval",
        data={"action": "approve", "csrf": csrf},
        headers={"origin": "http://evil.example"},
    )
    assert response.status_code == 403 and not _approved(engine, heat)


def test_approving_several_from_the_collection_page(web, cat, engine):
    page = web.get(f"/collections/{cat.movies}").text
    data = {
        "csrf": _csrf(page),
        "action": "approve",
        "asset_ids": [cat.ids["Heat"], cat.ids["Alien"]],
    }
    assert web.post(f"/collections/{cat.movies}/approval", data=data).status_code == 200
    assert _approved(engine, cat.ids["Heat"]) and _approved(engine, cat.ids["Alien"])
    # an asset of another collection, posted to this one's form, is refused
    data["asset_ids"] = [cat.ids["Show"]]
    crafted = web.post(f"/collections/{cat.movies}/approval", data=data)
    assert crafted.status_code == 404


def test_hostile_names_are_escaped(rv, db_url, engine, tmp_path):
    name = "<img src=x onerror=alert(1)>\u202egpj.exe\x1b[31m"
    base = make_tree(tmp_path / "media", {name: [f"{name}.mkv"]})
    config = fs_config(tmp_path / "r.yaml", base, {name: True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:  # a media server's title may be longer than a file's name
        conn.execute(update(Asset).values(title=name + "x" * 280))
        cid = conn.execute(select(Collection.c.id)).scalar_one()
    aid = str(conn_id(engine))
    with client(db_url=db_url) as c:
        for path in ("/", "/runs", f"/collections/{cid}", f"/assets/{aid}"):
            page = c.get(path).text
            assert "<img" not in page and "\u202e" not in page and "\x1b" not in page
            assert "&lt;img src=x onerror=alert(1)&gt;" in page and "\\u202e" in page


def test_a_browser_signs_in_with_a_token(cat):
    with client(cat, token=RW) as c:
        refused = c.get("/", headers={"accept": "text/html"})
        assert refused.status_code == 401 and "UNAUTHORIZED" in refused.text
        login = c.get("/login").text
        bad = c.post("/login", data={"token": "x" * 20, "csrf": _csrf(login)})
        assert bad.status_code == 401
        ok = c.post("/login", data={"token": RW, "csrf": _csrf(login)}, follow_redirects=False)
        assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
        assert c.get("/").status_code == 200


def test_a_collection_of_a_source_with_an_invalid_stored_config_still_shows_its_assets(
    web, cat, engine
):
    """A stored config no importer accepts (edited by hand, or by an older retrovue) fails the
    collection's ingestible check; the page still lists the stored assets, and says why."""
    with engine.begin() as conn:
        conn.execute(update(Source).values(config={"no_such_param": "x"}))
    page = web.get(f"/collections/{cat.movies}")
    assert page.status_code == 200
    error = re.search(r'id="config-error"[^>]*>(.*?)</p>', page.text, re.S).group(1)
    assert "stored config of Library is invalid" in error and "no_such_param" in error
    assert all(title in page.text for title in ("Heat", "Alien", "Brazil"))
    assert 'id="count-ready">2<' in page.text
    shown = web.get(f"/api/v1/collections/{cat.movies}").json()
    assert "no_such_param" in shown["config_error"] and shown["states"] == {"new": 1, "ready": 2}


def test_a_collection_of_a_source_with_a_valid_config_shows_no_config_error(web, cat):
    assert 'id="config-error"' not in web.get(f"/collections/{cat.movies}").text
    assert web.get(f"/api/v1/collections/{cat.movies}").json()["config_error"] is None


def _drift(page: str) -> str:
    return re.search(r'data-drift="([^"]+)">(.*?)</p>', page, re.S).group(0)


def test_the_dashboard_shows_each_sources_drift_from_the_config_without_asking_upstream(
    web, cat, engine, tmp_path
):
    """In line right after apply; a stored change the config does not declare (sync turned off,
    the base path edited by hand) shows as drift, read from the database alone: the media
    folder is gone, so a plan (which lists it) could not even run."""
    page = web.get("/").text
    assert 'data-drift="in line"' in _drift(page) and "the plan</a> tells both" in page
    assert cat.config in re.search(r'id="drift-note">(.*?)</p>', page, re.S).group(1)
    assert "Last reconcile: <span" in page  # apply's run: upstream news shows there
    with engine.begin() as conn:
        conn.execute(
            update(Collection).where(Collection.c.name == "movies").values(sync_enabled=False)
        )
        conn.execute(update(Source).values(config={"base_path": "/elsewhere"}))
    shutil.rmtree(tmp_path / "media")
    drift = _drift(web.get("/").text)
    assert 'data-drift="drifted"' in drift
    assert "config.base_path differs" in drift and "/elsewhere" not in drift
    assert "collection &#39;movies&#39;: sync on declared, off stored" in drift
    source = web.get("/api/v1/overview").json()["sources"][0]
    assert source["drift"]["state"] == "drifted" and len(source["drift"]["details"]) == 2
    assert source["last_reconcile"]["outcome"] == "ok"


def test_a_source_the_config_does_not_declare_and_one_not_stored_yet(cat, tmp_path):
    other = fs_config(tmp_path / "other.yaml", tmp_path, {}, name="Archive")
    with client(cat, config_file=str(other)) as c:
        page = c.get("/").text
        assert 'data-drift="undeclared"' in _drift(page) and "not declared in the config" in page
        assert re.search(r'id="declared-only">.*Archive', page, re.S)
        assert c.get("/api/v1/overview").json()["declared_only"] == ["Archive"]


def test_without_a_readable_config_the_drift_is_unknown_and_says_why(cat, tmp_path):
    missing = str(tmp_path / "nowhere.yaml")
    with client(cat, config_file=missing) as c:
        drift = _drift(c.get("/").text)
        assert 'data-drift="unknown"' in drift and "config file not found" in drift
