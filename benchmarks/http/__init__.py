"""Latency through a running gateway's HTTPS API: ``python -m benchmarks.http``."""
