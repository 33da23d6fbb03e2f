"""A served catalogue for the `retrovue serve` tests: a filesystem library applied into the
test's database, two assets made ready with facts for the histograms, one enrichment failure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from retrovue.database.tables import Asset, AssetEnrichment
from retrovue.web.app import create_app
from retrovue.web.settings import ServeSettings
from tests.helpers import fs_config, make_tree

BASE = "http://127.0.0.1:8765"
LAYOUT = {
    "movies": ["Heat (1995).mkv", "Alien (1979).mkv", "Brazil (1985).mkv"],
    "shows": ["Show/Show - S01E01.mkv"],
}


@dataclass
class Catalogue:
    db_url: str
    config: str
    ids: dict[str, str]  # title -> asset id
    movies: str  # collection ids
    shows: str


def build_catalogue(rv, db_url: str, engine, tmp_path) -> Catalogue:
    base = make_tree(tmp_path / "media", LAYOUT)
    config = fs_config(tmp_path / "r.yaml", base, {"movies": True, "shows": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:
        rows = conn.execute(select(Asset.c.id, Asset.c.title, Asset.c.collection_id)).all()
        ids = {r.title: str(r.id) for r in rows}
        cols = {r.title: str(r.collection_id) for r in rows}
        for title, minutes, lufs in (("Heat", 170, -23.0), ("Alien", 117, -16.5)):
            conn.execute(
                update(Asset)
                .where(Asset.c.title == title)
                .values(state="ready", duration_ms=minutes * 60_000, loudness_lufs=lufs)
            )
        brazil = conn.execute(select(Asset).where(Asset.c.title == "Brazil")).one()
        conn.execute(
            insert(AssetEnrichment).values(
                asset_id=brazil.id,
                enricher_type="ffprobe",
                collection_id=brazil.collection_id,
                version="1",
                change_token=brazil.change_token,
                error_code="PROBE_FAILED",
                error_message="not a media file",
                enriched_at=dt.datetime.now(dt.UTC),
            )
        )
    return Catalogue(db_url, str(config), ids, cols["Heat"], cols["Show"])


def client(catalogue: Catalogue | None = None, **settings) -> TestClient:
    if catalogue is not None:
        settings = {"db_url": catalogue.db_url, "config_file": catalogue.config, **settings}
    return TestClient(create_app(ServeSettings(**settings)), base_url=BASE)
