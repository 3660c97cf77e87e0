"""Print the consortium lift table: ``python -m benchmarks.consortium [--quick]``.

Runs :func:`benchmarks.consortium.run_experiment` on each world and writes one table to
stdout: precision@10 and recall@10 of the siloed, shared and partly-consented shared models per
retailer and case, and the lift ``condition / silo - 1``. Nothing personal is printed: rows are
retailers, not customers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence

from benchmarks.consortium import (
    RULES,
    SEGMENTS,
    SERVED_RULE,
    THIN_MAX,
    WORLDS,
    ExperimentResult,
    lift_sd,
    pool_runs,
    run_experiment,
)


def _pct(value: float, sign: str = "+") -> str:
    return f"{value:{sign}.1%}" if value == value else "n/a"  # nan-safe


def format_table(runs: Mapping[str, Sequence[ExperimentResult]]) -> str:
    """The lift table, as text: one line per (world, case, retailer) and, for all retailers,
    per consent segment (``any``, ``yes`` consenting, ``no`` not), metrics pooled over the
    runs (seeds) of each world; ``sd`` is the standard deviation over runs of the lift before
    it (shared, and served at the consent share).

    Raises ``ValueError`` when there is nothing to format.
    """
    if not runs or not all(runs.values()):
        raise ValueError("no results to format")
    first = next(iter(runs.values()))[0]
    consent = f"consent{first.consent_share:.0%}"
    header = (
        f"{'world':<18}{'case':<5}{'retailer':<9}{'consent':<8}{'n':>6}"
        f"{'P@10 silo':>10}{'shared':>8}{'lift':>8}{'sd':>7}{consent:>11}{'lift':>8}"
        f"{'no-ctx':>8}{'lift':>8}{'served':>8}{'lift':>8}{'sd':>7}"
        f"{'R@10 silo':>11}{'shared':>8}{'lift':>8}{consent:>11}{'lift':>8}{'served':>8}"
        f"{'lift':>8}"
    )
    lines = [header, "-" * len(header)]
    for world, results in runs.items():
        for row in pool_runs(results):
            s = row.scores
            sd = lift_sd(results, row.case, "shared", retailer=row.retailer, segment=row.segment)
            served_sd = lift_sd(
                results, row.case, "served", retailer=row.retailer, segment=row.segment
            )
            lines.append(
                f"{world:<18}{row.case:<5}{row.retailer:<9}{row.segment:<8}{row.n_users:>6}"
                f"{s['silo'].precision:>10.4f}{s['shared'].precision:>8.4f}"
                f"{_pct(row.lift('shared')):>8}{_pct(sd, '-'):>7}"
                f"{s['shared_consent'].precision:>11.4f}{_pct(row.lift('shared_consent')):>8}"
                f"{s['shared_no_context'].precision:>8.4f}"
                f"{_pct(row.lift('shared_no_context')):>8}"
                f"{s['served'].precision:>8.4f}{_pct(row.lift('served')):>8}"
                f"{_pct(served_sd, '-'):>7}"
                f"{s['silo'].recall:>11.4f}{s['shared'].recall:>8.4f}"
                f"{_pct(row.lift('shared', 'recall')):>8}"
                f"{s['shared_consent'].recall:>11.4f}"
                f"{_pct(row.lift('shared_consent', 'recall')):>8}"
                f"{s['served'].recall:>8.4f}{_pct(row.lift('served', 'recall')):>8}"
            )
    return "\n".join(lines)


def format_rules(runs: Mapping[str, Sequence[ExperimentResult]]) -> str:
    """The served lift under each choice rule scored (``served:<rule>`` conditions), one line
    per (world, case, consent segment) pooled over retailers and runs, ``sd`` over runs; the
    served rule is ``served``, whose lift is also given per run (seed), in run order.

    Raises ``ValueError`` when there is nothing to format.
    """
    if not runs or not all(runs.values()):
        raise ValueError("no results to format")
    first = next(iter(runs.values()))[0].rows[0].scores
    names = ["served"] + [c for c in first if c.startswith("served:")]
    labels = [SERVED_RULE.name if n == "served" else n.split(":", 1)[1] for n in names]
    width = max(len(label) for label in labels) + 2
    header = (
        f"{'world':<18}{'case':<5}{'consent':<8}{'n':>6}"
        + "".join(f"{label:>{width}}" for label in labels)
        + "  served lift by run"
    )
    lines = [header, "-" * len(header)]
    for world, results in runs.items():
        for row in pool_runs(results):
            if row.retailer != "all" or row.segment not in SEGMENTS:
                continue
            cells = []
            for name in names:
                sd = lift_sd(results, row.case, name, segment=row.segment)
                cells.append(f"{_pct(row.lift(name))} ({_pct(sd, '-')})")
            by_run = " ".join(
                _pct(r.row(row.case, segment=row.segment).lift("served")) for r in results
            )
            lines.append(
                f"{world:<18}{row.case:<5}{row.segment:<8}{row.n_users:>6}"
                + "".join(f"{cell:>{width}}" for cell in cells)
                + f"  {by_run}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.consortium",
        description="Lift of shared, consented training over per-retailer silos.",
    )
    parser.add_argument("--quick", action="store_true", help="small worlds, fewer epochs")
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        help="seed of world, split, consent and models; repeat for several runs (default: "
        "2 3 4, the LightFM settings having been chosen on seed 1; 1 with --quick)",
    )
    parser.add_argument(
        "--consent-share", type=float, default=0.6, help="share of consenting customers"
    )
    parser.add_argument(
        "--world", choices=WORLDS, action="append", help="world to run (default: all)"
    )
    parser.add_argument(
        "--compare-rules",
        action="store_true",
        help="also score the served blend under every choice rule of "
        "benchmarks.consortium.choice.RULES and print their lifts side by side",
    )
    args = parser.parse_args(argv)
    extra = RULES if args.compare_rules else ()
    seeds: list[int] = args.seed or ([1] if args.quick else [2, 3, 4])
    started = time.perf_counter()
    runs = {
        name: [
            run_experiment(
                name,
                seed=seed,
                consent_share=args.consent_share,
                quick=args.quick,
                extra_rules=extra,
            )
            for seed in seeds
        ]
        for name in (args.world or WORLDS)
    }
    out = sys.stdout
    out.write(
        f"Consortium experiment, k=10, seeds {' '.join(map(str, seeds))}"
        f"{' (quick)' if args.quick else ''}; lift = condition / silo - 1; metrics pooled over\n"
        "seeds (mean over evaluated customer-retailer pairs).\n"
        "silo: each retailer's own data (a customer new there gets its popularity ranking);\n"
        "shared: every retailer's data, users as (customer, retailer) contexts;\n"
        f"consent: shared, but only {args.consent_share:.0%} of customers consent;"
        " no-ctx: shared without the retailer context (ablation);\n"
        f"served: what the consortium serves at {args.consent_share:.0%} consent, per retailer"
        " and case the blend of silo,\nshared and sequence neighbours chosen on validation"
        " (the silo is one of its choices).\n"
        "warm: held-out interactions of known customers; thin: warm customers with at most"
        f" {THIN_MAX} known\ninteractions there; cold: customers new at the retailer but known"
        " elsewhere.\n"
        "consent: any = every customer of the case; yes / no = the consenting / non-consenting"
        " ones (all retailers).\n\n"
    )
    out.write(format_table(runs) + "\n\n")
    if args.compare_rules:
        out.write("Served lift (sd) at each choice rule, all retailers:\n")
        out.write(format_rules(runs) + "\n\n")
    for results in runs.values():
        r, c = results[0], results[0].model_config
        seconds = sum(x.seconds for x in results)
        out.write(
            f"{r.world_name}: {r.n_customers} customers, {r.n_items} items, "
            f"{r.n_interactions} interactions, {r.n_cold_pairs} cold pairs (seed {r.seed}); "
            f"LightFM {c.loss}, {c.no_components} components, {c.epochs} epochs, "
            f"lr {c.learning_rate}, max_sampled {c.max_sampled}; {seconds:.0f} s\n"
        )
    out.write(f"total {time.perf_counter() - started:.0f} s\n")
    return 0
