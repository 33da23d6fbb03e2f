"""What `source delete` and `collection wipe` print: prompts, documents and lines."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from retrovue.render.values import count_noun

if TYPE_CHECKING:
    from retrovue.app.collection_wipe import Wipe
    from retrovue.app.source_delete import DeletePreview, DeleteReport, KeptSource
    from retrovue.plan.imperative import DeleteTarget

DELETE_CANCELLED = "Deletion cancelled"
WIPE_CANCELLED = "Operation cancelled."


def cancelled_document(message: str) -> dict:
    return {"status": "cancelled", "message": message}


def cancelled_text(message: str) -> str:
    return message + "\n"


# -- source delete ------------------------------------------------------------------------------


def _result(t: DeleteTarget, deleted: bool) -> dict:
    return {
        "deleted": deleted,
        "source_id": str(t.source.id),
        "name": t.source.name,
        "type": t.source.type,
        "collections_deleted": t.collections,
        "path_mappings_deleted": t.path_mappings,
        "assets_deleted": t.assets,
    }


def _impact(targets) -> dict:
    return {
        "sources": len(targets),
        "collections": sum(t.collections for t in targets),
        "path_mappings": sum(t.path_mappings for t in targets),
        "assets": sum(t.assets for t in targets),
    }


def _skipped(kept: tuple[KeptSource, ...]) -> list[dict]:
    return [dataclasses.asdict(k) for k in kept]


def _kept_lines(kept: tuple[KeptSource, ...]) -> list[str]:
    lines = []
    for k in kept:
        lines += [f"Skipped source: {k.name}", f"  Reason: {k.reason}"]
    return lines


def no_match_document(dry_run: bool) -> dict:
    return {
        "status": "ok",
        "targets_processed": 0,
        "targets_skipped": 0,
        "results": [],
        "skipped": [],
        "dry_run": dry_run,
    }


def no_match_lines(preview: DeletePreview) -> list[str]:
    return [f"No sources match '{preview.selector}'"]


def delete_preview_document(preview: DeletePreview, *, confirmation_required: bool) -> dict:
    results = [_result(t, False) for t in preview.deletable]
    doc = {
        "status": "ok",
        "targets_processed": len(preview.deletable),
        "targets_skipped": len(preview.protected),
        "results": results,
        "skipped": _skipped(preview.kept),
        "confirmation_required": confirmation_required,
        "impact_summary": _impact(preview.deletable),
    }
    if not preview.wildcard and results:
        doc.update(results[0])  # a single named source: its result at the top level too
    return doc


def delete_preview_lines(preview: DeletePreview) -> list[str]:
    return _kept_lines(preview.kept)


def delete_prompt(preview: DeletePreview) -> list[str]:
    deletable, protected = preview.deletable, preview.protected
    totals = _impact(deletable)
    if len(deletable) == 1:
        s = deletable[0].source
        lines = [f"Are you sure you want to delete source '{s.name}' (ID: {s.id})?"]
    else:
        lines = [f"Are you sure you want to delete {len(deletable)} sources?"]
        lines += [f"  - {t.source.name} (ID: {t.source.id})" for t in deletable]
    lines += [
        "This will also delete:",
        f"  - {totals['collections']:,} collections",
        f"  - {totals['path_mappings']:,} path mappings",
        f"  - {totals['assets']:,} assets",
    ]
    if protected:
        lines.append("These sources are protected and will be kept:")
        lines += [f"  - {t.source.name} (ID: {t.source.id}): {t.reason}" for t in protected]
    return lines


def delete_document(report: DeleteReport) -> dict:
    results = [_result(t, True) for t in report.deleted]
    doc = {
        "status": "partial" if report.kept else "ok",
        "targets_processed": len(results),
        "targets_skipped": len(report.kept),
        "results": results,
        "skipped": _skipped(report.kept),
        "dry_run": False,
    }
    if not report.preview.wildcard:
        doc.update(results[0])
    return doc


def delete_lines(report: DeleteReport) -> list[str]:
    lines = []
    for t in report.deleted:
        s = t.source
        lines += [f"Successfully deleted source: {s.name}", f"  ID: {s.id}", f"  Type: {s.type}"]
    lines += _kept_lines(report.kept)
    if report.preview.wildcard:
        matched = count_noun(len(report.preview.targets), "source")
        lines.append(f"Deleted {len(report.deleted)} of {matched} ({len(report.kept)} kept)")
    return lines


# -- collection wipe ----------------------------------------------------------------------------


def wipe_document(w: Wipe) -> dict:
    return {
        "status": "ok",
        "collection_id": str(w.collection.id),
        "collection_name": w.collection.name,
        "assets_deleted": w.assets,
        "path_mappings_kept": len(w.collection.path_mappings),
        "dry_run": w.dry_run,
    }


def wipe_preview_document(w: Wipe, *, confirmation_required: bool) -> dict:
    return {
        **wipe_document(w),
        "confirmation_required": confirmation_required,
        "impact_summary": {"assets": w.assets},
    }


def wipe_preview_lines(w: Wipe) -> list[str]:
    if not w.protected:
        return []
    return [f"Warning: collection '{w.collection.name}' would be kept: {w.reason}"]


def wipe_prompt(w: Wipe) -> list[str]:
    col = w.collection
    return [
        f"Are you sure you want to wipe collection '{col.name}' (ID: {col.id})?",
        "This will delete:",
        f"  - {w.assets:,} assets",
        "Path mappings and collection settings are kept.",
    ]


def wipe_lines(w: Wipe) -> list[str]:
    return [
        f"Successfully wiped collection: {w.collection.name}",
        f"  Assets deleted: {w.assets:,}",
    ]
