"""The bulk insert path writes exactly what SQLAlchemy itself would write, on both backends."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from retrovue.database.models import Asset, Collection, Source
from retrovue.execute.bulk import insert_new_assets
from retrovue.importers.base import UpstreamAsset


def test_bulk_rows_read_back_like_core_rows(engine):
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    sid, cid = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid, external_id="s", name="s", type="filesystem", origin="cli"
            )
        )
        conn.execute(insert(Collection).values(id=cid, source_id=sid, external_id="c", name="c"))
        item = UpstreamAsset(
            source_uri="file:///m/a%20b.mkv",
            path="/m/a b.mkv",
            size=7,
            change_token="1:7",
            kind="episode",
            title="T",
            series_title="S",
            season_number=1,
            episode_number=2,
            year=None,
            duration_ms=1234,
            metadata={"k": "v"},
        )
        insert_new_assets(conn, cid, [(item, "/m/a b.mkv")], now)
    with Session(engine) as session:
        asset = session.execute(select(Asset)).scalar_one()
        assert isinstance(asset.id, uuid.UUID) and asset.collection_id == cid
        assert (asset.source_uri, asset.canonical_uri, asset.size, asset.change_token) == (
            "file:///m/a%20b.mkv",
            "/m/a b.mkv",
            7,
            "1:7",
        )
        assert (asset.state, asset.approved_for_broadcast, asset.missing_since) == (
            "new",
            False,
            None,
        )
        assert asset.metadata_ == {"k": "v"}
        assert asset.created_at.replace(tzinfo=UTC) == now
        # the ORM finds it by its id, so the stored id format is the ORM's own
        assert session.get(Asset, asset.id) is asset
