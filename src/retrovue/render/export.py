"""The database as retrovue.yaml (`retrovue export`), so an imperatively built setup can be adopted.

The output is written so that `retrovue plan` with it shows no changes: sources keep their
``external_id`` (identity), collections are addressed by ``external_id`` (their name is kept
for the reader), every stored collection is listed with its sync flag (one the upstream no
longer offers too: listed by external_id, the plan reports it as gone instead of refusing it),
and path mappings with a ``local_path`` are declared (the unset ones are discovery's).
Enricher attachments are written where they are stored (on the source or on one collection),
and so are ``exclude:`` patterns (a collection's are stored in its source's config).

``missing_threshold`` is the one setting it cannot give back: the database does not store it.

Secrets are never exported (``retrovue.app.export`` decides how each is withheld): each is
written as its ``${VAR}`` reference with a comment naming the variable to set.  Strings are
emitted JSON-quoted (valid YAML) with ``$`` doubled, because the loader interpolates ``${…}`` in
every string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from retrovue.model.enrichment import EnricherSpec, run_order
from retrovue.model.upstream import COLLECTION_EXCLUDE

if TYPE_CHECKING:
    from retrovue.app.export import Export, ExportedSecret, ExportedSource
    from retrovue.model.snapshots import DbCollection

#: relative to the YAML file, so editors find it offline: `retrovue schema config` writes it
SCHEMA_LINE = (
    "# yaml-language-server: $schema=./retrovue.schema.json\n"
    "# (write that file beside this one with: retrovue schema config > retrovue.schema.json)"
)
#: the database keeps no threshold (a plan reads it from the file), so export cannot know one
THRESHOLD_NOTE = (
    "# missing_threshold is not stored in the database, so it is not exported: if your file",
    "# set one (top level or per collection), set it here again, or the default 0.2 applies.",
)


def export_document(export: Export) -> dict[str, Any]:
    return {
        "status": "ok",
        "yaml": export_yaml(export),
        "variables": [
            {"name": s.variable, "source": s.source, "key": s.key} for s in export.secrets
        ],
    }


def secret_notes(export: Export) -> list[str]:
    """For stderr: each variable to set before the file is used."""
    return [
        f'note: set {s.variable} (the {s.key} of source "{s.source}") before using this file'
        for s in export.secrets
    ]


def scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value.replace("$", "$$"), ensure_ascii=False)
    if isinstance(value, (list, dict)):  # flow style: JSON is valid YAML
        return json.dumps(_escape_dollars(value), ensure_ascii=False)
    return json.dumps(value)


def _escape_dollars(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    return value


def export_yaml(export: Export) -> str:
    body: list[str] = []
    for source in export.sources:
        body += _source_lines(source)
    head = [SCHEMA_LINE, "# Exported by `retrovue export` from the current database."]
    if export.sources:
        head += THRESHOLD_NOTE
    if export.secrets:
        head.append(
            "# Secrets are not exported. Before `retrovue plan`, set: "
            + ", ".join(s.variable for s in export.secrets)
        )
    head += ["version: 1"]
    head.append("sources:" if body else "sources: []")
    return "\n".join(head + body) + "\n"


def _source_lines(exported: ExportedSource) -> list[str]:
    source = exported.source
    secrets = {s.key: s for s in exported.secrets}
    lines = [
        f"  - name: {scalar(source.name)}",
        f"    type: {scalar(source.type)}",
        f"    external_id: {scalar(source.external_id)}",
    ]
    if not exported.importer_loaded:
        lines.insert(
            0,
            f"  # importer type {source.type!r} is not loaded here: keys that look secret are withheld",
        )
    config = {k: v for k, v in source.config.items() if k != COLLECTION_EXCLUDE}
    lines.append("    config:" if config else "    config: {}")
    for key in sorted(config):
        secret = secrets.get(key)
        if secret is None:
            lines.append(f"      {key}: {scalar(config[key])}")
            continue
        lines.append(
            f"      # secret: set {secret.variable} to this source's {key} (the value is not exported)"
        )
        lines.append(f"      {key}: {_reference(secret)}")
    lines += _enricher_lines(source.enrichers, "    ")
    excludes = dict(source.config.get(COLLECTION_EXCLUDE) or {})
    if source.collections or excludes:
        lines.append("    collections:")
    for collection in source.collections:
        lines += _collection_lines(collection, _pop_declared(excludes, collection.external_id))
    for declared_as, patterns in excludes.items():  # declared, and no collection stored yet
        lines.append(f"      - external_id: {scalar(declared_as)}")
        lines.append(f"        exclude: {scalar(patterns)}")
    return lines


def _reference(secret: ExportedSecret) -> str:
    stored = secret.stored_reference
    return json.dumps(stored) if stored else f"${{{secret.variable}}}"


def _pop_declared(excludes: dict[str, list[str]], external_id: str) -> list[str] | None:
    """A collection's patterns, declared by its external_id or by its name (the same word for
    a folder, in any case, as declarations match)."""
    if external_id in excludes:
        return excludes.pop(external_id)
    folded = external_id.casefold()
    key = next((k for k in excludes if k.casefold() == folded), None)
    return excludes.pop(key) if key is not None else None


def _collection_lines(c: DbCollection, exclude: list[str] | None = None) -> list[str]:
    lines = [
        f"      - name: {scalar(c.name)}",
        f"        external_id: {scalar(c.external_id)}",
        f"        sync: {scalar(c.sync_enabled)}",
    ]
    if exclude:
        lines.append(f"        exclude: {scalar(exclude)}")
    mapped = [m for m in c.path_mappings if m.local_path]
    if mapped:
        lines.append("        path_mappings:")
        for m in mapped:
            lines.append(f"          - plex_path: {scalar(m.upstream_path)}")
            lines.append(f"            local_path: {scalar(m.local_path)}")
    lines += _enricher_lines(c.enrichers, "        ")
    return lines


def _enricher_lines(specs: tuple[EnricherSpec, ...], indent: str) -> list[str]:
    """``enrichers:`` when some are attached (none: the key is left out, so a plan leaves the
    attachments alone): a bare type, or a mapping when the priority or params are not defaults."""
    if not specs:
        return []
    lines = [f"{indent}enrichers:"]
    for spec in run_order(specs):
        if spec.priority == 0 and not spec.params:
            lines.append(f"{indent}  - {scalar(spec.type)}")
            continue
        item: dict[str, Any] = {"type": spec.type, "priority": spec.priority}
        if spec.params:
            item["params"] = dict(spec.params)
        lines.append(f"{indent}  - {scalar(item)}")
    return lines
