"""Suggestion latency on the demo world: ``python -m benchmarks.serving``
(``make bench-serving``)."""
