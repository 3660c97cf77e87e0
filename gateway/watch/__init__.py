"""The consortium watch at a data owner: features of each reading member's traffic
(:mod:`.features`), a detector fitted on the owner's own history (:mod:`.detector`), the
monitor that turns scores into alerts (:mod:`.monitor`), the brake on flagged readers
(:mod:`.brake`) and the running service that records alerts on the ledger (:mod:`.service`).

The first three are pure (time is an argument), so the benchmark replays simulated days
through exactly the code the gateway runs (``python -m benchmarks.watch``).
"""
