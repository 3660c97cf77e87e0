"""The install gate: may a newly trained model replace the one serving?

Two checks, each refusal naming its figure, value and limit (machine-readable):

* **Not worse.** On the held-out customers whose held-out item is newer than the serving
  model (:mod:`recommender.model_card`: neither model saw those events), the candidate's
  hit rate at 10 must not fall below the serving model's by more than ``max_drop`` plus
  ``confidence_z`` standard errors of the paired difference (``sqrt(b + c) / n``, where
  ``b`` and ``c`` count the customers only one of the two models hit): a refusal says the
  candidate is worse with that confidence, not that a hundred customers' noise went its
  way (two fits of the same data differ by about 0.03 on a hundred). Fewer than
  ``min_customers`` such customers cannot tell the two apart: the candidate is refused
  (figure ``gate.compared_customers``), since without new data there is nothing a new model
  could have learnt. With no model serving, this check does not apply.
* **Bias.** The card's figures must lie within :class:`Thresholds`: the popularity share,
  each exposure top share, catalogue coverage, and the hit rate of every segment with at
  least ``min_customers`` customers relative to the slice's overall hit rate.

Example::

    decision = judge(card, compared=[(True, False), (False, False), ...],
                     thresholds=Thresholds())
    decision.install, [r.figure for r in decision.refusals]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """The gate's limits (the gateway's ``gate_*`` and ``bias_*`` settings)."""

    #: How much lower the candidate's hit rate at 10 may be than the serving model's.
    max_drop: float = 0.02
    #: Standard errors of the paired difference added to ``max_drop`` (1.64: one-sided 95%).
    confidence_z: float = 1.64
    #: Fewest customers a comparison, or a segment's check, needs.
    min_customers: int = 10
    #: Highest share of suggestions from the 10% most popular items.
    max_popular_share: float = 0.8
    #: Highest share of suggestions going to one category, or to one brand.
    max_category_share: float = 0.6
    max_brand_share: float = 0.5
    #: Lowest share of the catalogue suggested to someone in the slice.
    min_coverage: float = 0.05
    #: Lowest hit rate of a segment as a share of the slice's overall hit rate.
    min_segment_ratio: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_drop", "max_popular_share", "max_category_share", "max_brand_share",
                     "min_coverage", "min_segment_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if not 0.0 <= self.confidence_z <= 10.0:
            raise ValueError(f"confidence_z must lie in [0, 10], got {self.confidence_z}")
        if self.min_customers < 1:
            raise ValueError(f"min_customers must be at least 1, got {self.min_customers}")


@dataclass(frozen=True)
class Refusal:
    """One failed check: the figure, its value, the limit and which side is allowed."""

    figure: str
    value: float
    limit: float
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "value": self.value, "limit": self.limit,
                "rule": self.rule}


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...] = ()
    #: The gate's own figures, recorded with the card (``gate.*``).
    figures: Mapping[str, float] = field(default_factory=dict)

    @property
    def install(self) -> bool:
        return not self.refusals


def _above(figure: str, value: float | None, limit: float) -> Refusal | None:
    if value is not None and value > limit:
        return Refusal(figure, value, limit, "at most")
    return None


def _below(figure: str, value: float | None, limit: float) -> Refusal | None:
    if value is not None and value < limit:
        return Refusal(figure, value, limit, "at least")
    return None


def bias_refusals(card: Mapping[str, float], thresholds: Thresholds) -> list[Refusal]:
    """The card's figures past ``thresholds`` (module docstring)."""
    t = thresholds
    found = [
        _above("popular_top10pct.share", card.get("popular_top10pct.share"),
               t.max_popular_share),
        _above("exposure.category.top_share", card.get("exposure.category.top_share"),
               t.max_category_share),
        _above("exposure.brand.top_share", card.get("exposure.brand.top_share"),
               t.max_brand_share),
        _below("coverage", card.get("coverage"), t.min_coverage),
    ]
    overall = card.get("hit@10")
    if overall and t.min_segment_ratio > 0:
        for name, customers in sorted(card.items()):
            if not (name.startswith("segment.") and name.endswith(".customers")):
                continue
            if customers < t.min_customers:
                continue
            hit_name = name[: -len("customers")] + "hit@10"
            hit = card.get(hit_name)
            if hit is not None:
                found.append(_below(hit_name, round(hit / overall, 4), t.min_segment_ratio))
    return [r for r in found if r is not None]


def judge(card: Mapping[str, float], *, compared: Sequence[tuple[bool, bool]] | None,
          thresholds: Thresholds) -> Decision:
    """The decision for a candidate with ``card``.

    ``compared``: per held-out customer newer than the serving model, whether the candidate
    and whether the serving model hit; None when no model serves (then only the bias checks
    apply).
    """
    refusals: list[Refusal] = []
    figures: dict[str, float] = {}
    if compared is not None:
        n = len(compared)
        figures["gate.compared_customers"] = float(n)
        if n:
            candidate = sum(a for a, _ in compared) / n
            current = sum(b for _, b in compared) / n
            discordant = sum(a != b for a, b in compared)
            margin = thresholds.max_drop + thresholds.confidence_z * math.sqrt(discordant) / n
            figures.update({"gate.candidate.hit@10": round(candidate, 4),
                            "gate.current.hit@10": round(current, 4),
                            "gate.margin": round(margin, 4)})
        if n < thresholds.min_customers:
            refusals.append(Refusal("gate.compared_customers", float(n),
                                    float(thresholds.min_customers), "at least"))
        else:
            refused = _below("gate.candidate.hit@10", figures["gate.candidate.hit@10"],
                             round(figures["gate.current.hit@10"] - figures["gate.margin"], 4))
            if refused is not None:
                refusals.append(refused)
    refusals += bias_refusals(card, thresholds)
    figures["gate.passed"] = 0.0 if refusals else 1.0
    return Decision(tuple(refusals), figures)
