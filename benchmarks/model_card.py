"""The demo world's model cards and retrain times: ``python -m benchmarks.model_card
[--seed 13] [--customers 200]``.

The world ``make run`` seeds (network/consortium.yaml's retailers, seed 13, 200 customers),
each retailer given exactly what the ledger would let it read for personalisation: its own
events, and another member's events of a customer whose consent plan (demo/world.py) names
it (or ``*``), covers personalisation and the event's data category, and is not withdrawn.
Each retailer's candidate is then trained, carded and gated as a retrain does
(:func:`recommender.candidate.train_candidate`, no serving model: the bias checks alone,
with the gateway's default thresholds), and its card printed with the wall time of the
training and carding (the ledger read of a real retrain comes on top: about a second for
the demo's few thousand records). Figures only, nothing personal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from chaincode.preferences import CATEGORY_OF_EVENT_TYPE
from chaincode.provenance import hash_consent_set
from demo.world import consent_plan, demo_world, world_config
from network.description import load_consortium
from recommender.candidate import train_candidate
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.gate import Thresholds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--description", type=Path, default=Path("network/consortium.yaml"))
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--customers", type=int, default=200)
    args = p.parse_args(argv)
    consortium = load_consortium(args.description)
    world = demo_world(world_config(consortium, seed=args.seed, customers=args.customers,
                                    start=1_750_000_000.0))
    catalogue = catalogue_from_world(world)
    plans = {c.customer_id: consent_plan(j, c) for j, c in enumerate(world.customers)}
    out = sys.stdout
    for retailer in consortium.retailers:
        msp = retailer.msp_id

        def readable(event: object, reader: str = msp) -> bool:
            if event.retailer == reader:  # type: ignore[attr-defined]
                return True
            plan = plans[event.customer_id]  # type: ignore[attr-defined]
            return (not plan.withdraw and "personalisation" in plan.purposes
                    and ("*" in plan.recipients or reader in plan.recipients)
                    and CATEGORY_OF_EVENT_TYPE[event.event_type]  # type: ignore[attr-defined]
                    in plan.categories)

        events = [e for e in world.events if readable(e)]
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            candidate = train_candidate(msp, events, catalogue, output_dir=Path(tmp) / "m",
                                        block_height=1, consent_set_hash=hash_consent_set([]),
                                        serving_dir=None, thresholds=Thresholds())
        seconds = time.monotonic() - started
        verdict = "passes" if candidate.decision.install else "refused: " + ", ".join(
            r.figure for r in candidate.decision.refusals)
        out.write(f"\n{msp}: {len(events)} readable records, trained and carded in "
                  f"{seconds:.1f} s; gate {verdict}\n")
        for name, value in candidate.card.items():
            out.write(f"  {name:40} {value:g}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
