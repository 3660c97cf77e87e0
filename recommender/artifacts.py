"""Persist a fitted :class:`~recommender.model.HybridModel` without pickle.

An artifact is a directory holding two files:

* ``arrays.npz``: LightFM's embeddings, biases and optimiser accumulators, and the CSR parts
  (``data``, ``indices``, ``indptr``) of the user features, item features and training
  interactions; plain numeric arrays, loaded with ``allow_pickle=False``.
* ``manifest.json``: format name and version, model config, id maps and feature names,
  caller metadata, each array's dtype and shape, and ``content_sha256``.

A served model may carry its sequence part (:class:`~recommender.blend.SequencePart`): the
item-item similarity as three more CSR arrays (``sequence.similarity.*``) and its window,
recency and blend weight under the manifest's ``sequence`` key. An artifact without it serves
the hybrid alone, so artifacts written before the part existed still load.

``content_sha256`` is the SHA-256 of the manifest (without that field) as canonical JSON and
of every array's name, dtype, shape and bytes, in name order; :func:`load_model` recomputes it,
so a change to any byte of either file is detected. The hash is also the model's identity (the
"model id" a suggestion names and the ledger's provenance record holds).

Note that the training interactions are stored (for explanations and for excluding what a
customer already chose): an artifact is personal data, to be kept like the training data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import ValidationError

from recommender.blend import SequencePart
from recommender.config import ModelConfig
from recommender.dataset import Dataset, ModelIndex
from recommender.model import LIGHTFM_STATE, HybridModel
from recommender.sequence import SequenceNeighbours

FORMAT_NAME = "prefshare-hybrid-model"
FORMAT_VERSION = 1
ARRAYS_FILE = "arrays.npz"
MANIFEST_FILE = "manifest.json"
_MATRICES = ("user_features", "item_features", "train")
_SIMILARITY = "sequence.similarity"


class ArtifactError(Exception):
    """Base of every error raised while loading or saving a model artifact."""


class CorruptArtifact(ArtifactError):
    """The artifact is incomplete, unreadable, inconsistent or fails its hash check."""


class ArtifactVersionMismatch(ArtifactError):
    """The artifact was written in a format this code does not read."""

    def __init__(self, found: object, expected: int = FORMAT_VERSION) -> None:
        super().__init__(f"artifact format version {found!r}; this code reads {expected}")
        self.found = found
        self.expected = expected


@dataclass(frozen=True)
class LoadedArtifact:
    model: HybridModel
    index: ModelIndex
    metadata: Mapping[str, Any]
    content_sha256: str
    #: The served blend's sequence part, ``None`` for a hybrid-only artifact.
    sequence: SequencePart | None = None


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _content_hash(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()

    def chunk(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))  # length prefix: no ambiguous concatenation
        digest.update(data)

    chunk(_canonical_json({k: v for k, v in manifest.items() if k != "content_sha256"}))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        chunk(name.encode())
        chunk(array.dtype.str.encode())
        chunk(_canonical_json(list(array.shape)))
        chunk(array.tobytes())
    return digest.hexdigest()


def _model_arrays(model: HybridModel, sequence: SequencePart | None) -> dict[str, np.ndarray]:
    arrays = {f"lightfm.{name}": value for name, value in model.lightfm_state().items()}
    matrices = {
        "user_features": model.user_features,
        "item_features": model.item_features,
        "train": model.train_interactions,
    }
    if sequence is not None:
        matrices[_SIMILARITY] = sequence.neighbours.similarity
    for name, matrix in matrices.items():
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.sort_indices()
        arrays[f"{name}.data"] = csr.data
        arrays[f"{name}.indices"] = csr.indices.astype(np.int64)
        arrays[f"{name}.indptr"] = csr.indptr.astype(np.int64)
    return arrays


def _sequence_entry(sequence: SequencePart) -> dict[str, float]:
    nb = sequence.neighbours
    return {"window": nb.window, "recency": nb.recency, "weight": sequence.weight}


def _read_sequence(
    manifest: Mapping[str, Any], matrix: sp.csr_matrix | None
) -> SequencePart | None:
    entry = manifest.get("sequence")
    if entry is None and matrix is None:
        return None
    if not isinstance(entry, dict) or matrix is None:
        raise CorruptArtifact("the sequence part is incomplete")
    neighbours = SequenceNeighbours.restore(
        matrix, window=entry["window"], recency=entry["recency"]
    )
    return SequencePart(neighbours, entry["weight"])


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(
    model: HybridModel,
    dataset: Dataset,
    path: str | os.PathLike[str],
    *,
    metadata: dict,
    sequence: SequencePart | None = None,
) -> str:
    """Write ``model`` (fitted on ``dataset``) and its optional ``sequence`` part to the
    directory ``path``; return the content hash (SHA-256, hex).

    ``metadata`` must be JSON-serialisable (e.g. training snapshot, metrics, consent filter).
    The directory is created if needed; existing artifact files in it are replaced.
    Raises ``ValueError`` if the model is unfitted, was not fitted on ``dataset``'s index, the
    sequence part covers another number of items, or the metadata is not JSON.
    """
    if not model.is_fitted:
        raise ValueError("cannot save an unfitted model")
    index = dataset.index
    if model.index != index:
        raise ValueError("the model was not fitted on this dataset (id maps differ)")
    try:
        metadata_json = json.loads(_canonical_json(metadata))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc
    if sequence is not None and sequence.neighbours.n_items != index.n_items:
        raise ValueError("the sequence part covers another number of items than the model")
    arrays = _model_arrays(model, sequence)
    manifest: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.model_dump(),
        "index": {
            "user_ids": list(index.user_ids),
            "item_ids": list(index.item_ids),
            "user_feature_names": list(index.user_feature_names),
            "item_feature_names": list(index.item_feature_names),
        },
        "metadata": metadata_json,
        **({} if sequence is None else {"sequence": _sequence_entry(sequence)}),
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()
        },
    }
    digest = _content_hash(manifest, arrays)
    manifest["content_sha256"] = digest

    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as buffer:
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        buffer.seek(0)
        _write_atomically(directory / ARRAYS_FILE, buffer.read())
    _write_atomically(directory / MANIFEST_FILE, json.dumps(manifest, indent=1).encode())
    return digest


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise CorruptArtifact(f"{directory} has no {MANIFEST_FILE}") from exc
    except (OSError, ValueError) as exc:
        raise CorruptArtifact(f"{MANIFEST_FILE} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise CorruptArtifact(f"{MANIFEST_FILE} is not a {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactVersionMismatch(version)
    return manifest


def _read_arrays(directory: Path, declared: object) -> dict[str, np.ndarray]:
    if not isinstance(declared, dict):
        raise CorruptArtifact("the manifest does not list the arrays")
    try:
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError as exc:
        raise CorruptArtifact(f"{directory} has no {ARRAYS_FILE}") from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CorruptArtifact(f"{ARRAYS_FILE} is unreadable: {exc}") from exc
    if set(arrays) != set(declared):
        raise CorruptArtifact("the arrays stored differ from those the manifest lists")
    for name, array in arrays.items():
        spec = declared[name]
        if not isinstance(spec, dict) or (spec.get("dtype"), spec.get("shape")) != (
            array.dtype.str,
            list(array.shape),
        ):
            raise CorruptArtifact(f"array {name!r} does not match its manifest entry")
    return arrays


def load_artifact(path: str | os.PathLike[str]) -> LoadedArtifact:
    """Load and verify an artifact written by :func:`save_model`, with its metadata and hash.

    Raises ``ArtifactVersionMismatch`` for another format version (checked first) and
    ``CorruptArtifact`` for a missing or unreadable file, a hash mismatch or inconsistent
    contents.
    """
    directory = Path(path)
    manifest = _read_manifest(directory)
    arrays = _read_arrays(directory, manifest.get("arrays"))
    recorded = manifest.get("content_sha256")
    if recorded != _content_hash(manifest, arrays):
        raise CorruptArtifact("content hash mismatch: the artifact was modified or damaged")
    try:
        config = ModelConfig.model_validate(manifest["config"])
        idx = manifest["index"]
        index = ModelIndex(
            tuple(idx["user_ids"]),
            tuple(idx["item_ids"]),
            tuple(idx["user_feature_names"]),
            tuple(idx["item_feature_names"]),
        )
        shapes = {
            "user_features": (index.n_users, len(index.user_feature_names)),
            "item_features": (index.n_items, len(index.item_feature_names)),
            "train": (index.n_users, index.n_items),
            _SIMILARITY: (index.n_items, index.n_items),
        }
        matrices = {
            name: sp.csr_matrix(
                (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                shape=shapes[name],
            )
            for name in (*_MATRICES, _SIMILARITY)
            if name in _MATRICES or f"{name}.data" in arrays
        }
        sequence = _read_sequence(manifest, matrices.get(_SIMILARITY))
        model = HybridModel.restore(
            config,
            index,
            {name: arrays[f"lightfm.{name}"] for name in LIGHTFM_STATE},
            user_features=matrices["user_features"],
            item_features=matrices["item_features"],
            train=matrices["train"],
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise CorruptArtifact(f"inconsistent artifact contents: {exc}") from exc
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        raise CorruptArtifact("the manifest's metadata is not an object")
    return LoadedArtifact(model, index, MappingProxyType(metadata), str(recorded), sequence)


def load_model(path: str | os.PathLike[str]) -> tuple[HybridModel, ModelIndex]:
    """``(model, index)`` from :func:`load_artifact`; same checks and errors."""
    loaded = load_artifact(path)
    return loaded.model, loaded.index


#: Prefix of a model id; the rest is the start of the artifact's content hash.
MODEL_ID_PREFIX = "lightfm-"
_MODEL_ID_HASH_CHARS = 24


def model_id_for(content_sha256: str) -> str:
    """The model id a suggestion names and the ledger's provenance record holds, derived from
    the artifact's content hash (96 bits of it), so serving and training agree without a
    registry.

    >>> model_id_for("ab" * 32)
    'lightfm-abababababababababababab'

    Raises ``ValueError`` unless ``content_sha256`` is 64 lowercase hex digits.
    """
    if (
        not isinstance(content_sha256, str)
        or len(content_sha256) != 64
        or any(ch not in "0123456789abcdef" for ch in content_sha256)
    ):
        raise ValueError(f"not a SHA-256 hex digest: {content_sha256!r}")
    return MODEL_ID_PREFIX + content_sha256[:_MODEL_ID_HASH_CHARS]
