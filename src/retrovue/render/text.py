"""The plan as a terminal reads it: Terraform-like, grouped by source, one line per change."""

from __future__ import annotations

import dataclasses
import json

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
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    UpdateSource,
    WipeCollection,
    is_change,
)
from retrovue.model.enrichment import EnricherSpec
from retrovue.redact import SENSITIVE_SHOWN
from retrovue.render.summary import notes, plural, summarize
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
    """``~ enrich: 1,204 with ffprobe, 1,204 with loudness``."""
    work = ", ".join(f"{w.assets:,} with {w.type}" for w in a.work if w.assets)
    return f"~ enrich: {work}" if work else "= enrich: nothing to enrich"


def _mapping(m) -> str:
    return f"{m.plex_path} -> {m.local_path or '(unset)'}"


def _source_of(a: Action) -> str:
    return a.source.name if hasattr(a, "source") else a.collection.source.name


def _shown(a: Action) -> bool:
    # a collection with skipped items is shown even when nothing changes: a file that turned
    # unreadable (a dropped mount, a broken link) must not hide behind "No changes."
    return (
        is_change(a)
        or isinstance(a, (CollectionGoneUpstream, PruneSource))
        or (isinstance(a, IngestCollection) and (a.degraded or bool(a.skipped)))
    )


def group_by_source(plan: Plan) -> dict[str, list[Action]]:
    """The actions worth showing, by source name, in plan order (markdown shares this)."""
    by_source: dict[str, list[Action]] = {}
    for a in plan.actions:
        if _shown(a):
            by_source.setdefault(_source_of(a), []).append(a)
    return by_source


def render_text(plan: Plan) -> str:
    """Group by source, then by collection; one line per changed attribute, Terraform-style."""
    out: list[str] = []
    for name, actions in group_by_source(plan).items():
        out.extend(source_block(name, actions))
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


def source_block(name: str, actions: list[Action]) -> list[str]:
    prune = next((a for a in actions if isinstance(a, PruneSource)), None)
    if prune is not None:
        return [_prune_line(prune)]
    dropped = next((a for a in actions if isinstance(a, DeleteSource)), None)
    if dropped is not None:  # `source delete`
        counts = (
            f"{plural(dropped.collections, 'collection')}, {plural(dropped.path_mappings, 'path mapping')}, "
            f"{plural(dropped.assets, 'asset')}"
        )
        return [f'  - source "{name}" will be deleted ({counts})']
    create = next((a for a in actions if isinstance(a, CreateSource)), None)
    update = next((a for a in actions if isinstance(a, UpdateSource)), None)
    attached = next(
        (a for a in actions if isinstance(a, SetEnrichers) and a.collection is None), None
    )
    if create is not None:
        lines = [f'  + source "{name}" will be created']
        lines.append(f"      + type        = {value(create.type)}")
        lines.append(f"      + external_id = {value(create.external_id)}")
        for key in sorted(create.config):
            lines.append(
                f"      + config.{key} = {value(create.config[key], key in create.sensitive_keys)}"
            )
    elif update is not None:
        lines = [f'  ~ source "{name}" will be updated'] + [_field(ch) for ch in update.changes]
    elif attached is not None:
        lines = [f'  ~ source "{name}" will be updated']
    else:
        lines = [f'  source "{name}":']
    if attached is not None:
        lines.append("      " + _enrichers_line(attached, new=create is not None))
    collections: dict[str, list[Action]] = {}
    for a in actions:
        if getattr(a, "collection", None) is not None:  # a source's SetEnrichers has None
            collections.setdefault(a.collection.external_id, []).append(a)
    for group in collections.values():
        lines.extend(_collection_block(group))
    return lines


def _collection_block(actions: list[Action]) -> list[str]:
    address = actions[0].collection
    label = f'collection "{address.name}"'
    if any(isinstance(a, AddCollection) for a in actions):
        head = f"      + {label} discovered"
    elif any(isinstance(a, CollectionGoneUpstream) for a in actions):
        return [f"      ! {label} is no longer offered upstream (kept; its assets are untouched)"]
    elif any(is_change(a) for a in actions):
        head = f"      ~ {label}"
    else:
        head = f"      = {label}"
    new = head.lstrip().startswith("+")
    lines = [head]
    for a in _end_state(actions) if new else actions:
        lines.extend("          " + line for line in _detail(a, new))
    return lines


def _end_state(actions: list[Action]) -> list[Action]:
    """A discovered collection's mappings as they will be stored: discovery's unset rows and a
    declared mapping replacing them are internal steps, not three lines to review."""
    remapped = [a for a in actions if isinstance(a, SetPathMappings)]
    if not remapped:
        return actions
    end = remapped[-1].after
    return [
        dataclasses.replace(a, path_mappings=end) if isinstance(a, AddCollection) else a
        for a in actions
        if not isinstance(a, SetPathMappings)
    ]


def _detail(a: Action, new: bool = False) -> list[str]:
    if new and isinstance(a, (SetCollectionSync, SetIngestible)):
        attr = "sync" if isinstance(a, SetCollectionSync) else "ingestible"
        reason = f" ({a.reason})" if isinstance(a, SetIngestible) and a.reason else ""
        return [f"+ {attr} = {value(a.after)}{reason}"]
    if isinstance(a, AddCollection):
        return [f"+ path mapping {_mapping(m)}" for m in a.path_mappings]
    if isinstance(a, SetEnrichers):
        return [_enrichers_line(a, new)]
    if isinstance(a, EnrichCollection):
        return [enrich_line(a)]
    if isinstance(a, RenameCollection):
        return [f"~ name: {value(a.before)} -> {value(a.after)} (renamed upstream)"]
    if isinstance(a, SetCollectionSync):
        return [f"~ sync: {value(a.before)} -> {value(a.after)}"]
    if isinstance(a, SetPathMappings):
        before, after = set(a.before), set(a.after)
        return [f"- path mapping {_mapping(m)}" for m in a.before if m not in after] + [
            f"+ path mapping {_mapping(m)}" for m in a.after if m not in before
        ]
    if isinstance(a, SetIngestible):
        reason = f" ({a.reason})" if a.reason else ""
        return [f"~ ingestible: {value(a.before)} -> {value(a.after)}{reason}"]
    if isinstance(a, SetPathMappingLocal):
        return [f"~ path mapping {a.plex_path}: {a.before or '(unset)'} -> {a.after or '(unset)'}"]
    if isinstance(a, WipeCollection):
        return [
            f"- assets: {plural(a.assets, 'asset')} will be deleted (path mappings and settings kept)"
        ]
    if isinstance(a, IngestCollection):
        lines = [f"{'~' if a.counts.has_changes else '='} assets: {counts_line(a.counts)}"]
        if a.degraded:
            lines.append(
                f"! degraded: {a.degraded_reason}; nothing will be marked missing without --allow-mass-missing"
            )
        lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in a.skipped]
        lines += [
            f"  mapping {m.plex_path} -> {m.local_path} ({'exists' if m.exists else 'LOCAL ROOT MISSING'})"
            for m in a.mapping_roots
        ]
        return lines + _asset_detail(a)
    return []


_DETAIL_LABELS = {"reappeared": "back from missing"}


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
    deleted = sum(isinstance(a, PruneSource) and a.will_delete for a in plan.actions)
    deleted += sum(isinstance(a, DeleteSource) for a in plan.actions)
    wiped = sum(a.assets for a in plan.actions if isinstance(a, WipeCollection))
    return (
        f"Plan: {plural(s.sources_create, 'source')} to create, {s.sources_update:,} to update"
        + (f", {deleted:,} to delete; " if deleted else "; ")
        + f"{plural(s.collections_discover, 'collection')} to discover, {s.collections_change:,} to change; "
        f"assets: {s.assets_new:,} to create, {s.assets_changed:,} to change, {s.assets_missing:,} to mark missing"
        + (f", {s.assets_reappeared:,} back from missing" if s.assets_reappeared else "")
        + (f", {wiped:,} to delete" if wiped else "")
        + (f"; enrich: {plural(s.assets_enrich, 'asset')}" if s.assets_enrich else "")
    )
