"""Human output of the imperative commands (contracts §1–§15): plain lines, no I/O."""

from __future__ import annotations

from retrovue.model.counts import IngestCounts


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """`2,931 assets`, `1 asset` (§0.2)."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def counts_notation(c: IngestCounts) -> str:
    """§12.2 counts notation."""
    return (
        f"+{c.new:,} ~{c.changed:,} ={c.unchanged:,} -{c.missing:,}, {c.remapped:,} remapped, "
        f"{c.duplicates:,} duplicates, {c.unmapped:,} unmapped"
    )


def ingest_stats(c: IngestCounts) -> dict:
    """§12.3 `stats`."""
    return {
        "assets_discovered": c.discovered,
        "assets_ingested": c.new,
        "assets_updated": c.changed,
        "assets_remapped": c.remapped,
        "assets_unchanged": c.unchanged,
        "assets_skipped": c.unchanged + c.unmapped,
        "assets_unmapped": c.unmapped,
        "duplicates_prevented": c.duplicates,
        "assets_missing": c.missing,
        "assets_reappeared": c.reappeared,
        "assets_auto_ready": 0,
        "assets_needs_enrichment": c.new + c.changed,
        "assets_needs_review": 0,
    }


def ingest_header(
    scope: str, name: str, title: str | None, season: int | None, episode: int | None
) -> str:
    if scope == "episode":
        return (
            f"Ingesting episode S{season:02d}E{episode:02d} of '{title}' from collection '{name}'"
        )
    if scope == "season":
        return f"Ingesting season {season} of '{title}' from collection '{name}'"
    if scope == "title":
        return f"Ingesting title '{title}' from collection '{name}'"
    return f"Ingesting entire collection '{name}'"


def ingest_lines(header: str, name: str, c: IngestCounts, skipped) -> list[str]:
    lines = [
        header,
        f"Assets discovered: {c.discovered:,}",
        f"Assets ingested: {c.new:,}",
        f"Assets updated: {c.changed:,}",
        f"Assets remapped: {c.remapped:,}",
        f"Assets unchanged: {c.unchanged:,}",
        f"Assets skipped: {c.unchanged + c.unmapped:,} (unmapped: {c.unmapped:,})",
        f"Duplicates prevented: {c.duplicates:,}",
        f"Assets marked missing: {c.missing:,}",
        f"Assets reappeared: {c.reappeared:,}",
    ]
    lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in skipped]
    lines.append(f"Ingest complete for collection '{name}'")
    return lines


def mapping_line(plex_path: str, local_path: str | None) -> str:
    return f"    \u2022 {plex_path} -> {local_path if local_path is not None else '(unmapped)'}"
