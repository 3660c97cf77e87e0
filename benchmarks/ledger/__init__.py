"""Ledger figures on a running network: ``python -m benchmarks.ledger`` (``make bench-ledger``)."""
