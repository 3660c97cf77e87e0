"""The install gate: not worse than the serving model (with its confidence margin), and the
card within the bias thresholds; each refusal names its figure."""

from __future__ import annotations

import math

import pytest

from recommender.gate import Thresholds, bias_refusals, judge

FAIR = {"hit@10": 0.3, "popular_top10pct.share": 0.3, "exposure.category.top_share": 0.2,
        "exposure.brand.top_share": 0.1, "coverage": 0.5}


def _pairs(both: int, only_candidate: int, only_current: int, neither: int
           ) -> list[tuple[bool, bool]]:
    return ([(True, True)] * both + [(True, False)] * only_candidate
            + [(False, True)] * only_current + [(False, False)] * neither)


def test_a_first_model_is_judged_on_the_bias_checks_alone():
    decision = judge(FAIR, compared=None, thresholds=Thresholds())
    assert decision.install
    assert decision.figures == {"gate.passed": 1.0}


def test_a_candidate_as_good_as_the_serving_model_installs():
    decision = judge(FAIR, compared=_pairs(20, 5, 5, 70), thresholds=Thresholds())
    assert decision.install
    assert decision.figures["gate.candidate.hit@10"] == decision.figures["gate.current.hit@10"]
    assert decision.figures["gate.compared_customers"] == 100.0


def test_a_clearly_worse_candidate_is_refused_naming_its_hit_rate():
    decision = judge(FAIR, compared=_pairs(10, 2, 20, 68), thresholds=Thresholds())
    assert not decision.install
    (refusal,) = decision.refusals
    assert refusal.figure == "gate.candidate.hit@10"
    assert refusal.value == 0.12 and refusal.rule == "at least"
    # 0.30 - (0.02 + 1.64 * sqrt(22) / 100)
    assert refusal.limit == pytest.approx(0.30 - 0.02 - 1.64 * math.sqrt(22) / 100, abs=1e-4)
    assert decision.figures["gate.passed"] == 0.0


def test_a_drop_within_the_noise_of_the_slice_is_not_a_refusal():
    # 4 fewer hits in 100 with 12 discordant customers: within 1.64 standard errors.
    decision = judge(FAIR, compared=_pairs(20, 4, 8, 68), thresholds=Thresholds())
    assert decision.install


def test_without_a_confidence_margin_any_drop_past_max_drop_refuses():
    t = Thresholds(max_drop=0.0, confidence_z=0.0)
    assert not judge(FAIR, compared=_pairs(20, 4, 8, 68), thresholds=t).install
    assert judge(FAIR, compared=_pairs(20, 4, 4, 72), thresholds=t).install


def test_too_few_newer_customers_refuses_since_nothing_new_could_be_learnt():
    decision = judge(FAIR, compared=_pairs(3, 1, 0, 2), thresholds=Thresholds(min_customers=10))
    assert [r.figure for r in decision.refusals] == ["gate.compared_customers"]
    assert decision.refusals[0].to_dict() == {"figure": "gate.compared_customers",
                                              "value": 6.0, "limit": 10.0, "rule": "at least"}


def test_no_newer_customer_at_all_is_refused_too():
    decision = judge(FAIR, compared=[], thresholds=Thresholds())
    assert [r.figure for r in decision.refusals] == ["gate.compared_customers"]
    assert "gate.candidate.hit@10" not in decision.figures


@pytest.mark.parametrize(("figure", "value", "threshold"), [
    ("popular_top10pct.share", 0.9, {"max_popular_share": 0.8}),
    ("exposure.category.top_share", 0.7, {"max_category_share": 0.6}),
    ("exposure.brand.top_share", 0.55, {"max_brand_share": 0.5}),
    ("coverage", 0.01, {"min_coverage": 0.05}),
])
def test_each_bias_threshold_refuses_naming_its_figure(figure, value, threshold):
    card = {**FAIR, figure: value}
    decision = judge(card, compared=None, thresholds=Thresholds(**threshold))
    assert [(r.figure, r.value) for r in decision.refusals] == [(figure, value)]
    assert decision.refusals[0].limit == next(iter(threshold.values()))


def test_a_bias_refusal_and_a_worse_hit_rate_are_both_named():
    card = {**FAIR, "popular_top10pct.share": 0.95}
    decision = judge(card, compared=_pairs(0, 0, 30, 70), thresholds=Thresholds())
    assert {r.figure for r in decision.refusals} == {"gate.candidate.hit@10",
                                                     "popular_top10pct.share"}


def test_a_segment_far_below_the_overall_hit_rate_refuses_when_its_check_is_on():
    card = {**FAIR, "segment.new.shared.customers": 12.0, "segment.new.shared.hit@10": 0.05,
            "segment.warm.own.customers": 3.0, "segment.warm.own.hit@10": 0.0}
    assert bias_refusals(card, Thresholds()) == []
    refusals = bias_refusals(card, Thresholds(min_segment_ratio=0.5))
    # the warm segment has too few customers to judge
    assert [(r.figure, r.value) for r in refusals] == [("segment.new.shared.hit@10", 0.1667)]


@pytest.mark.parametrize("bad", [{"max_drop": -0.1}, {"max_popular_share": 1.5},
                                 {"min_customers": 0}, {"confidence_z": -1}])
def test_thresholds_out_of_range_raise(bad):
    with pytest.raises(ValueError):
        Thresholds(**bad)
