"""The recommender benchmark: ``python -m recommender.bench [--quick]``.

Runs :func:`recommender.evaluation.run_comparison` on MovieLens, prints one table and writes
the precision@k plot (see :mod:`recommender.bench.report` and :mod:`recommender.bench.cli`).
"""

from recommender.bench.cli import main

__all__ = ["main"]
