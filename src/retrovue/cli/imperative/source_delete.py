"""`retrovue source delete` (contracts §8): wildcards, confirmation, production safety, one unit
per source (UOW-040 B)."""

from __future__ import annotations

import re

import click
import structlog

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.imperative.source import source
from retrovue.cli.options import Exit, common_options
from retrovue.execute.executor import Executor
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbSource
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build
from retrovue.render.imperative import count_noun

log = structlog.get_logger("retrovue.source.delete")


def is_wildcard(selector: str) -> bool:
    return "*" in selector or "?" in selector


def wildcard_matches(pattern: str, sources) -> list[DbSource]:
    """SDel B-8: `*` any run, `?` one character, the rest literal; name casefolded, external_id exact."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    exact = re.compile(regex, re.DOTALL)
    folded = re.compile(
        "".join(
            ".*" if ch == "*" else "." if ch == "?" else re.escape(ch.casefold()) for ch in pattern
        ),
        re.DOTALL,
    )
    hits = [
        s for s in sources if folded.fullmatch(s.name.casefold()) or exact.fullmatch(s.external_id)
    ]
    return sorted(hits, key=lambda s: (s.name.casefold(), str(s.id)))


@source.command("delete")
@click.argument("selector", metavar="SELECTOR")
@c.confirmation_options
@c.dry_run_option
@common_options
def delete(app: AppContext, selector: str, force: bool, confirmed: bool, dry_run: bool) -> None:
    """Delete sources with their collections, path mappings and assets."""
    wildcard = is_wildcard(selector)
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        c.register_source_secrets(app, snapshot)
        chosen = (
            wildcard_matches(selector, snapshot.sources)
            if wildcard
            else [resolve_source(snapshot, selector)]
        )
        targets = build.delete_targets(conn, chosen)
    if not targets:
        doc = {
            "status": "ok",
            "targets_processed": 0,
            "targets_skipped": 0,
            "results": [],
            "skipped": [],
            "dry_run": dry_run,
        }
        if app.json_output:
            app.emit_json(doc)
        else:
            c.human(app, [f"No sources match '{selector}'"])
        return
    override = app.test_db and force  # PS-030 (never --confirm, never in production: PS-011)
    protected = [t for t in targets if t.aired and not override]
    deletable = [t for t in targets if not (t.aired and not override)]
    skipped = [
        {"id": str(t.source.id), "name": t.source.name, "reason": t.reason} for t in protected
    ]
    plan = Plan(tuple(build.delete_action(t, override and t.aired > 0) for t in deletable))
    if dry_run:  # C-9 / C-10
        doc = {
            "status": "ok",
            "targets_processed": len(deletable),
            "targets_skipped": len(protected),
            "results": [_result(t, False) for t in deletable],
            "skipped": skipped,
            "confirmation_required": not (force or confirmed),
            "impact_summary": _impact(deletable),
        }
        if not wildcard and deletable:
            doc.update(doc["results"][0])
        lines = []
        for k in skipped:
            lines += [f"Skipped source: {k['name']}", f"  Reason: {k['reason']}"]
        c.emit_dry_run(app, plan, doc, lines)
        return
    if not deletable:  # C-8 / PS-022: every target protected, no prompt
        _refuse(app, protected, skipped)
    c.confirm(
        app,
        _prompt(deletable, protected),
        force=force,
        confirmed=confirmed,
        cancel_line="Deletion cancelled",
    )
    executor = Executor(app.engine, app.registry, trigger="apply", scrub=app.scrub)
    results, kept = [], list(skipped)
    with c.write_lock(app, f"source delete {selector}"):
        for target, action in zip(deletable, plan.actions, strict=False):
            outcome = executor.execute(Plan((action,))).sources[0]  # D-8: one unit per source
            if outcome.ok:
                results.append(_result(target, True))
                log.info("source deleted", **_result(target, True))  # SDel D-6
            else:
                kept.append(
                    {
                        "id": str(target.source.id),
                        "name": target.source.name,
                        "reason": outcome.error,
                    }
                )
    _report(app, wildcard, targets, results, kept)


def _result(t: build.DeleteTarget, deleted: bool) -> dict:
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


def _prompt(deletable, protected) -> list[str]:
    totals = _impact(deletable)
    if len(deletable) == 1:
        t = deletable[0]
        lines = [f"Are you sure you want to delete source '{t.source.name}' (ID: {t.source.id})?"]
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


def _refuse(app: AppContext, protected, skipped) -> None:
    if len(protected) == 1:
        t = protected[0]
        message = f"Source '{t.source.name}' is protected and was not deleted: {t.reason}"
    else:
        message = (
            f"All {len(protected)} sources are protected and were not deleted (production safety)"
        )
    extra = {
        "targets_processed": 0,
        "targets_skipped": len(skipped),
        "results": [],
        "skipped": skipped,
        "dry_run": False,
    }
    hints = (
        [f"{k['name']} (ID: {k['id']}): {k['reason']}" for k in skipped]
        if len(protected) > 1
        else []
    )
    c.fail(app, "PRODUCTION_SAFETY_FAILED", [message], hints=hints, extra=extra)


def _report(app: AppContext, wildcard: bool, targets, results, kept) -> None:
    if not results:
        if len(kept) == 1:
            message = f"Source '{kept[0]['name']}' was not deleted: {kept[0]['reason']}"
        else:
            message = "No sources were deleted"
        extra = {
            "targets_processed": 0,
            "targets_skipped": len(kept),
            "results": [],
            "skipped": kept,
            "dry_run": False,
        }
        code = (
            "PRODUCTION_SAFETY_FAILED"
            if all(k["reason"].startswith("production safety") for k in kept)
            else "DATABASE_ERROR"
        )
        c.fail(
            app,
            code,
            [message],
            hints=[f"{k['name']} (ID: {k['id']}): {k['reason']}" for k in kept]
            if len(kept) > 1
            else [],
            extra=extra,
        )
    doc = {
        "status": "partial" if kept else "ok",
        "targets_processed": len(results),
        "targets_skipped": len(kept),
        "results": results,
        "skipped": kept,
        "dry_run": False,
    }
    if not wildcard:
        doc.update(results[0])
    if app.json_output:
        app.emit_json(doc)
    else:
        lines = []
        for r in results:
            lines += [
                f"Successfully deleted source: {r['name']}",
                f"  ID: {r['source_id']}",
                f"  Type: {r['type']}",
            ]
        for k in kept:
            lines += [f"Skipped source: {k['name']}", f"  Reason: {k['reason']}"]
        if wildcard:
            lines.append(
                f"Deleted {len(results)} of {count_noun(len(targets), 'source')} ({len(kept)} kept)"
            )
        c.human(app, lines)
    if kept:
        raise Exit(2)
