"""A histogram drawn as inline SVG: bars, the axis's two ends and each bar's count as its
tooltip (<title>), so the page needs no script and no image request."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 480, 160, 24


def histogram_svg(bins, label: str, fmt: Callable[[float], str]) -> Markup:
    """``bins``: observe.activity.Bins, or None (nothing measured yet)."""
    if bins is None or not any(bins.counts):
        return Markup('<p class="empty">{}: nothing measured yet</p>').format(label)
    n, top = len(bins.counts), max(bins.counts)
    bar = (WIDTH - 2 * PAD) / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, count in enumerate(bins.counts):
        h = 0 if top == 0 else (HEIGHT - 2 * PAD) * count / top
        x, y = PAD + i * bar, HEIGHT - PAD - h
        low, high = bins.low + i * bins.width, bins.low + (i + 1) * bins.width
        tip = escape(f"{fmt(low)} – {fmt(high)}: {count:,}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}">'
            f"<title>{tip}</title></rect>"
        )
    end = bins.low + n * bins.width
    parts += [
        f'<text x="{PAD}" y="{HEIGHT - 6}">{escape(fmt(bins.low))}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end">{escape(fmt(end))}</text>',
        f'<text x="{PAD}" y="14">{escape(label)} (max {top:,})</text>',
        "</svg>",
    ]
    return Markup("".join(parts))


def minutes(ms: float) -> str:
    return f"{ms / 60_000:.1f} min"


def lufs(value: float) -> str:
    return f"{value:.1f} LUFS"
