"""The consortium experiment: does sharing consented data beat per-retailer silos?

For each retailer of a world it measures precision@10, recall@10 and nDCG@10 on held-out
interactions **at that retailer's catalogue**, for customers it knows (warm), knows little
(thin) and does not know but other members do (cold), under each condition: ``silo``,
``shared`` (everyone consents), ``shared_consent`` (a seeded ``consent_share`` consents),
``shared_no_context`` (ablation) and ``served`` (what the consortium serves at that consent,
chosen per retailer and case on validation by :data:`.SERVED_RULE`, the silo among its
choices). Lift is ``condition / silo - 1``; the ``all`` row is the mean over every evaluated
(customer, retailer) pair. Every ``all`` row is also given for the consenting and the non-consenting
customers apart (segments ``yes`` / ``no``; ``any`` is both).

The package is split along what a reader looks for: :mod:`.worlds` (the world builders),
:mod:`.protocol` (held-out cases, consent, visible history), :mod:`.conditions` (the models of
each condition), :mod:`.choice` (on which validation customers and grid the served blend's
weights are chosen), :mod:`.experiment` (:func:`run_experiment`) and :mod:`.results` (scores,
pooling, lift); everything public is importable from here.

Two facts from the design (DESIGN.md §8) shape the shared models:

* **The serving retailer is context.** A shared model's users are (customer, retailer)
  contexts ``"<customer>@<retailer>"`` whose only features are ``customer:<id>`` (shared by all
  her contexts) and ``retailer:<r>``; items carry ``retailer:<r>`` besides their content features.
  A customer new at ``r`` is the untrained context (customer, r), represented by what her
  customer feature learnt at the other retailers plus what ``r``'s context feature learnt.
* **Exclude the whole visible history.** At evaluation, the items excluded from a customer's
  ranking are her training interactions at every retailer whose data the model may use, not only
  at the serving retailer (:func:`visible_history`). Because retailers' catalogues are disjoint
  and only the serving retailer's items are ranked, only that retailer's part can coincide with a
  candidate in a disjoint world; in ``movielens-overlap`` catalogues share items (the same
  product at two members) and the rule matters.

Example::

    result = run_experiment("demo", seed=1, quick=True)
    result.row("cold").lift("served")              # precision lift for customers new at a member
"""

from benchmarks.consortium.choice import (
    PER_SEGMENT,
    RULES,
    SERVED_GRID,
    SERVED_RULE,
    ChoiceRule,
    Pool,
)
from benchmarks.consortium.conditions import context_id, default_model_config
from benchmarks.consortium.experiment import VALIDATION_SEED_OFFSET, run_experiment
from benchmarks.consortium.protocol import (
    CASES,
    SEGMENTS,
    THIN_MAX,
    Case,
    ConsortiumSplit,
    Segment,
    choose_consenting,
    split_consortium,
    visible_history,
)
from benchmarks.consortium.results import (
    CaseResult,
    ExperimentResult,
    K,
    Metric,
    Score,
    lift_sd,
    pool_runs,
)
from benchmarks.consortium.worlds import (
    MOVIELENS_OVERLAP,
    MOVIELENS_RETAILERS,
    MOVIELENS_SHOP_COUNTS,
    WORLDS,
    ConsortiumData,
    RetailerAssignment,
    assign_retailers,
    load_world,
)

#: Every condition, in the order of the report.
CONDITIONS: tuple[str, ...] = ("silo", "shared", "shared_consent", "shared_no_context", "served")

__all__ = [
    "CASES",
    "CONDITIONS",
    "MOVIELENS_OVERLAP",
    "MOVIELENS_RETAILERS",
    "MOVIELENS_SHOP_COUNTS",
    "PER_SEGMENT",
    "RULES",
    "SEGMENTS",
    "SERVED_GRID",
    "SERVED_RULE",
    "THIN_MAX",
    "VALIDATION_SEED_OFFSET",
    "WORLDS",
    "Case",
    "CaseResult",
    "ChoiceRule",
    "ConsortiumData",
    "ConsortiumSplit",
    "ExperimentResult",
    "K",
    "Metric",
    "Pool",
    "RetailerAssignment",
    "Score",
    "Segment",
    "assign_retailers",
    "choose_consenting",
    "context_id",
    "default_model_config",
    "lift_sd",
    "load_world",
    "pool_runs",
    "run_experiment",
    "split_consortium",
    "visible_history",
]
