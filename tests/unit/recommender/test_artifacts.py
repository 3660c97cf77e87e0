"""Saving and loading models without pickle, and refusing damaged or foreign artifacts."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recommender.artifacts import (
    ARRAYS_FILE,
    MANIFEST_FILE,
    ArtifactError,
    ArtifactVersionMismatch,
    CorruptArtifact,
    load_artifact,
    load_model,
    save_model,
)
from recommender.blend import SequencePart
from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, UserProfile, build_dataset
from recommender.model import HybridModel
from recommender.sequence import SequenceNeighbours


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    items = [Item(f"i{j}", (f"category:c{j % 3}", "brand:acme")) for j in range(9)]
    interactions = [
        Interaction(f"u{u}", f"i{(u + d) % 9}", weight=1.0 + d) for u in range(8) for d in range(3)
    ]
    return build_dataset(interactions, items, [UserProfile("u0", ("likes:c0",))])


@pytest.fixture(scope="module")
def model(dataset: Dataset) -> HybridModel:
    return HybridModel(ModelConfig(no_components=4, epochs=3, seed=1)).fit(dataset)


@pytest.fixture
def saved(tmp_path: Path, model: HybridModel, dataset: Dataset) -> Path:
    save_model(model, dataset, tmp_path / "model", metadata={"trained_on": "unit", "n": 24})
    return tmp_path / "model"


def rewrite_array(path: Path, name: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays[name] = change(arrays[name])
    np.savez_compressed(path / ARRAYS_FILE, **arrays)


def edit_manifest(path: Path, change: Callable[[dict], object]) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    change(manifest)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_load_restores_identical_scores_index_and_metadata(
    saved: Path, model: HybridModel, dataset: Dataset
) -> None:
    loaded, index = load_model(saved)
    users = np.arange(dataset.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
    np.testing.assert_array_equal(
        loaded.score_new_user(("likes:c0",)), model.score_new_user(("likes:c0",))
    )
    assert index == dataset.index
    assert loaded.config == model.config
    assert loaded.explain(0, 5) == model.explain(0, 5)
    assert load_artifact(saved).metadata == {"trained_on": "unit", "n": 24}


def test_load_restores_the_full_lightfm_state(saved: Path, model: HybridModel) -> None:
    loaded, _ = load_model(saved)
    original = model.lightfm_state()
    restored = loaded.lightfm_state()
    assert original.keys() == restored.keys()
    for name in original:
        np.testing.assert_array_equal(restored[name], original[name], err_msg=name)


def test_save_returns_the_recorded_hash_and_it_is_stable(
    tmp_path: Path, model: HybridModel, dataset: Dataset
) -> None:
    first = save_model(model, dataset, tmp_path / "a", metadata={"x": 1})
    second = save_model(model, dataset, tmp_path / "b", metadata={"x": 1})
    other = save_model(model, dataset, tmp_path / "c", metadata={"x": 2})
    assert len(first) == 64 and int(first, 16) >= 0
    assert first == second != other
    manifest = json.loads((tmp_path / "a" / MANIFEST_FILE).read_text())
    assert manifest["content_sha256"] == first
    assert load_artifact(tmp_path / "a").content_sha256 == first


def test_artifact_arrays_load_without_pickle_and_are_numeric(saved: Path) -> None:
    with np.load(saved / ARRAYS_FILE, allow_pickle=False) as npz:
        kinds = {npz[name].dtype.kind for name in npz.files}
    assert kinds <= {"f", "i"}


def test_load_rejects_tampered_arrays(saved: Path) -> None:
    def nudge(array: np.ndarray) -> np.ndarray:
        out = array.copy()
        out[0, 0] += 0.001
        return out

    rewrite_array(saved, "lightfm.item_embeddings", nudge)
    with pytest.raises(CorruptArtifact, match="hash"):
        load_model(saved)


def test_load_rejects_tampered_manifest(saved: Path) -> None:
    edit_manifest(saved, lambda m: m["index"]["item_ids"].reverse())
    with pytest.raises(CorruptArtifact, match="hash"):
        load_model(saved)


def test_load_rejects_an_array_missing_from_the_file(saved: Path) -> None:
    with np.load(saved / ARRAYS_FILE, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files if key != "train.data"}
    np.savez_compressed(saved / ARRAYS_FILE, **arrays)
    with pytest.raises(CorruptArtifact, match="differ"):
        load_model(saved)


def test_load_rejects_a_truncated_arrays_file(saved: Path) -> None:
    data = (saved / ARRAYS_FILE).read_bytes()
    (saved / ARRAYS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArtifact):
        load_model(saved)


def test_load_rejects_an_arrays_file_holding_pickled_objects(saved: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(saved / ARRAYS_FILE) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        with target.open("evil.npy", "w") as handle:
            np.lib.format.write_array(handle, np.array([{"a": 1}], dtype=object))
    (saved / ARRAYS_FILE).write_bytes(buffer.getvalue())
    with pytest.raises(CorruptArtifact):
        load_model(saved)


def test_load_rejects_another_format_version(saved: Path) -> None:
    def bump(manifest: dict) -> None:
        manifest["format_version"] = 2

    edit_manifest(saved, bump)
    with pytest.raises(ArtifactVersionMismatch, match="version 2") as caught:
        load_model(saved)
    assert caught.value.found == 2
    assert isinstance(caught.value, ArtifactError)


def test_load_rejects_a_directory_without_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(CorruptArtifact, match="manifest"):
        load_model(tmp_path)


def test_load_rejects_a_manifest_that_is_not_json(saved: Path) -> None:
    (saved / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(CorruptArtifact, match="unreadable"):
        load_model(saved)


def test_save_rejects_metadata_that_is_not_json(
    tmp_path: Path, model: HybridModel, dataset: Dataset
) -> None:
    with pytest.raises(ValueError, match="JSON"):
        save_model(model, dataset, tmp_path / "m", metadata={"when": object()})
    assert not (tmp_path / "m").exists()


def test_save_rejects_a_model_fitted_on_another_dataset(tmp_path: Path, model: HybridModel) -> None:
    other = build_dataset([Interaction("z", "i0")], [Item("i0")])
    with pytest.raises(ValueError, match="not fitted on this dataset"):
        save_model(model, other, tmp_path / "m", metadata={})


def test_save_rejects_an_unfitted_model(tmp_path: Path, dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="unfitted"):
        save_model(HybridModel(), dataset, tmp_path / "m", metadata={})


# -- the served blend's sequence part -----------------------------------------------------------


def _sequence_part(n_items: int) -> SequencePart:
    sequences = [np.array([(u + d) % n_items for d in range(3)]) for u in range(8)]
    return SequencePart(SequenceNeighbours(window=2, recency=3).fit(sequences, n_items), 0.5)


def test_the_sequence_part_is_saved_beside_the_hybrid_and_loads_the_same(
    tmp_path: Path, model: HybridModel, dataset: Dataset
) -> None:
    part = _sequence_part(dataset.n_items)
    save_model(model, dataset, tmp_path / "m", metadata={}, sequence=part)
    loaded = load_artifact(tmp_path / "m")
    assert loaded.sequence is not None and loaded.sequence.weight == 0.5
    got = loaded.sequence.neighbours
    assert (got.window, got.recency) == (2.0, 3.0)
    assert (got.similarity != part.neighbours.similarity).nnz == 0


def test_a_hybrid_only_artifact_loads_without_a_sequence_part(saved: Path) -> None:
    assert load_artifact(saved).sequence is None


def test_a_sequence_part_over_other_items_is_refused(
    tmp_path: Path, model: HybridModel, dataset: Dataset
) -> None:
    with pytest.raises(ValueError, match="number of items"):
        save_model(
            model,
            dataset,
            tmp_path / "m",
            metadata={},
            sequence=_sequence_part(dataset.n_items + 1),
        )
