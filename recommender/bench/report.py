"""Rendering of a :class:`~recommender.evaluation.ComparisonResult`: a text table and a plot."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from recommender.evaluation import ComparisonResult

_COLUMNS = (
    ("model", "{:<15}"),
    ("split", "{:<9}"),
    ("P@{k}", "{:>7.4f}"),
    ("R@{k}", "{:>7.4f}"),
    ("nDCG@{k}", "{:>8.4f}"),
    ("AUC", "{:>7.4f}"),
    ("Cov@{k}", "{:>7.4f}"),
    ("train s", "{:>8.2f}"),
    ("ms/user", "{:>8.3f}"),
    ("users", "{:>5d}"),
    ("chosen params", "{}"),
)


def format_table(result: ComparisonResult) -> str:
    """One row per (model, split): test metrics, training seconds, median ms to score and rank
    one user, evaluated users and the grid point chosen on validation."""
    k = result.rows[0].k if result.rows else 10
    cells = [
        [
            fmt.format(value)
            for (_, fmt), value in zip(
                _COLUMNS,
                (
                    r.model,
                    r.split,
                    r.precision,
                    r.recall,
                    r.ndcg,
                    r.auc,
                    r.coverage,
                    r.train_seconds,
                    r.ms_per_user,
                    r.n_test_users,
                    r.params,
                ),
                strict=True,
            )
        ]
        for r in result.rows
    ]
    headers = [name.format(k=k) for name, _ in _COLUMNS]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = [
            v.ljust(w) if i in (0, 1, len(widths) - 1) else v.rjust(w)
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
