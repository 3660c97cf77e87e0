"""Rendering of :class:`~benchmarks.recommender.evaluation.ComparisonResult` s: a text table
and a plot.

Several results (one per seed) become one table: each cell is the mean over seeds and, with
two or more seeds, ``± sd`` (the sample standard deviation across seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmarks.recommender.evaluation import ComparisonResult, ResultRow

#: (header, ResultRow attribute, decimals) of each numeric column.
_METRICS = (
    ("P@{k}", "precision", 4),
    ("R@{k}", "recall", 4),
    ("nDCG@{k}", "ndcg", 4),
    ("AUC", "auc", 4),
    ("Cov@{k}", "coverage", 4),
    ("train s", "train_seconds", 2),
    ("ms/user", "ms_per_user", 3),
)


def _cell(values: Sequence[float], decimals: int) -> str:
    mean = f"{np.mean(values):.{decimals}f}"
    if len(values) < 2:
        return mean
    return f"{mean} ± {np.std(values, ddof=1):.{decimals}f}"


def _rows_by_key(results: Sequence[ComparisonResult]) -> dict[tuple[str, str], list[ResultRow]]:
    if not results:
        raise ValueError("no results to format")
    grouped: dict[tuple[str, str], list[ResultRow]] = {}
    for result in results:
        for row in result.rows:
            grouped.setdefault((row.model, row.split), []).append(row)
    if any(len(rows) != len(results) for rows in grouped.values()):
        raise ValueError("the results do not hold the same (model, split) rows")
    return grouped


def format_table(results: ComparisonResult | Sequence[ComparisonResult]) -> str:
    """One row per (model, split): test metrics (mean ± sd over the results), training
    seconds, median ms to score and rank one user, evaluated users and the grid point chosen on
    validation (per result, ``;``-separated when they differ).

    Raises ``ValueError`` on no results or results with different rows.
    """
    many = [results] if isinstance(results, ComparisonResult) else list(results)
    grouped = _rows_by_key(many)
    k = many[0].rows[0].k if many[0].rows else 10
    headers = ["model", "split", *(h.format(k=k) for h, _, _ in _METRICS), "users", "params"]
    cells = []
    for (model, split), rows in grouped.items():
        params = "; ".join(dict.fromkeys(r.params for r in rows))
        users = str(rows[0].n_test_users)
        metrics = [_cell([getattr(r, attr) for r in rows], dec) for _, attr, dec in _METRICS]
        cells.append([model, split, *metrics, users, params])
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    left = {0, 1, len(headers) - 1}

    def line(values: list[str]) -> str:
        parts = [
            v.ljust(w) if i in left else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def plot_precision_curves(result: ComparisonResult, path: str | Path) -> Path:
    """Write precision@k against k for every model, one panel per split, as a PNG at ``path``
    (parent directories are created). Uses the Agg canvas directly: no global backend state."""
    splits = list(dict.fromkeys(split for _, split in result.precision_curves))
    models = list(dict.fromkeys(model for model, _ in result.precision_curves))
    if not splits:
        raise ValueError("the result has no precision curves to plot")
    figure = Figure(figsize=(5 * len(splits), 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(splits), sharey=True, squeeze=False)[0]
    for ax, split in zip(axes, splits, strict=True):
        for model in models:
            curve = result.precision_curves.get((model, split))
            if curve:
                ks = sorted(curve)
                ax.plot(ks, [curve[k] for k in ks], marker="o", markersize=3, label=model)
        ax.set_title(f"MovieLens, {split} split")
        ax.set_xlabel("k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision@k (test)")
    axes[0].legend()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    return out
