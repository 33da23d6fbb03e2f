"""What the source commands print (list-types, list, show, add, update, discover): documents and
human lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrovue.render.enrichment import attached_lines, spec_json
from retrovue.render.table import table_lines
from retrovue.render.values import count_noun, iso, redacted_config, uid, yes_no

if TYPE_CHECKING:
    from retrovue.app.source_add import SourceAdded
    from retrovue.app.source_discover import Discovery, FoundCollection
    from retrovue.app.source_read import SourceDetail, SourceListing, SourceType
    from retrovue.app.source_update import SourceUpdate
    from retrovue.model.snapshots import DbSource


def collection_brief(col) -> dict:
    """A stored collection, or one a dry run would store (then its id is None)."""
    return {
        "id": uid(col.id),
        "external_id": col.external_id,
        "name": col.name,
        "sync_enabled": col.sync_enabled,
        "ingestible": col.ingestible,
    }


def _enabled(source: DbSource) -> int:
    return sum(col.sync_enabled for col in source.collections)


def _ingestible(source: DbSource) -> int:
    return sum(col.ingestible for col in source.collections)


# -- list-types -----------------------------------------------------------------------------------


def _source_type(t: SourceType) -> dict:
    return {
        "type": t.type,
        "display_name": t.display_name,
        "importer_file": t.importer_file,
        "available": t.compliant,
        "interface_compliant": t.compliant,
        "status": "ok" if t.compliant else "error",
        "error": t.error,
        "parameters": {
            kind: [
                {"name": p.name, "flag": p.flag, "description": p.help, "sensitive": p.sensitive}
                for p in t.parameters
                if p.required == (kind == "required")
            ]
            for kind in ("required", "optional")
        },
    }


def source_types_document(types: list[SourceType]) -> dict:
    return {"status": "ok", "source_types": [_source_type(t) for t in types], "total": len(types)}


def source_types_lines(types: list[SourceType]) -> list[str]:
    """Each type with whether it is compliant and its parameters: the text says what --json
    says."""
    if not types:
        return ["No source types available"]
    lines = ["Available source types:"]
    for t in types:
        suffix = "" if t.compliant else f" (unavailable: {t.error})"
        lines.append(f"  {t.type} - {t.display_name}{suffix}")
        lines.append(f"      Compliant: {yes_no(t.compliant)}")
        lines += [f"      {_param_line(p)}" for p in t.parameters]
    lines.append(f"Total: {count_noun(len(types), 'source type')} available")
    return lines


def _param_line(p) -> str:
    notes = [n for n, on in (("required", p.required), ("sensitive", p.sensitive)) if on]
    head = f"{p.flag} ({', '.join(notes)})" if notes else p.flag
    return f"{head}: {p.help}" if p.help else head


# -- list -----------------------------------------------------------------------------------------


def sources_document(listing: SourceListing) -> dict:
    items = [
        {
            "id": str(item.source.id),
            "external_id": item.source.external_id,
            "name": item.source.name,
            "type": item.source.type,
            "available": item.available,
            "enabled_collections": _enabled(item.source),
            "ingestible_collections": _ingestible(item.source),
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
        }
        for item in listing.sources
    ]
    return {"status": "ok", "total": len(items), "sources": items}


def sources_lines(listing: SourceListing) -> list[str]:
    type_id = listing.type_id
    what = f"{type_id} " if type_id else ""
    if not listing.sources:
        return [f"No {what}sources configured", f"Total: 0 {what}sources configured"]
    lines = [f"{type_id.capitalize()} sources:" if type_id else "Configured sources:"]
    headers = ["NAME", "TYPE", "AVAILABLE", "ENABLED", "INGESTIBLE", "UPDATED", "ID"]
    rows = [
        [
            item.source.name,
            item.source.type,
            yes_no(item.available),
            f"{_enabled(item.source):,}",
            f"{_ingestible(item.source):,}",
            iso(item.updated_at) or "-",
            str(item.source.id),
        ]
        for item in listing.sources
    ]
    lines += table_lines(headers, rows)
    noun = "source" if len(listing.sources) == 1 else "sources"
    lines.append(f"Total: {len(listing.sources):,} {what}{noun} configured")
    return lines


# -- show -----------------------------------------------------------------------------------------


def source_document(detail: SourceDetail) -> dict:
    s = detail.source
    return {
        "status": "ok",
        "id": str(s.id),
        "external_id": s.external_id,
        "name": s.name,
        "type": s.type,
        "available": detail.available,
        "importer_name": detail.importer_name,
        "config": redacted_config(s.config, detail.sensitive),
        "enabled_collections": _enabled(s),
        "ingestible_collections": _ingestible(s),
        "collections": [
            {
                **collection_brief(shown.collection),
                "assets_count": shown.assets,
                "last_ingest_time": iso(shown.last_ingest_at),
                # attached to the collection itself; the source's come on top (issue 11)
                "enrichers": [spec_json(x) for x in shown.collection.enrichers],
            }
            for shown in detail.collections
        ],
        "enrichers": [spec_json(x) for x in s.enrichers],
        "created_at": iso(detail.created_at),
        "updated_at": iso(detail.updated_at),
    }


def _config_value(v) -> str:
    if isinstance(v, bool):
        return yes_no(v)
    if isinstance(v, list):
        return ",".join(str(i) for i in v)
    return str(v)


def source_lines(detail: SourceDetail) -> list[str]:
    s = detail.source
    config = redacted_config(s.config, detail.sensitive)
    lines = [
        f"Source: {s.name}",
        f"  ID: {s.id}",
        f"  External ID: {s.external_id}",
        f"  Type: {s.type}",
        f"  Available: {yes_no(detail.available)}",
        "  Config:",
        *(f"    {k}: {_config_value(v)}" for k, v in config.items()),
        f"  Enabled Collections: {_enabled(s):,}",
        f"  Ingestible Collections: {_ingestible(s):,}",
    ]
    if not detail.collections:
        lines.append("  Collections: none")
    else:
        lines.append("  Collections:")
        lines += [
            f"    \u2022 {c.collection.name} (ID: {c.collection.external_id}) "
            f"sync={yes_no(c.collection.sync_enabled)} "
            f"ingestible={yes_no(c.collection.ingestible)} assets={c.assets:,}"
            + _own_enrichers(c.collection)
            for c in detail.collections
        ]
    lines += attached_lines("Enrichers", s.enrichers)
    lines += [f"  Created: {iso(detail.created_at)}", f"  Updated: {iso(detail.updated_at)}"]
    return lines


def _own_enrichers(col) -> str:
    """` enrichers=+loudness` for a collection with attachments of its own."""
    if not col.enrichers:
        return ""
    return " enrichers=" + ",".join(f"+{x.type}" for x in col.enrichers)


# -- add ------------------------------------------------------------------------------------------


def added_document(added: SourceAdded) -> dict:
    return {
        "status": "ok",
        "id": uid(added.id),
        "external_id": added.external_id,
        "name": added.name,
        "type": added.type_id,
        "config": redacted_config(added.config, added.sensitive),
        "importer_name": added.importer_name,
        "collections_discovered": len(added.upstream or ()),
        "collections": [collection_brief(col) for col in added.collections],
        "dry_run": added.dry_run,
    }


def added_lines(added: SourceAdded) -> list[str]:
    lines = [
        f"Successfully created {added.type_id} source: {added.name}",
        f"  Name: {added.name}",
        f"  ID: {added.id}",
        f"  External ID: {added.external_id}",
        f"  Type: {added.type_id}",
    ]
    if added.upstream is not None:
        lines.append(f"  Collections discovered: {len(added.collections):,}")
        lines += [
            f"    \u2022 {col.name} (ID: {col.external_id}) - Disabled by default"
            for col in added.collections
        ]
    return lines


# -- update ---------------------------------------------------------------------------------------


def update_preview_document(update: SourceUpdate) -> dict:
    s = update.before
    return {
        "status": "ok",
        "dry_run": True,
        "id": str(s.id),
        "external_id": s.external_id,
        "current_name": s.name,
        "proposed_name": update.name,
        "type": s.type,
        "current_config": redacted_config(s.config, update.sensitive),
        "proposed_config": redacted_config(update.config, update.sensitive),
        "updated_parameters": list(update.updated),
    }


def updated_document(update: SourceUpdate) -> dict:
    s = update.before
    return {
        "status": "ok",
        "id": str(s.id),
        "external_id": s.external_id,
        "name": update.name,
        "type": s.type,
        "config": redacted_config(update.config, update.sensitive),
        "updated_at": iso(update.updated_at),
        "updated_parameters": list(update.updated),
        "dry_run": False,
    }


def updated_lines(update: SourceUpdate) -> list[str]:
    if not update.updated:
        return [f"No changes for source: {update.name}; nothing changed"]
    return [
        f"Successfully updated source: {update.name}",
        "Updated Parameters:",
        *(f"  - {name}" for name in update.updated),
    ]


# -- discover -------------------------------------------------------------------------------------


def discovery_document(d: Discovery) -> dict:
    s = d.source
    return {
        "status": "ok",
        "source": {"id": str(s.id), "name": s.name, "type": s.type, "external_id": s.external_id},
        "collections_added": d.count("added"),
        "collections_updated": d.count("updated"),
        "collections_unchanged": d.count("unchanged"),
        "collections": [
            {
                "id": uid(c.id),
                "external_id": c.found.upstream.external_id,
                "name": c.found.upstream.name,
                "sync_enabled": c.sync_enabled,
                "ingestible": c.ingestible,
                "source_type": s.type,
                "status": c.found.status,
                "previous_name": c.found.previous_name,
            }
            for c in d.collections
        ],
        "collections_gone": [
            {"id": str(g.id), "external_id": g.external_id, "name": g.name} for g in d.gone
        ],
        "dry_run": d.dry_run,
    }


def _note(c: FoundCollection) -> str:
    if c.found.status == "updated":
        return f"Renamed from '{c.found.previous_name}'"
    return {"added": "Disabled by default", "unchanged": "Already exists, skipped"}[c.found.status]


def discovery_lines(d: Discovery) -> list[str]:
    s = d.source
    if d.upstream is None:
        return [f"Source '{s.name}' ({s.type}) cannot list collections; nothing changed"]
    if not d.upstream:
        return [f"No collections found for source '{s.name}'"]
    added = d.count("added")
    lines = [f"Successfully added {count_noun(added, 'collection')} from '{s.name}':"]
    for c in d.collections:
        up = c.found.upstream
        lines.append(f"  \u2022 {up.name} (ID: {up.external_id}) - {_note(c)}")
    lines += [
        f"  \u2022 {g.name} (ID: {g.external_id}) - No longer offered upstream, kept"
        for g in d.gone
    ]
    if added:
        lines.append(
            "Use 'retrovue collection update <name> --sync-enable' to enable collections for sync"
        )
    return lines
