"""The life cycle's own logic, without a ledger: when a retrain is due, moving the model
directories on install and rollback (a failed install puts them back), one at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.lifecycle import (
    ModelLifecycle,
    NoPreviousModel,
    RetrainBusy,
    artifact_id,
    card_of,
)
from gateway.settings import read_settings

MSP = "AlderMSP"


def _settings(tmp: Path, **values: Any):
    tmp.mkdir(parents=True, exist_ok=True)
    tls = tmp / "tls.pem"
    tls.write_text("x")
    return read_settings(None, retailer="alder", msp_id=MSP, endorsing_orgs=(MSP,),
                         peer_endpoint="127.0.0.1:7051", peer_tls_root=tls,
                         msp_dir=tmp / "msp", data_dir=tmp / "data", **values)


def _artifact(directory: Path, digest: str, created: str = "2026-12-01T10:00:00.000Z") -> None:
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps(
        {"content_sha256": digest, "metadata": {"created_at": created}}))


class Installer:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.calls = fail, []

    def __call__(self, model_dir: Path) -> str | None:
        self.calls.append(artifact_id(model_dir))
        if self.fail:
            raise RuntimeError("refused")
        return artifact_id(model_dir)


def _lifecycle(tmp: Path, installer: Installer | None = None, **values: Any) -> ModelLifecycle:
    return ModelLifecycle(_settings(tmp, **values), None, None, None,  # type: ignore[arg-type]
                          installer or Installer())


def test_rollback_swaps_the_serving_and_the_previous_model_and_installs(tmp_path):
    life = _lifecycle(tmp_path)
    _artifact(life.model_dir, "a" * 64)
    _artifact(life.sibling(".prev"), "b" * 64)
    assert life.rollback() == ("lightfm-" + "b" * 24, "lightfm-" + "a" * 24)
    assert artifact_id(life.model_dir) == "lightfm-" + "b" * 24
    assert life.previous_model_id() == "lightfm-" + "a" * 24
    assert life.rollback()[0] == "lightfm-" + "a" * 24  # a second one undoes the first
    assert life.status()["step"] == "idle"


def test_a_failed_install_on_rollback_puts_both_models_back(tmp_path):
    installer = Installer(fail=True)
    life = _lifecycle(tmp_path, installer)
    _artifact(life.model_dir, "a" * 64)
    _artifact(life.sibling(".prev"), "b" * 64)
    with pytest.raises(RuntimeError):
        life.rollback()
    assert artifact_id(life.model_dir) == "lightfm-" + "a" * 24
    assert life.previous_model_id() == "lightfm-" + "b" * 24


def test_rollback_without_a_previous_model_is_refused(tmp_path):
    life = _lifecycle(tmp_path)
    _artifact(life.model_dir, "a" * 64)
    with pytest.raises(NoPreviousModel) as refused:
        life.rollback()
    assert refused.value.code == "NO_PREVIOUS_MODEL" and refused.value.status == 404


def test_swap_in_keeps_the_serving_model_as_previous_and_undoes_a_failed_install(tmp_path):
    life = _lifecycle(tmp_path)
    _artifact(life.model_dir, "a" * 64)
    _artifact(life.sibling(".candidate"), "c" * 64)
    assert life._swap_in(life.sibling(".candidate")) == "lightfm-" + "a" * 24
    assert artifact_id(life.model_dir) == "lightfm-" + "c" * 24
    assert life.previous_model_id() == "lightfm-" + "a" * 24

    failing = _lifecycle(tmp_path / "other", Installer(fail=True))
    _artifact(failing.model_dir, "a" * 64)
    _artifact(failing.sibling(".candidate"), "c" * 64)
    with pytest.raises(RuntimeError):
        failing._swap_in(failing.sibling(".candidate"))
    assert artifact_id(failing.model_dir) == "lightfm-" + "a" * 24
    assert artifact_id(failing.sibling(".candidate")) == "lightfm-" + "c" * 24


def test_one_retrain_or_rollback_at_a_time(tmp_path):
    life = _lifecycle(tmp_path)
    with life._exclusive(), pytest.raises(RetrainBusy) as busy:
        life.rollback()
    assert busy.value.code == "RETRAIN_IN_PROGRESS"


def test_due_on_new_data_or_on_schedule(tmp_path):
    life = _lifecycle(tmp_path, retrain_interval_s=100.0, retrain_min_new_records=10)
    assert life.due(1000.0, 950.0) is None
    assert life.due(1000.0, 900.0) == "schedule"
    life.note_new_records(9)
    assert life.due(1000.0, 950.0) is None
    life.note_new_records(1)
    assert life.due(1000.0, 950.0) == "new data"
    never = _lifecycle(tmp_path / "n", retrain_interval_s=None, retrain_min_new_records=None)
    never.note_new_records(10**6)
    assert never.due(10.0**9, 0.0) is None


def test_the_serving_model_s_training_time_is_the_schedule_s_reference(tmp_path):
    life = _lifecycle(tmp_path)
    assert life.serving_created() is None
    _artifact(life.model_dir, "a" * 64, created="2026-12-01T10:00:00.000Z")
    assert life.serving_created() == 1796119200.0


def test_the_card_is_the_card_and_gate_figures_among_the_metrics():
    metadata = {"metrics": {"precision@10": 0.1, "card.coverage": 0.5, "gate.passed": 1,
                            "card.flag": True}}
    assert card_of(metadata) == {"card.coverage": 0.5, "gate.passed": 1.0}
    assert card_of({}) == {} and card_of(None) == {}
