"""The hybrid LightFM model: collaborative and content signals in one factorisation.

A user's representation is the (normalised) sum of the embeddings of her features (her identity
feature and any consented stated preferences); an item's is the sum of the embeddings of its
identity and declared features (category, brand, price band, ...). The score of a user-item pair
is the dot product of the two plus both biases, exactly LightFM's ``predict``; this class
precomputes the representations so scoring a user is one matrix-vector product.

Example::

    >>> model = HybridModel(ModelConfig(epochs=5)).fit(dataset)      # doctest: +SKIP
    >>> model.recommend(dataset.user_index["alice"], 3)               # doctest: +SKIP
    [(17, 1.93), (4, 1.71), (12, 1.52)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM
from tqdm import tqdm

from recommender.config import ModelConfig
from recommender.dataset import IDENTITY_PREFIX, Dataset, ModelIndex

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Every array LightFM keeps as state; restoring all of them lets training resume exactly.
LIGHTFM_STATE = (
    "item_embeddings",
    "item_embedding_gradients",
    "item_embedding_momentum",
    "item_biases",
    "item_bias_gradients",
    "item_bias_momentum",
    "user_embeddings",
    "user_embedding_gradients",
    "user_embedding_momentum",
    "user_biases",
    "user_bias_gradients",
    "user_bias_momentum",
)

#: The array whose shape each state array shares (an accumulator has its parameter's shape).
_STATE_SHAPE_OF = {
    name: f"{name.split('_')[0]}_{'embeddings' if '_embedding' in name else 'biases'}"
    for name in LIGHTFM_STATE
}


@dataclass(frozen=True, slots=True)
class FeatureReason:
    """A declared feature and how much it added to the score (in score units)."""

    feature: str
    contribution: float


@dataclass(frozen=True, slots=True)
class InteractionReason:
    """A past interaction of the user with an item whose representation resembles the
    recommended one (cosine similarity in [-1, 1])."""

    item_index: int
    item_id: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why ``item_index`` scored ``score`` for ``user_index``, strongest reasons first.

    ``item_features``: the item's declared features with positive contribution;
    ``user_features``: the user's declared (stated) features with positive contribution;
    ``interactions``: the user's training interactions most similar to the item.
    Identity features are never listed: they are not a reason a person can read.
    """

    user_index: int
    item_index: int
    score: float
    item_features: tuple[FeatureReason, ...]
    user_features: tuple[FeatureReason, ...]
    interactions: tuple[InteractionReason, ...]


def rank_items(
    scores: np.ndarray,
    n: int,
    *,
    allowed_items: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """Top ``n`` ``(item_index, score)`` pairs of a 1-D score vector, best first.

    Only ``allowed_items`` (if given) are candidates, minus ``exclude``. Ties are broken by the
    lower item index, so the result is deterministic. Fewer than ``n`` pairs are returned when
    fewer candidates remain. Raises ``ValueError`` if ``n < 1`` or an index is out of range.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    n_items = scores.shape[0]
    candidate = np.zeros(n_items, dtype=bool)
    if allowed_items is None:
        candidate[:] = True
    else:
        candidate[_checked_indices(allowed_items, n_items, "allowed_items")] = True
    if exclude is not None:
        candidate[_checked_indices(exclude, n_items, "exclude")] = False
    idx = np.flatnonzero(candidate)
    if idx.size > n:
        # Partition on the n-th best score, then keep everything tied with it so the final
        # lexsort can apply the index tie-break.
        kth = np.partition(scores[idx], idx.size - n)[idx.size - n]
        idx = idx[scores[idx] >= kth]
    order = np.lexsort((idx, -scores[idx]))[:n]
    return [(int(i), float(scores[i])) for i in idx[order]]


def _checked_indices(values: np.ndarray, bound: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array")
    if arr.min() < 0 or arr.max() >= bound:
        raise ValueError(f"{name} holds an index outside [0, {bound})")
    return arr


class HybridModel:
    """LightFM with user and item features; a :class:`~recommender.metrics.Scorer`.

    ``fit`` returns ``self``. Methods other than ``fit`` raise ``RuntimeError`` before the model
    has been fitted (or restored by :func:`recommender.artifacts.load_model`).
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else ModelConfig()
        self._lightfm: LightFM | None = None
        self._index: ModelIndex | None = None
        self._user_features: sp.csr_matrix | None = None
        self._item_features: sp.csr_matrix | None = None
        self._train: sp.csr_matrix | None = None
        self._user_repr = np.zeros((0, 0), dtype=np.float32)
        self._user_bias = np.zeros(0, dtype=np.float32)
        self._item_repr = np.zeros((0, 0), dtype=np.float32)
        self._item_bias = np.zeros(0, dtype=np.float32)

    def __repr__(self) -> str:
        state = f"{self.n_users} users x {self.n_items} items" if self.is_fitted else "unfitted"
        return f"HybridModel({self.config!r}, {state})"

    # -- training ---------------------------------------------------------------------------

    def _new_lightfm(self) -> LightFM:
        c = self.config
        return LightFM(
            no_components=c.no_components,
            loss=c.loss,
            learning_rate=c.learning_rate,
            item_alpha=c.item_alpha,
            user_alpha=c.user_alpha,
            max_sampled=c.max_sampled,
            random_state=np.random.RandomState(c.seed),
        )

    def fit(self, dataset: Dataset, *, progress: bool = False) -> HybridModel:
        """Train from scratch for ``config.epochs`` epochs on ``dataset``.

        Interactions are the positives; their summed weights are LightFM's ``sample_weight``
        (not supported by the ``warp-kos`` loss, which then ignores them). With ``progress`` a
        tqdm bar over epochs is written to stderr. Raises ``ValueError`` on a dataset without
        interactions.
        """
        if dataset.interactions.nnz == 0:
            raise ValueError("cannot fit on a dataset without interactions")
        weights = dataset.weights.tocoo()
        positives = sp.coo_matrix(
            (np.ones_like(weights.data, dtype=np.float32), (weights.row, weights.col)),
            shape=weights.shape,
        )
        sample_weight = None if self.config.loss == "warp-kos" else weights
        lfm = self._new_lightfm()
        epochs = tqdm(range(self.config.epochs), desc="LightFM", unit="epoch", disable=not progress)
        for _ in epochs:
            # fit_partial one epoch at a time continues the same random stream, so this is the
            # same computation as fit(epochs=n) with a progress bar around it.
            lfm.fit_partial(
                positives,
                user_features=dataset.user_features,
                item_features=dataset.item_features,
                sample_weight=sample_weight,
                epochs=1,
                num_threads=self.config.num_threads,
            )
        self._set_state(
            lfm, dataset.index, dataset.user_features, dataset.item_features, dataset.interactions
        )
        return self

    def _set_state(
        self,
        lfm: LightFM,
        index: ModelIndex,
        user_features: sp.csr_matrix,
        item_features: sp.csr_matrix,
        train: sp.csr_matrix,
    ) -> None:
        self._lightfm = lfm
        self._index = index
        self._user_features = user_features.tocsr().astype(np.float32)
        self._item_features = item_features.tocsr().astype(np.float32)
        self._train = train.tocsr().astype(np.float32)
        self._user_bias = np.asarray(self._user_features @ lfm.user_biases, dtype=np.float32)
        self._user_repr = np.asarray(self._user_features @ lfm.user_embeddings, dtype=np.float32)
        self._item_bias = np.asarray(self._item_features @ lfm.item_biases, dtype=np.float32)
        self._item_repr = np.asarray(self._item_features @ lfm.item_embeddings, dtype=np.float32)

    @classmethod
    def restore(
        cls,
        config: ModelConfig,
        index: ModelIndex,
        lightfm_state: Mapping[str, np.ndarray],
        *,
        user_features: sp.csr_matrix,
        item_features: sp.csr_matrix,
        train: sp.csr_matrix,
    ) -> HybridModel:
        """Rebuild a fitted model from the arrays :meth:`lightfm_state` returned.

        Raises ``ValueError`` when an array is missing or shapes disagree with each other.
        """
        missing = [name for name in LIGHTFM_STATE if name not in lightfm_state]
        if missing:
            raise ValueError(f"LightFM state lacks {missing}")
        n_users, n_items = index.n_users, index.n_items
        k = config.no_components
        expected = {
            "item_embeddings": (len(index.item_feature_names), k),
            "item_biases": (len(index.item_feature_names),),
            "user_embeddings": (len(index.user_feature_names), k),
            "user_biases": (len(index.user_feature_names),),
        }
        for name in LIGHTFM_STATE:
            shape = expected[_STATE_SHAPE_OF[name]]
            if lightfm_state[name].shape != shape:
                raise ValueError(f"{name} has shape {lightfm_state[name].shape}, expected {shape}")
        if user_features.shape != (n_users, len(index.user_feature_names)):
            raise ValueError("user_features shape disagrees with the index")
        if item_features.shape != (n_items, len(index.item_feature_names)):
            raise ValueError("item_features shape disagrees with the index")
        if train.shape != (n_users, n_items):
            raise ValueError("train shape disagrees with the index")
        model = cls(config)
        lfm = model._new_lightfm()
        for name in LIGHTFM_STATE:
            setattr(lfm, name, np.ascontiguousarray(lightfm_state[name], dtype=np.float32))
        model._set_state(lfm, index, user_features, item_features, train)
        return model

    # -- state ------------------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return self._lightfm is not None

    def _require(self) -> tuple[LightFM, ModelIndex, sp.csr_matrix]:
        if self._lightfm is None or self._index is None or self._train is None:
            raise RuntimeError("the model is not fitted")
        return self._lightfm, self._index, self._train

    @property
    def index(self) -> ModelIndex:
        """Id maps and feature names of the data the model was fitted on."""
        return self._require()[1]

    @property
    def n_users(self) -> int:
        return self._user_repr.shape[0]

    @property
    def n_items(self) -> int:
        return self._item_repr.shape[0]

    @property
    def user_features(self) -> sp.csr_matrix:
        self._require()
        assert self._user_features is not None
        return self._user_features

    @property
    def item_features(self) -> sp.csr_matrix:
        self._require()
        assert self._item_features is not None
        return self._item_features

    @property
    def train_interactions(self) -> sp.csr_matrix:
        """The binary ``(n_users, n_items)`` interactions the model was fitted on."""
        return self._require()[2]

    def lightfm_state(self) -> dict[str, np.ndarray]:
        """Copies of LightFM's arrays (embeddings, biases and their optimiser accumulators)."""
        lfm = self._require()[0]
        return {name: np.array(getattr(lfm, name), dtype=np.float32) for name in LIGHTFM_STATE}

    def known_items(self, user_index: int) -> np.ndarray:
        """Item indices (sorted int64) the user interacted with in the training data."""
        train = self._require()[2]
        self._check_user(user_index)
        return np.asarray(train[user_index].indices, dtype=np.int64)

    def _check_user(self, user_index: int) -> None:
        if not 0 <= int(user_index) < self.n_users:
            raise ValueError(f"user index {user_index} outside [0, {self.n_users})")

    def _check_item(self, item_index: int) -> None:
        if not 0 <= int(item_index) < self.n_items:
            raise ValueError(f"item index {item_index} outside [0, {self.n_items})")

    # -- scoring ----------------------------------------------------------------------------

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of every item for each user: float32 array ``(len(user_indices), n_items)``.

        Higher is better; only the order within a row is meaningful. Raises ``ValueError`` on an
        out-of-range or non-integer index.
        """
        self._require()
        users = _checked_indices(np.atleast_1d(np.asarray(user_indices)), self.n_users, "users")
        scores = self._user_repr[users] @ self._item_repr.T
        scores += self._user_bias[users, None]
        scores += self._item_bias[None, :]
        return scores.astype(np.float32, copy=False)

    def score_new_user(self, features: tuple[str, ...]) -> np.ndarray:
        """Cold start: scores (float32, shape ``(n_items,)``) for a user not in the data,
        described only by her user ``features`` (e.g. stated preferences, serving retailer).

        Features the model was not trained with are ignored; with none known, the scores are
        the item biases alone (a popularity-like ranking).
        """
        lfm, index, _ = self._require()
        row = index.user_feature_row(features)
        user_repr = np.asarray(row @ lfm.user_embeddings, dtype=np.float32)[0]
        user_bias = float((row @ lfm.user_biases)[0])
        scores = self._item_repr @ user_repr + self._item_bias + user_bias
        return scores.astype(np.float32, copy=False)

    @property
    def user_representations(self) -> np.ndarray:
        """``(n_users, no_components)`` float32: each training user's feature-embedding sum,
        as scoring uses it (read-only view)."""
        self._require()
        view = self._user_repr.view()
        view.flags.writeable = False
        return view

    @property
    def item_representations(self) -> np.ndarray:
        """``(n_items, no_components)`` float32 item representations (read-only view)."""
        self._require()
        view = self._item_repr.view()
        view.flags.writeable = False
        return view

    def score_vector(self, user_vec: np.ndarray) -> np.ndarray:
        """Scores (float32, ``(n_items,)``) for a user given directly as a representation of
        shape ``(no_components,)``, e.g. folded in from her events
        (:mod:`recommender.foldin`). A user bias would shift every item alike, so none is
        added. Raises ``ValueError`` on a wrong shape."""
        self._require()
        vec = self._checked_vector(user_vec)
        return (self._item_repr @ vec + self._item_bias).astype(np.float32, copy=False)

    def _checked_vector(self, user_vec: np.ndarray) -> np.ndarray:
        vec = np.asarray(user_vec, dtype=np.float32)
        if vec.shape != (self._item_repr.shape[1],):
            raise ValueError(
                f"user vector must have shape ({self._item_repr.shape[1]},), got {vec.shape}"
            )
        return vec

    def explain_vector_items(
        self,
        user_vec: np.ndarray,
        item_indices: Sequence[int],
        *,
        past_items: np.ndarray | None = None,
        top: int = 3,
    ) -> list[Explanation]:
        """:meth:`explain_new_user_items` for a user given as a representation (as in
        :meth:`score_vector`): no user features, so the reasons are the item's features and
        her ``past_items`` most similar to it. The explanations' ``user_index`` is ``-1``.

        Raises ``ValueError`` for a wrong shape, an out-of-range item index or ``top < 1``.
        """
        self._require()
        vec = self._checked_vector(user_vec)
        for item in item_indices:
            self._check_item(item)
        past = np.zeros(0, dtype=np.int64) if past_items is None else np.asarray(past_items)
        past = np.unique(_checked_indices(past, self.n_items, "past_items").astype(np.int64))
        no_row = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        out = []
        for item in item_indices:
            i = int(item)
            score = float(self._item_repr[i] @ vec + self._item_bias[i])
            out.append(self._explain(-1, vec, no_row, past, i, score, top))
        return out

    def recommend(
        self,
        user_index: int,
        n: int,
        *,
        allowed_items: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``n`` ``(item_index, score)`` for a known user, best first.

        Restrict candidates with ``allowed_items`` (e.g. the store's catalogue) and remove
        ``exclude`` (e.g. everything she bought at any retailer the model may use); nothing is
        excluded implicitly, pass :meth:`known_items` to drop training interactions.
        """
        self._check_user(user_index)
        scores = self.score_users(np.asarray([user_index]))[0]
        return rank_items(scores, n, allowed_items=allowed_items, exclude=exclude)

    def explain(self, user_index: int, item_index: int, top: int = 3) -> Explanation:
        """The strongest (at most ``top`` of each kind) readable reasons for one score.

        A declared item feature ``g`` with weight ``w`` contributes ``w * (user . e_g + b_g)``;
        a declared user feature ``f`` contributes ``w * (e_f . item)``; these add up, with the
        identity features, to the score. Past interactions are ranked by the cosine similarity
        of their item representation to the recommended item's.
        """
        _, _, train = self._require()
        self._check_user(user_index)
        self._check_item(item_index)
        assert self._user_features is not None
        past = np.asarray(train[user_index].indices, dtype=np.int64)
        score = float(self.score_users(np.asarray([user_index]))[0, item_index])
        row = self._user_features[user_index]
        return self._explain(
            int(user_index),
            self._user_repr[user_index],
            (row.indices, row.data),
            past,
            int(item_index),
            score,
            top,
        )

    def explain_new_user(
        self,
        features: tuple[str, ...],
        item_index: int,
        *,
        past_items: np.ndarray | None = None,
        top: int = 3,
    ) -> Explanation:
        """:meth:`explain` for a user described only by ``features`` (as in
        :meth:`score_new_user`); ``past_items`` are item indices she interacted with (e.g. her
        history as the caller may use it). The explanation's ``user_index`` is ``-1``.

        Raises ``ValueError`` for an out-of-range item index or ``top < 1``.
        """
        (explanation,) = self.explain_new_user_items(
            features, [item_index], past_items=past_items, top=top
        )
        return explanation

    def explain_new_user_items(
        self,
        features: tuple[str, ...],
        item_indices: Sequence[int],
        *,
        past_items: np.ndarray | None = None,
        top: int = 3,
    ) -> list[Explanation]:
        """:meth:`explain_new_user` for several items at once (the user vector is built once).

        Raises ``ValueError`` for an out-of-range item index or ``top < 1``.
        """
        lfm, index, _ = self._require()
        for item in item_indices:
            self._check_item(item)
        past = np.zeros(0, dtype=np.int64) if past_items is None else np.asarray(past_items)
        past = np.unique(_checked_indices(past, self.n_items, "past_items").astype(np.int64))
        row = index.user_feature_row(features)
        user_vec = np.asarray(row @ lfm.user_embeddings, dtype=np.float32)[0]
        user_bias = float((row @ lfm.user_biases)[0])
        out = []
        for item in item_indices:
            i = int(item)
            score = float(self._item_repr[i] @ user_vec + self._item_bias[i] + user_bias)
            out.append(self._explain(-1, user_vec, (row.indices, row.data), past, i, score, top))
        return out

    def _explain(
        self,
        user_index: int,
        user_vec: np.ndarray,
        user_row: tuple[np.ndarray, np.ndarray],
        past: np.ndarray,
        item_index: int,
        score: float,
        top: int,
    ) -> Explanation:
        """``user_row`` is the user's feature row as (columns, weights)."""
        lfm, index, _ = self._require()
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        assert self._item_features is not None
        item_vec = self._item_repr[item_index]

        def reasons(
            cols: np.ndarray, weights: np.ndarray, names: tuple[str, ...], values: np.ndarray
        ) -> tuple[FeatureReason, ...]:
            # ``values`` holds one value per column of the row, in order.
            out = [
                FeatureReason(names[c], float(w * v))
                for c, w, v in zip(cols, weights, values, strict=True)
                if not names[c].startswith(IDENTITY_PREFIX) and w * v > 0
            ]
            out.sort(key=lambda r: (-r.contribution, r.feature))
            return tuple(out[:top])

        # Only the features present in the two rows are needed, not every embedding; the item
        # row is read straight from the CSR arrays (indexing a sparse row is slow).
        feats = self._item_features
        lo, hi = feats.indptr[item_index], feats.indptr[item_index + 1]
        item_cols, item_weights = feats.indices[lo:hi], feats.data[lo:hi]
        item_values = lfm.item_embeddings[item_cols] @ user_vec + lfm.item_biases[item_cols]
        user_cols, user_weights = user_row
        user_values = lfm.user_embeddings[user_cols] @ item_vec

        past = past[past != item_index]
        similar: list[InteractionReason] = []
        if past.size:
            reprs = self._item_repr[past]
            norms = np.linalg.norm(reprs, axis=1) * np.linalg.norm(item_vec)
            sims = np.divide(reprs @ item_vec, norms, out=np.zeros(past.size), where=norms > 0)
            for j in np.lexsort((past, -sims))[:top]:
                if sims[j] > 0:
                    i = int(past[j])
                    similar.append(InteractionReason(i, index.item_ids[i], float(sims[j])))
        return Explanation(
            user_index=user_index,
            item_index=item_index,
            score=score,
            item_features=reasons(item_cols, item_weights, index.item_feature_names, item_values),
            user_features=reasons(user_cols, user_weights, index.user_feature_names, user_values),
            interactions=tuple(similar),
        )
