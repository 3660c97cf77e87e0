"""A candidate trained, carded and judged against the serving model, on a generated world
whose taste signal tells a real model from one fitted on shuffled labels (tests/model_worlds.py
says why not the default demo world)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from chaincode.provenance import ModelProvenance, hash_consent_set
from recommender.candidate import train_candidate
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.gate import Thresholds
from recommender.slices import event_record
from tests.model_worlds import last_new_items, shuffled_labels, taste_world

R = "EastmarketMSP"
IDS = ("NorthwindMSP", "SouthgateMSP", R)


@pytest.fixture(scope="module")
def world():
    w = taste_world(IDS, seed=7)
    return w, catalogue_from_world(w)


def _train(events, catalogue, out: Path, serving: Path | None, **kwargs):
    return train_candidate(R, events, catalogue, output_dir=out, block_height=3,
                           consent_set_hash=hash_consent_set([]), serving_dir=serving,
                           thresholds=Thresholds(), **kwargs)


def test_the_gate_installs_a_real_model_and_refuses_one_fitted_on_shuffled_labels(world,
                                                                                 tmp_path):
    w, catalogue = world
    base, later = last_new_items([event_record(e) for e in w.events], R)
    first = _train(base, catalogue, tmp_path / "first", None)
    assert first.decision.install and first.decision.figures == {"gate.passed": 1.0}
    time.sleep(0.01)
    now = time.time()
    arrived = [replace(e, timestamp=now + j * 0.001) for j, e in enumerate(later)]
    worse = _train(base + arrived, catalogue, tmp_path / "worse", tmp_path / "first",
                   prepare=shuffled_labels(catalogue))
    assert [r.figure for r in worse.decision.refusals] == ["gate.candidate.hit@10"]
    assert worse.provenance["metrics"]["gate.passed"] == 0.0
    better = _train(base + arrived, catalogue, tmp_path / "better", tmp_path / "first")
    assert better.decision.install
    figures = better.decision.figures
    assert figures["gate.compared_customers"] >= 50
    assert figures["gate.candidate.hit@10"] > worse.decision.figures["gate.candidate.hit@10"]


def test_the_card_goes_into_the_provenance_record_the_chaincode_accepts(world, tmp_path):
    w, catalogue = world
    candidate = _train([event_record(e) for e in w.events], catalogue, tmp_path / "m", None)
    metrics = candidate.provenance["metrics"]
    card = {k[len("card."):]: v for k, v in metrics.items() if k.startswith("card.")}
    assert card == candidate.card
    assert {"hit@10", "popular_top10pct.share", "exposure.category.gini", "coverage",
            "records.EastmarketMSP", "records.NorthwindMSP"} <= set(card)
    assert any(k.startswith("segment.") for k in card)
    assert card["records.EastmarketMSP"] + card["records.NorthwindMSP"] + \
        card["records.SouthgateMSP"] == candidate.provenance["training"]["record_count"]
    # Figures only: no customer or item id anywhere in the record.
    text = ModelProvenance.from_dict(candidate.provenance).to_json_bytes()
    assert len(text) <= 8192
    assert b"cust-" not in text and b"-i0" not in text


def test_a_bias_threshold_refuses_naming_the_figure(world, tmp_path):
    w, catalogue = world
    candidate = train_candidate(R, [event_record(e) for e in w.events], catalogue,
                                output_dir=tmp_path / "m", block_height=1,
                                consent_set_hash=hash_consent_set([]), serving_dir=None,
                                thresholds=Thresholds(max_popular_share=0.01))
    assert [r.figure for r in candidate.decision.refusals] == ["popular_top10pct.share"]
    assert candidate.decision.refusals[0].limit == 0.01
