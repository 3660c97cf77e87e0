"""The consortium watch benchmark: simulated days of member reads at one owner, with
injected anomalies, replayed through the gateway's own watch (``python -m benchmarks.watch``)."""
