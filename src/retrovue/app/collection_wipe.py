"""`collection wipe`: delete every asset of a collection in one unit; its row, flags, path
mappings and run history stay, and its last ingest time is cleared so the next ingest starts fresh.

A collection with an aired asset is protected; only a test database run with --force may wipe it.
Wiping works whatever the collection's flags, even when its importer is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_collection
from retrovue.errors import ProductionSafetyError, rolled_back, safety_reason
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe.reader import DbReader
from retrovue.plan import imperative as build


@dataclass(frozen=True)
class Wipe:
    source: DbSource
    collection: DbCollection
    assets: int
    aired: int
    override: bool  # a test database run with --force: aired assets do not protect
    plan: Plan
    dry_run: bool

    @property
    def protected(self) -> bool:
        return bool(self.aired) and not self.override

    @property
    def reason(self) -> str:
        return safety_reason(self.aired)


def plan_wipe(ctx: Context, selector: str, *, force: bool, dry_run: bool) -> Wipe:
    """The wipe and its counts; a protected collection is refused here (a dry run only shows it)."""
    with ctx.reading() as conn:
        reader = DbReader(conn)
        snapshot = reader.snapshot()
        ctx.learn_secrets(snapshot)
        source, col = resolve_collection(snapshot, selector)
        assets, aired = build.wipe_counts(reader, col)
    override = ctx.test_db and force
    plan = Plan((build.wipe_action(source, col, assets, override and aired > 0),))
    wipe = Wipe(source, col, assets, aired, override, plan, dry_run)
    if wipe.protected and not dry_run:
        raise ProductionSafetyError(
            f"Collection '{col.name}' was not wiped: {wipe.reason}",
            context={"collection_id": str(col.id), "aired_assets": aired},
        )
    return wipe


def wipe_collection(ctx: Context, wipe: Wipe) -> Wipe:
    """Run a planned wipe.  Safety is judged again inside the unit: an asset may have aired since."""
    col = wipe.collection
    result = ctx.run(wipe.plan, f"collection wipe {col.id}")
    failed = next((s for s in result.sources if not s.ok), None)
    if failed is None:
        return wipe
    if isinstance(failed.error, ProductionSafetyError):
        raise failed.error.prefixed(f"Collection '{col.name}' was not wiped") from failed.error
    raise rolled_back(failed.error) from failed.error
