"""The recommender benchmark: ``python -m benchmarks.recommender [--quick]``
(``make bench-recommender``).

Runs :func:`benchmarks.recommender.evaluation.run_comparison` on MovieLens, prints one table
and writes the precision@k plot (see :mod:`benchmarks.recommender.report` and
:mod:`benchmarks.recommender.cli`).
"""
