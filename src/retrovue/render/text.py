"""The plan as a terminal reads it: Terraform-like, grouped by source, one line per change.

Each action kind registers what it shows (``functools.singledispatch``, no class tests here):
``source_part`` for what belongs to a source's own block (its head line and detail lines),
``collection_part`` for how it marks its collection's head, ``detail`` for its lines under the
collection.  A kind that registers nothing is shown as a changed collection with no detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionGoneUpstream,
    CreateSource,
    DeleteSource,
    EnrichCollection,
    FieldChange,
    IngestCollection,
    IngestCounts,
    Plan,
    PruneSource,
    RenameCollection,
    SetApproval,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    UpdateSource,
    WipeCollection,
    is_change,
    is_warning,
    source_of,
)
from retrovue.model.enrichment import EnricherSpec
from retrovue.plan.summary import summarize
from retrovue.redact import SENSITIVE_SHOWN
from retrovue.render.summary import notes, plural
from retrovue.render.values import counts_head, one_line


def value(v, sensitive: bool = False) -> str:
    """A value as JSON (what --json and the config file say), so a list is ``["mkv", "mp4"]``,
    never a Python repr."""
    if sensitive and v is not None:
        return SENSITIVE_SHOWN
    if v is None:
        return "(none)"
    return json.dumps(v, ensure_ascii=False, default=str)


def counts_line(c: IngestCounts) -> str:
    line = f"{counts_head(c)}, {plural(c.duplicates, 'duplicate')}"
    extras = []
    if c.remapped:
        extras.append(f"{c.remapped:,} remapped")
    if c.reappeared:
        extras.append(f"{c.reappeared:,} reappeared")
    if c.unmapped:
        extras.append(f"{c.unmapped:,} unmapped")
    if c.unusable:
        extras.append(f"{c.unusable:,} unusable")
    if c.missing_suppressed:
        extras.append(f"{c.missing_suppressed:,} missing suppressed")
    return line + ("; " + ", ".join(extras) if extras else "")


def enrichers_value(specs: tuple[EnricherSpec, ...]) -> str:
    """``["ffprobe", "loudness (priority 5)"]``: types in run order, priority and params only
    when they are not the defaults."""
    labels = []
    for spec in specs:
        extras = [f"priority {spec.priority}"] if spec.priority else []
        extras += [
            f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
            for k, v in sorted(spec.params.items())
        ]
        labels.append(spec.type + (f" ({', '.join(extras)})" if extras else ""))
    # escaped here too: markdown shares these lines (a param's value comes from the file)
    return (
        "[" + ", ".join(one_line(json.dumps(label, ensure_ascii=False)) for label in labels) + "]"
    )


def _enrichers_line(a: SetEnrichers, new: bool = False) -> str:
    if new:
        return f"+ enrichers = {enrichers_value(a.after)}"
    return f"~ enrichers: {enrichers_value(a.before)} -> {enrichers_value(a.after)}"


def enrich_line(a: EnrichCollection) -> str:
    """``~ enrich: 1,204 with ffprobe, 1,204 with loudness; reset 3 assets stuck enriching``."""
    work = ", ".join(f"{w.assets:,} with {w.type}" for w in a.work if w.assets)
    parts = [work] if work else []
    if a.stuck:
        parts.append(f"reset {stuck_text(a.stuck)}")
    if a.by_workers:
        return f"~ enrich: {work or 'nothing yet'} (left to workers)"
    return f"~ enrich: {'; '.join(parts)}" if parts else "= enrich: nothing to enrich"


def stuck_text(n: int) -> str:
    """``3 assets stuck enriching (a run was killed)``."""
    return f"{plural(n, 'asset')} stuck enriching (a run was killed)"


def _mapping(m) -> str:
    return f"{m.upstream_path} -> {m.local_path or '(unset)'}"


def _shown(a: Action) -> bool:
    # a collection with skipped items is shown even when nothing changes: a file that turned
    # unreadable (a dropped mount, a broken link) must not hide behind "No changes."
    return (
        is_change(a)
        or is_warning(a)
        or bool(getattr(a, "degraded", False) or getattr(a, "skipped", ()))
    )


def group_by_source(plan: Plan) -> dict[str, list[Action]]:
    """The actions worth showing, by source name, in plan order (markdown shares this)."""
    by_source: dict[str, list[Action]] = {}
    for a in plan.actions:
        if _shown(a):
            by_source.setdefault(source_of(a).name, []).append(a)
    return by_source


def skipped_upstream(plan: Plan) -> dict[str, list[str]]:
    """Per source, what its upstream offered that is not a collection here (an excluded or
    unreadable folder, a file in no collection), counted by reason with a first example, in
    the form of a collection's skipped items."""
    reasons: dict[str, dict[str, list[str]]] = {}
    for s in plan.skipped:
        reasons.setdefault(s.source, {}).setdefault(s.reason, []).append(s.name)
    return {
        source: [
            f"      not a collection: {why} ({len(names):,}, e.g. {names[0]})"
            for why, names in by.items()
        ]
        for source, by in reasons.items()
    }


def source_blocks(plan: Plan) -> list[tuple[str, list[Action], list[str]]]:
    """Each source worth showing: its name, its shown actions and its block's lines, with what
    its upstream offered that is not a collection (markdown shares this)."""
    skipped = skipped_upstream(plan)
    blocks = group_by_source(plan)
    for name in skipped:
        blocks.setdefault(name, [])
    return [
        (name, actions, source_block(name, actions) + skipped.get(name, []))
        for name, actions in blocks.items()
    ]


def render_text(plan: Plan) -> str:
    """Group by source, then by collection; one line per changed attribute, Terraform-style.
    A source whose upstream offered something it skipped is shown even when nothing changes."""
    out: list[str] = []
    for _name, _actions, lines in source_blocks(plan):
        out.extend(lines)
        out.append("")
    for p in plan.problems:
        where = f'source "{p.source}"' + (f' collection "{p.collection}"' if p.collection else "")
        out.append(f"  ! {where}: {p.kind}: {p.message}")
    if plan.problems:
        out.append("")
    out += [f"Note: {note}" for note in plan.notes]
    out.append(summary_line(plan))
    # each element is one line by construction: a line break inside one came from a name
    return "\n".join(one_line(line) for line in out) + "\n"


# --- a source's own block -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcePart:
    """What a source-level action contributes to its source's block."""

    #: the block's head comes from the part of lowest rank
    rank: int
    head: Callable[[str], str]
    #: its detail lines; ``new``: the source is created by this plan
    lines: Callable[[bool], list[str]] = lambda _new: []
    #: the whole block is the head line alone (a source deleted or kept out of the config)
    alone: bool = False
    #: what markdown's collapsed summary says of the source
    verb: str = "update"
    #: this part creates the source (its other parts then read as new values)
    creates: bool = False


@singledispatch
def source_part(action: Any) -> SourcePart | None:
    """The part a source-level action plays in its source's block; None: it belongs to a
    collection."""
    return None


@source_part.register
def _(a: PruneSource) -> SourcePart:
    verb = "delete" if a.will_delete else "kept, not in the config"
    return SourcePart(0, lambda _name: _prune_line(a), alone=True, verb=verb)


@source_part.register
def _(a: DeleteSource) -> SourcePart:
    counts = (
        f"{plural(a.collections, 'collection')}, {plural(a.path_mappings, 'path mapping')}, "
        f"{plural(a.assets, 'asset')}"
    )
    return SourcePart(
        0, lambda name: f'  - source "{name}" will be deleted ({counts})', alone=True, verb="delete"
    )


@source_part.register
def _(a: CreateSource) -> SourcePart:
    def lines(_new: bool) -> list[str]:
        out = [f"      + type        = {value(a.type)}"]
        out.append(f"      + external_id = {value(a.external_id)}")
        for key in sorted(a.config):
            out.append(f"      + config.{key} = {value(a.config[key], key in a.sensitive_keys)}")
        return out

    return SourcePart(
        1, lambda name: f'  + source "{name}" will be created', lines, verb="create", creates=True
    )


@source_part.register
def _(a: UpdateSource) -> SourcePart:
    return SourcePart(
        2,
        lambda name: f'  ~ source "{name}" will be updated',
        lambda _new: [_field(ch) for ch in a.changes],
    )


@source_part.register
def _(a: SetEnrichers) -> SourcePart | None:
    if a.collection is not None:
        return None
    return SourcePart(
        3,
        lambda name: f'  ~ source "{name}" will be updated',
        lambda new: ["      " + _enrichers_line(a, new)],
    )


def source_parts(actions: list[Action]) -> list[SourcePart]:
    """The source-level parts of one source's actions, head first."""
    parts = [part for a in actions if (part := source_part(a)) is not None]
    return sorted(parts, key=lambda p: p.rank)


def source_block(name: str, actions: list[Action]) -> list[str]:
    parts = source_parts(actions)
    if parts and parts[0].alone:
        return [parts[0].head(name)]
    new = any(p.creates for p in parts)
    lines = [parts[0].head(name)] if parts else [f'  source "{name}":']
    for part in parts:
        lines += part.lines(new)
    collections: dict[str, list[Action]] = {}
    for a in actions:
        if getattr(a, "collection", None) is not None:  # a source's SetEnrichers has None
            collections.setdefault(a.collection.external_id, []).append(a)
    for group in collections.values():
        lines.extend(_collection_block(group))
    return lines


# --- a collection's block -------------------------------------------------------------------------


@singledispatch
def collection_part(action: Any) -> str | None:
    """How an action marks its collection's head: "discovered", "gone", or None."""
    return None


@collection_part.register
def _(a: AddCollection) -> str:
    return "discovered"


@collection_part.register
def _(a: CollectionGoneUpstream) -> str:
    return "gone"


def _collection_block(actions: list[Action]) -> list[str]:
    address = actions[0].collection
    label = f'collection "{address.name}"'
    marks = {collection_part(a) for a in actions}
    if "discovered" in marks:
        head = f"      + {label} discovered"
    elif "gone" in marks:
        return [f"      ! {label} is no longer offered upstream (kept; its assets are untouched)"]
    elif any(is_change(a) for a in actions):
        head = f"      ~ {label}"
    else:
        head = f"      = {label}"
    new = "discovered" in marks
    # a discovered collection's mappings are shown as they will be stored: discovery's unset
    # rows and a declared mapping replacing them are internal steps, not three lines to review
    mappings = sorted(
        (m for a in actions if (m := end_mappings(a)) is not None), key=lambda m: m[0]
    )
    view = DetailView(new, mappings[-1][1] if mappings else ())
    lines = [head]
    for a in actions:
        lines.extend("          " + line for line in detail(a, view))
    return lines


@singledispatch
def end_mappings(action: Any) -> tuple[int, tuple] | None:
    """The path mappings a collection has after this action, ranked (a later setting of them
    outranks discovery's); None: it does not set them."""
    return None


@end_mappings.register
def _(a: AddCollection) -> tuple[int, tuple]:
    return 0, a.path_mappings


@end_mappings.register
def _(a: SetPathMappings) -> tuple[int, tuple]:
    return 1, a.after


@dataclass(frozen=True)
class DetailView:
    #: the collection is discovered by this plan: its settings read as new values
    new: bool = False
    #: the mappings it will have at the end of the plan
    mappings: tuple = ()


@singledispatch
def detail(action: Any, view: DetailView) -> list[str]:
    """An action's lines under its collection's head (none by default)."""
    return []


@detail.register
def _(a: AddCollection, view: DetailView) -> list[str]:
    lines = [f"+ path mapping {_mapping(m)}" for m in view.mappings]
    if a.upstream_name is not None:
        lines.insert(0, f"! upstream name is {len(a.upstream_name):,} characters: {_SHORTENED}")
    return lines


_SHORTENED = "stored shortened as shown, the full name kept in the collection's config"


@detail.register
def _(a: SetEnrichers, view: DetailView) -> list[str]:
    return [_enrichers_line(a, view.new)]


@detail.register
def _(a: EnrichCollection, view: DetailView) -> list[str]:
    return [enrich_line(a)]


@detail.register
def _(a: RenameCollection, view: DetailView) -> list[str]:
    return [f"~ name: {value(a.before)} -> {value(a.after)} (renamed upstream)"]


@detail.register
def _(a: SetCollectionSync, view: DetailView) -> list[str]:
    if view.new:
        return [f"+ sync = {value(a.after)}"]
    return [f"~ sync: {value(a.before)} -> {value(a.after)}"]


@detail.register
def _(a: SetPathMappings, view: DetailView) -> list[str]:
    if view.new:
        return []  # shown with the discovery, as they will be stored
    before, after = set(a.before), set(a.after)
    return [f"- path mapping {_mapping(m)}" for m in a.before if m not in after] + [
        f"+ path mapping {_mapping(m)}" for m in a.after if m not in before
    ]


@detail.register
def _(a: SetIngestible, view: DetailView) -> list[str]:
    reason = f" ({a.reason})" if a.reason else ""
    if view.new:
        return [f"+ ingestible = {value(a.after)}{reason}"]
    return [f"~ ingestible: {value(a.before)} -> {value(a.after)}{reason}"]


@detail.register
def _(a: SetPathMappingLocal, view: DetailView) -> list[str]:
    return [f"~ path mapping {a.upstream_path}: {a.before or '(unset)'} -> {a.after or '(unset)'}"]


@detail.register
def _(a: SetApproval, view: DetailView) -> list[str]:
    verb = "approved" if a.approved else "no longer approved"
    return [f"~ approved_for_broadcast: {plural(len(a.asset_ids), 'asset')} {verb} for broadcast"]


@detail.register
def _(a: WipeCollection, view: DetailView) -> list[str]:
    return [
        f"- assets: {plural(a.assets, 'asset')} will be deleted (path mappings and settings kept)"
    ]


@detail.register
def _(a: IngestCollection, view: DetailView) -> list[str]:
    lines = [f"{'~' if a.counts.has_changes else '='} assets: {counts_line(a.counts)}"]
    if a.degraded:
        lines.append(f"! degraded: {a.degraded_reason}; {guard_outcome(a.counts, planned=True)}")
    lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in a.skipped]
    lines += [
        f"  mapping {m.upstream_path} -> {m.local_path} ({'exists' if m.exists else 'LOCAL ROOT MISSING'})"
        for m in a.mapping_roots
    ]
    return lines + _asset_detail(a)


_DETAIL_LABELS = {
    "reappeared": "back from missing",
    "suppressed": "would go missing, held by the guard",
}


def guard_outcome(counts: IngestCounts, planned: bool) -> str:
    """What the mass-missing guard did in a degraded collection: held, or overridden by
    --allow-mass-missing (then the missing ones are marked, and the line must say so)."""
    if counts.missing:
        verb = "will be marked" if planned else "marked"
        return f"{counts.missing:,} {verb} missing anyway (--allow-mass-missing)"
    if planned:
        return "nothing will be marked missing without --allow-mass-missing"
    return "nothing marked missing"


def _asset_detail(a: IngestCollection) -> list[str]:
    """``--detail``: the files behind each count, capped; unmarked lines, so the markdown diff
    block does not colour a path as an added or removed line."""
    lines = []
    for d in a.detail:
        lines.append(f"  {_DETAIL_LABELS.get(d.kind, d.kind)} ({d.total:,}):")
        lines += [f"    {path}" for path in d.paths]
        if d.total > len(d.paths):
            lines.append(f"    … and {d.total - len(d.paths):,} more")
    return lines


def _prune_line(a: PruneSource) -> str:
    what = f"{plural(a.collections, 'collection')}, {plural(a.assets, 'asset')}"
    if a.will_delete:
        return f'  - source "{a.source.name}" will be deleted (no longer in the config; {what})'
    if a.prune:
        return (
            f'  ! source "{a.source.name}" is no longer in the config but is kept: '
            f"{plural(a.protected_assets, 'asset')} referenced by playlog_events/as_run_log (production safety)"
        )
    return f'  ! source "{a.source.name}" is no longer in the config; kept ({what}; use --prune to delete it)'


def _field(ch: FieldChange) -> str:
    return (
        f"      ~ {ch.field}: {value(ch.before, ch.sensitive)} -> {value(ch.after, ch.sensitive)}"
    )


def summary_line(plan: Plan) -> str:
    """The closing line.  Degraded collections, warnings and problems are not changes, but a
    plan that has any never says a bare "No changes." (a held guard must not read as all clear)."""
    s = summarize(plan)
    tail = notes(s)
    head = _changes(plan, s) if plan.has_changes else "No changes"
    return f"{head}. {tail}." if tail else f"{head}."


def _changes(plan: Plan, s) -> str:
    deleted, wiped = s.sources_delete, s.assets_delete
    return (
        f"Plan: {plural(s.sources_create, 'source')} to create, {s.sources_update:,} to update"
        + (f", {deleted:,} to delete; " if deleted else "; ")
        + f"{plural(s.collections_discover, 'collection')} to discover, {s.collections_change:,} to change; "
        f"assets: {s.assets_new:,} to create, {s.assets_changed:,} to change, {s.assets_missing:,} to mark missing"
        + (f", {s.assets_reappeared:,} back from missing" if s.assets_reappeared else "")
        + (f", {wiped:,} to delete" if wiped else "")
        + (f"; enrich: {plural(s.assets_enrich, 'asset')}" if s.assets_enrich else "")
        + (f"; reset: {stuck_text(s.assets_stuck)}" if s.assets_stuck else "")
    )
