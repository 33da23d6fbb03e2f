"""What `retrovue worker` reports when it stops: as lines, and as the --json document."""

from __future__ import annotations

from typing import Any

from retrovue.model.worker import WorkerReport


def worker_lines(report: WorkerReport) -> list[str]:
    plural = "" if report.claimed == 1 else "s"
    lines = [
        f"Worker {report.worker_id}: {report.claimed:,} asset{plural} claimed in "
        f"{report.batches:,} batch{'' if report.batches == 1 else 'es'}; "
        f"{report.stored:,} result{'' if report.stored == 1 else 's'} stored "
        f"({report.failed:,} failed), {report.ready:,} asset{'' if report.ready == 1 else 's'} "
        "made ready"
    ]
    if report.dropped:
        lines.append(
            f"  {report.dropped:,} result{'' if report.dropped == 1 else 's'} not stored: the "
            "claim was lost, the file changed meanwhile, or another worker stored it first"
        )
    if report.reconnects:
        lines.append(f"  {report.reconnects:,} lost database connection(s); batches given up")
    for failure in report.failures:
        lines.append(
            f"  {failure.type} failed on {failure.path}: {failure.code}: {failure.message}"
        )
    if report.failed > len(report.failures):
        lines.append(f"  … and {report.failed - len(report.failures):,} more failures")
    return lines


def worker_document(report: WorkerReport) -> dict[str, Any]:
    return {
        "worker": report.worker_id,
        "batches": report.batches,
        "claimed": report.claimed,
        "stored": report.stored,
        "failed": report.failed,
        "ready": report.ready,
        "dropped": report.dropped,
        "reconnects": report.reconnects,
        "interrupted": report.interrupted,
        "failures": [
            {
                "asset_id": f.asset_id,
                "path": f.path,
                "enricher": f.type,
                "code": f.code,
                "message": f.message,
            }
            for f in report.failures
        ],
    }
