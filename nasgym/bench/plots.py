"""Anytime plots: best-so-far curves against queries or simulated time, mean and 95% bootstrap
band over seeds, one column per (space, dataset)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasgym.bench.histories import read_history

if TYPE_CHECKING:
    from nasgym.bench.report import Group

#: anytime plot of each x axis
PLOT_FILES = {"queries": "anytime.png", "sim_time": "anytime_sim_time.png"}


def mean_and_band(curves: np.ndarray, n_resamples: int = 1000, level: float = 0.95) -> tuple[np.ndarray, ...]:
    """Mean over seeds (axis 0) and a bootstrap percentile band of that mean, per point.

    :param curves: array (seeds, points).
    :param n_resamples: bootstrap resamples of the seeds.
    :param level: coverage of the band.
    """
    n_seeds = curves.shape[0]
    draws = np.random.default_rng(0).integers(0, n_seeds, size=(n_resamples, n_seeds))
    weights = np.zeros((n_resamples, n_seeds))
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0 / n_seeds)
    resampled = weights @ curves  # (resamples, points): the mean of each resample
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail], axis=0)
    return curves.mean(axis=0), low, high


def curve_on_grid(positions: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A best-so-far step curve read at ``grid``: the value after the last query at or before each
    point (NaN before the first query).

    :param positions: increasing position of each query (its number, or its simulated time).
    :param values: the best-so-far value after each query.
    :param grid: where to read the curve.
    """
    last = np.searchsorted(positions, grid, side="right") - 1
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)


def _line_label(group: Group) -> str:
    variant = group.protocol.variant
    return f"{group.method} ({variant})" if variant else group.method


def plot_anytime(out: Path, groups: list[Group], axis: str) -> Path | None:
    """Draw the best-so-far curves of ``groups`` against queries or simulated time.

    ``axis="queries"`` draws, per method, dataset and protocol variant, the runs of the largest
    query budget; ``axis="sim_time"`` those of the largest simulated-time limit. Returns the PNG's
    path, or ``None`` where no run fits the axis.
    """
    if axis not in PLOT_FILES:
        raise ValueError(f"axis {axis!r} is unknown; accepted: {list(PLOT_FILES)}")
    timed = axis == "sim_time"

    def size(group: Group) -> float | None:
        return group.protocol.sim_time_limit if timed else group.protocol.budget

    candidates = [g for g in groups if size(g) is not None]
    if not candidates:
        return None
    largest: dict[tuple, float] = {}
    for g in candidates:
        line_key = (g.method, g.space, g.dataset, g.protocol.variant)
        largest[line_key] = max(largest.get(line_key, 0.0), size(g))
    chosen = [g for g in candidates if size(g) == largest[g.method, g.space, g.dataset, g.protocol.variant]]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((g.space, g.dataset) for g in chosen))
    several_spaces = len({space for space, _ in panels}) > 1
    figure, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 7), squeeze=False, sharex="col")
    # one colour (and line style: dashed for SB3) per line across panels, so one legend serves all
    line_labels = sorted({_line_label(g) for g in chosen}, key=lambda label: (label.startswith("sb3:"), label))
    palette = plt.get_cmap("tab20" if len(line_labels) > 10 else "tab10")
    styles = {
        label: {"color": palette(i % palette.N), "linestyle": "--" if label.startswith("sb3:") else "-"}
        for i, label in enumerate(line_labels)
    }
    # the y range starts where the curves are after 10 queries (10% of the time): the first few
    # queries are far below and would squash the differences that matter
    early_means: dict[tuple[int, int], list[float]] = {}
    for column, (space, dataset) in enumerate(panels):
        for group in (g for g in chosen if (g.space, g.dataset) == (space, dataset)):
            grid = np.linspace(0.0, size(group), 400) if timed else np.arange(1, size(group) + 1, dtype=np.float64)
            early = min(len(grid) - 1, 40 if timed else 9)
            histories = [read_history(out, row) for row in group.rows]
            label = _line_label(group)
            positions = [h["sim_time"] if timed else np.arange(1, len(h["index"]) + 1) for h in histories]
            for row_index, metric in enumerate(("best_valid_acc", "best_test_acc")):
                curves = np.array(
                    [curve_on_grid(p, h[metric], grid) for p, h in zip(positions, histories, strict=True)]
                )
                if np.isnan(curves[:, -1]).all():  # no test accuracies in the tables
                    continue
                mean, low, high = mean_and_band(curves)
                panel = axes[row_index, column]
                panel.plot(grid, mean, label=f"{label}, n={len(histories)}", linewidth=1.2, **styles[label])
                panel.fill_between(grid, low, high, color=styles[label]["color"], alpha=0.12, linewidth=0)
                if np.isfinite(mean[early]):
                    early_means.setdefault((row_index, column), []).append(float(mean[early]))
        axes[0, column].set_title(f"{space}: {dataset}" if several_spaces else dataset)
        axes[0, column].set_ylabel("validation accuracy (%)")
        axes[1, column].set_ylabel("test accuracy (%)")
        axes[1, column].set_xlabel("simulated training time (s)" if timed else "queries (log scale)")
        if not timed:  # the first queries gain the most: a log axis shows them beside the late gains
            axes[1, column].set_xscale("log")
        for row_index, panel in enumerate(axes[:, column]):
            panel.grid(alpha=0.3)
            if not panel.lines:
                panel.text(0.5, 0.5, "no test accuracies", ha="center", transform=panel.transAxes)
            elif (row_index, column) in early_means:
                top = max(float(np.nanmax(line.get_ydata())) for line in panel.lines)
                panel.set_ylim(min(early_means[row_index, column]) - 0.2, top + 0.3)
    legend: dict[str, Any] = {}  # label -> handle, over all panels (a line may miss a dataset)
    for panel in axes.flat:
        for handle, label in zip(*panel.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    figure.suptitle(
        "Best-so-far architecture (best mean observed validation accuracy): its seed-mean accuracy at the env's "
        "default fidelity; mean over seeds, 95% bootstrap band",
        fontsize="medium",
    )
    figure.tight_layout()
    path = out / PLOT_FILES[axis]
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path
