"""What enrichment did, and the enrichers themselves, for the terminal and for --json (issue 11).

One rendering of an ``EnrichmentOutcome`` serves `apply` and `collection enrich`: a line per
collection (``collection "Library"/"Shows": enriched 1,202 with ffprobe, 2 failed``), then up to
``LISTED`` failed assets (``  ! /path/file.mkv: NOT_MEDIA: empty file (0 bytes)``) and how many
more there are.  Lines are plain strings; the console escapes control characters on the way out.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from retrovue.model.enrichment import EnricherSpec
from retrovue.render.values import count_noun

if TYPE_CHECKING:
    from retrovue.enrichers.registry import EnricherType
    from retrovue.model.results import EnrichmentOutcome

#: failed assets listed one by one on a terminal; --json lists what the outcome kept
LISTED = 10


def _error_fields(error: BaseException | None) -> tuple[str | None, str | None]:
    if error is None:
        return None, None
    return getattr(error, "message", None) or str(error), getattr(error, "code", "ERROR")


def more_command(outcome: EnrichmentOutcome) -> str:
    target = outcome.collection.id
    where = f" --collection {target}" if target is not None else ""
    return f"retrovue asset list{where} --state new"


def outcome_lines(outcome: EnrichmentOutcome, listed: int = LISTED) -> list[str]:
    """The collection's line, its run-level error, and its failed assets (at most ``listed``)."""
    head = f"{outcome.collection}: "
    if outcome.left_to_workers is not None:
        return [
            head + f"enrichment left to workers: {count_noun(outcome.left_to_workers, 'asset')} "
            "to enrich (they stay new until a `retrovue worker` enriches them)"
        ]
    done = [f"enriched {_counts_text(outcome)}"] if outcome.counts else []
    if outcome.reset:
        done.append(
            f"reset {count_noun(outcome.reset, 'asset')} stuck enriching (a run was killed)"
        )
    if done:
        lines = [head + "; ".join(done)]
    else:
        lines = [head + ("enrichment interrupted" if outcome.interrupted else "NOT ENRICHED")]
    message, code = _error_fields(outcome.error)
    if message is not None and not outcome.interrupted:
        hint = getattr(outcome.error, "hint", None)
        lines.append(f"  ! {code}: {message}" + (f" ({hint})" if hint else ""))
    if outcome.interrupted:
        lines.append("  ! interrupted: the committed batches stay; the next run resumes")
    several = len(outcome.counts) > 1
    shown = outcome.failures[:listed]
    for f in shown:
        kind = f"{f.type}: " if several else ""
        lines.append(f"  ! {f.path}: {kind}{f.code}: {f.message}")
    more = outcome.runs_failed - len(shown)
    if more > 0:
        lines.append(f"  \u2026 and {more:,} more ({more_command(outcome)})")
    return lines


def _counts_text(outcome: EnrichmentOutcome) -> str:
    """``1,202 with ffprobe, 2 failed; 1,204 with loudness``."""
    parts = []
    for c in outcome.counts:
        part = f"{c.enriched:,} with {c.type}"
        if c.from_listing:
            part += f" ({c.from_listing:,} from the listing)"
        if c.failed:
            part += f", {c.failed:,} failed"
        parts.append(part)
    return "; ".join(parts)


def outcome_json(outcome: EnrichmentOutcome) -> dict[str, Any]:
    message, code = _error_fields(outcome.error)
    return {
        "collection": str(outcome.collection),
        "collection_id": str(outcome.collection.id) if outcome.collection.id else None,
        "counts": [
            {
                "type": c.type,
                "enriched": c.enriched,
                "failed": c.failed,
                "from_listing": c.from_listing,
            }
            for c in outcome.counts
        ],
        "failures": [
            {
                "asset_id": f.asset_id,
                "path": f.path,
                "type": f.type,
                "code": f.code,
                "message": f.message,
            }
            for f in outcome.failures
        ],
        "assets_enriched": outcome.enriched,
        "assets_failed": outcome.failed,
        "error": message,
        "error_code": code,
        "interrupted": outcome.interrupted,
        "reset": outcome.reset,
        "left_to_workers": outcome.left_to_workers,
    }


def totals(outcomes: list[EnrichmentOutcome]) -> str:
    """`enrichment: 1,202 assets enriched, 2 failed` for a summary line (`, 3 reset` when a
    killed run had left some enriching)."""
    enriched = sum(o.enriched for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    reset = sum(o.reset for o in outcomes)
    left = sum(o.left_to_workers or 0 for o in outcomes)
    by_workers = any(o.left_to_workers is not None for o in outcomes)
    return (
        f"enrichment: {count_noun(enriched, 'asset')} enriched, {failed:,} failed"
        + (f", {reset:,} reset" if reset else "")
        + (f", {left:,} left to workers" if by_workers else "")
    )


# -- attachments ----------------------------------------------------------------------------------


def spec_json(spec: EnricherSpec) -> dict[str, Any]:
    return {"type": spec.type, "priority": spec.priority, "params": dict(spec.params)}


def spec_text(spec: EnricherSpec) -> str:
    text = f"{spec.type} (priority {spec.priority})"
    if spec.params:
        text += " " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(spec.params.items()))
    return text


def attached_lines(label: str, specs) -> list[str]:
    """`  Enrichers: none`, or one bullet per attachment (with its origin when known)."""
    if not specs:
        return [f"  {label}: none"]
    lines = [f"  {label}:"]
    for item in specs:
        spec = getattr(item, "spec", item)
        origin = getattr(item, "origin", None)
        lines.append(f"    \u2022 {spec_text(spec)}" + (f" from {origin}" if origin else ""))
    return lines


# -- enricher list-types --------------------------------------------------------------------------


def types_document(types: list[EnricherType]) -> dict[str, Any]:
    return {
        "status": "ok",
        "enricher_types": [t.to_json() for t in types],
        "total": len(types),
    }


def types_lines(types: list[EnricherType]) -> list[str]:
    if not types:
        return ["No enricher types available", "Total: 0 enricher types available"]
    from retrovue.render.table import table_lines

    rows = []
    for t in types:
        rows.append(
            [
                t.type_id,
                str(t.version) if t.version is not None else "-",
                t.provider,
                "Yes" if t.available else f"No: {t.error}",
                "Yes" if t.opt_in else "No",
                ", ".join(_param(p) for p in t.parameters) or "-",
            ]
        )
    lines = table_lines(["TYPE", "VERSION", "PROVIDER", "AVAILABLE", "OPT-IN", "PARAMETERS"], rows)
    available = sum(t.available for t in types)
    lines.append(f"Total: {count_noun(len(types), 'enricher type')}, {available:,} available")
    return lines


def _param(p) -> str:
    """`probe_size=1000000` (its default, as the config file writes it), `name (required)`."""
    if p.required:
        return f"{p.name} (required)"
    return f"{p.name}={json.dumps(p.default)}" if p.default is not None else p.name


# -- source attach-enricher / detach-enricher, collection update ---------------------------------


def change_json(change) -> dict[str, Any]:
    """The ``enricher`` part of an attach/detach/--add-enricher/--remove-enricher document."""
    spec = change.spec
    return {
        "operation": change.operation,
        "type": change.type,
        "priority": spec.priority if spec is not None else None,
        "updated": change.updated,
        "message": change.noop_message,
        "before": [spec_json(s) for s in change.before],
        "after": [spec_json(s) for s in change.after],
    }


def attachment_document(done) -> dict[str, Any]:
    s, change = done.source, done.change
    return {
        "status": "ok",
        "source": {"id": str(s.id), "name": s.name, "type": s.type},
        **{k: v for k, v in change_json(change).items() if k not in ("before", "after")},
        "enrichers": [spec_json(x) for x in change.after],
        "dry_run": done.dry_run,
    }


def attachment_lines(done) -> list[str]:
    change = done.change
    if not change.updated:
        return [change.noop_message]
    verb = "Would update" if done.dry_run else "Updated"
    return [
        f"{verb} enrichers of {change.owner}",
        f"  {change.change_line()}",
        "  Enrichers: " + (", ".join(spec_text(s) for s in change.after) or "none"),
    ]


# -- collection enrich ------------------------------------------------------------------------------


def enrich_document(done) -> dict[str, Any]:
    col, s, action = done.collection, done.source, done.action
    return {
        "status": "partial" if done.status == "partial" else "ok",
        "collection_id": str(col.id),
        "collection_name": col.name,
        "source_id": str(s.id),
        "source_name": s.name,
        "enrichers": [e.to_json() for e in done.enrichers],
        "force": done.force,
        "retry_failed": done.retry_failed,
        "work": [
            {"type": w.type, "version": w.version, "assets": w.assets}
            for w in (action.work if action else ())
        ],
        "stuck": action.stuck if action else 0,
        "failed_before": [{"type": t, "assets": n} for t, n in done.failed_before.items()],
        "unavailable": list(done.unavailable),
        "enrichments": [outcome_json(done.outcome)] if done.outcome else [],
        "message": _message(done),
        "dry_run": done.dry_run,
    }


def failure_details(done) -> dict[str, Any]:
    """What the error document of a failed or interrupted run says of the collection."""
    return {
        "collection_id": str(done.collection.id),
        "collection_name": done.collection.name,
        "enrichments": [outcome_json(done.outcome)] if done.outcome else [],
    }


def _message(done) -> str | None:
    col = done.collection
    if done.action is None:
        return f"Collection '{col.name}' has no enrichers attached; nothing to enrich"
    if not done.dry_run and done.outcome is None and done.error is None:
        return f"Nothing to enrich in collection '{col.name}'"
    return None


def _failed_before_lines(done) -> list[str]:
    return [
        f"  {count_noun(n, 'asset')} failed earlier with {t}; --retry-failed tries "
        f"{'it' if n == 1 else 'them'} again"
        for t, n in done.failed_before.items()
        if n
    ]


def enrich_lines(done) -> list[str]:
    col = done.collection
    message = _message(done)
    if done.action is None:
        return [
            message,
            f"  attach one with `retrovue collection update {col.id} --add-enricher TYPE` "
            "or `retrovue source attach-enricher SOURCE TYPE` (see `retrovue enricher list-types`)",
        ]
    if done.outcome is None:
        return [message or f"Nothing enriched in collection '{col.name}'"] + _failed_before_lines(
            done
        )
    lines = outcome_lines(done.outcome)
    lines += _failed_before_lines(done)
    if done.outcome.left_to_workers is not None:
        lines.append(f"Enrichment of collection '{col.name}' left to the workers")
    elif done.status == "ok":
        lines.append(f"Enrichment complete for collection '{col.name}'")
    else:
        lines.append(f"Enrichment finished with errors for collection '{col.name}'")
    return lines


def enrich_preview_lines(done) -> list[str]:
    """Under the plan of a dry run: how many assets each enricher would enrich."""
    col = done.collection
    if done.action is None:
        return enrich_lines(done)
    lines = [f"Would enrich in collection '{col.name}':"]
    lines += [
        f"  {w.type} (version {w.version}): {count_noun(w.assets, 'asset')}"
        for w in done.action.work
    ]
    lines += [f"  ! cannot run: {note}" for note in done.unavailable]
    if done.action.stuck:
        lines.append(
            f"  reset: {count_noun(done.action.stuck, 'asset')} stuck enriching (a run was killed)"
        )
    return lines + _failed_before_lines(done)
