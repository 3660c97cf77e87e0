"""Every benchmark and experiment of prefshare, outside the product packages.

One naming style: ``python -m benchmarks.NAME [--help]`` from the checkout's root, each
importing the product as a user would (``ledger``, ``http``, ``kiosk``, ``recommender``,
``consortium``, ``serving``; ``make bench-*`` runs them).
"""
