"""``chart.png`` beside ``results.md``: for each workload, every client's ratio to its
section's baseline peer (s3fs on the S3 endpoint, ossfs on the OSS gateway).

Ratios rather than raw figures, so that throughputs and listing times share one reading
(right of 1 is faster) and one logarithmic axis, on which 2x faster and 2x slower are the
same distance from 1. The sections stay apart within each panel, since their ratios have
different baselines.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.clients import describe_error
from benchmarks.report import SECTIONS, Figure, Results

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_COLUMNS = 3
_OURS_COLOUR = "tab:blue"
_PEER_COLOUR = "tab:gray"
_SECTION_GAP = 0.8  # empty rows between the sections of a panel


def write_chart(results: Results, path: Path) -> str:
    """Draw the chart; what was done, for the progress log (matplotlib may be missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError as error:
        return f"chart not drawn: {describe_error(error)}"
    panels = _panels(results.figures)
    if not panels:
        return "chart not drawn: no figures"
    rows = math.ceil(len(panels) / _COLUMNS)
    figure, axes = plt.subplots(rows, _COLUMNS, figsize=(6 * _COLUMNS, 4.2 * rows),
                                squeeze=False)
    for ax, (workload, figures) in zip(axes.flat, panels.items(), strict=False):
        _draw_panel(ax, workload, figures)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    baselines = " / ".join(
        f"{section.baseline} ({title.split(' (')[0]})" for title, section in SECTIONS.items()
    )
    figure.suptitle(
        f"Times faster than {baselines}, log scale; right of 1 is faster. "
        "Blue: fsspec-unified. Medians over the rounds.",
        fontsize=13,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return f"wrote {path}"


def _panels(figures: list[Figure]) -> dict[str, list[Figure]]:
    """The measured figures of each workload, in run order, sections in table order."""
    panels: dict[str, list[Figure]] = {}
    for figure in figures:
        if not figure.not_measured:
            panels.setdefault(figure.workload, []).append(figure)
    order = list(SECTIONS)
    return {
        workload: sorted(group, key=lambda figure: order.index(figure.section))
        for workload, group in panels.items()
    }


def _ratio(figure: Figure, group: list[Figure]) -> float | None:
    baseline_name = SECTIONS[figure.section].baseline
    baseline = next((f for f in group if f.client == baseline_name
                     and f.section == figure.section), None)
    return figure.times_faster_than(baseline)


def _draw_panel(ax: Axes, workload: str, figures: list[Figure]) -> None:
    positions, labels, previous_section, y = [], [], None, 0.0
    for figure in figures:
        if previous_section is not None and figure.section != previous_section:
            # Halfway between the last row of one section and the first of the next.
            ax.axhline(y - 1 + (1 + _SECTION_GAP) / 2, color="lightgray", linestyle=":")
            y += _SECTION_GAP
        positions.append(y)
        labels.append(figure.client)
        previous_section = figure.section
        y += 1
    ratios = [_ratio(figure, figures) for figure in figures]
    known = [ratio for ratio in ratios if ratio]
    low = min([0.5, *(ratio / 1.6 for ratio in known)])
    high = max([2.0, *(ratio * 1.6 for ratio in known)])
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ticks = [2.0**power for power in range(-6, 7) if low <= 2.0**power <= high]
    ax.set_xticks(ticks, [f"{tick:g}x" for tick in ticks])
    ax.minorticks_off()
    for position, figure, ratio in zip(positions, figures, ratios, strict=True):
        if ratio is None:
            baseline = SECTIONS[figure.section].baseline
            text = "FAILED" if not figure.ok else f"no {baseline} figure to compare with"
            ax.text(1, position, f" {text}", va="center", fontsize=9, color="darkred")
            continue
        colour = _OURS_COLOUR if figure.ours else _PEER_COLOUR
        # Bars grow from 1, to the right when faster, to the left when slower.
        ax.barh(position, ratio - 1, left=1, color=colour, height=0.7)
        ax.text(ratio, position, f" {ratio:.2f}x ",
                va="center", ha="left" if ratio >= 1 else "right", fontsize=9)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_ylim(y - 0.4, -0.6)  # first row at the top, half a row of room at either end
    unit = figures[0].unit
    better = "higher" if figures[0].higher_is_better else "lower"
    ax.set_title(f"{workload} ({unit}, {better} is better)", fontsize=11)
    ax.set_axisbelow(True)
    ax.grid(axis="x", color="gainsboro")
