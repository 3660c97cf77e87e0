"""Records the recommender trains on, and the builder that owns the id <-> index maps.

The builder turns lists of :class:`Interaction`, :class:`Item` and :class:`UserProfile` into a
:class:`Dataset`: sparse matrices in the orientation LightFM expects (rows are users, columns are
items or features) plus the maps from external string ids to row/column indices.

Example::

    >>> ds = build_dataset(
    ...     [Interaction("u1", "shoe"), Interaction("u1", "shoe", weight=2.0)],
    ...     [Item("shoe", ("category:shoes",)), Item("hat", ("category:hats",))],
    ... )
    >>> ds.item_index["hat"], ds.interactions.toarray().tolist(), ds.weights.toarray().tolist()
    (1, [[1.0, 0.0]], [[3.0, 0.0]])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

#: Prefix of the one-hot identity feature each user/item gets; callers may not use it.
IDENTITY_PREFIX = "id:"

_FLOAT = np.float32


def _check_id(kind: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string, got {value!r}")


def _check_features(owner: str, features: object) -> None:
    if not isinstance(features, tuple):
        raise ValueError(f"features of {owner} must be a tuple of strings, got {features!r}")
    seen: set[str] = set()
    for feature in features:
        if not isinstance(feature, str) or not feature:
            raise ValueError(f"feature of {owner} must be a non-empty string, got {feature!r}")
        if feature.startswith(IDENTITY_PREFIX):
            raise ValueError(
                f"feature {feature!r} of {owner} uses the reserved prefix {IDENTITY_PREFIX!r}"
            )
        if feature in seen:
            raise ValueError(f"feature {feature!r} is repeated for {owner}")
        seen.add(feature)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One observed preference: a user bought/viewed/liked/rated an item.

    ``weight`` must be finite and positive (it becomes LightFM's ``sample_weight``); repeated
    interactions for the same user and item are summed. ``timestamp`` is in seconds since the
    epoch (only temporal splits need it). ``retailer`` names the member whose data it is.
    Raises ``ValueError`` on empty ids or a non-positive or non-finite weight/timestamp.
    """

    user_id: str
    item_id: str
    weight: float = 1.0
    retailer: str | None = None
    timestamp: float | None = None

    def __post_init__(self) -> None:
        _check_id("user_id", self.user_id)
        _check_id("item_id", self.item_id)
        if not isinstance(self.weight, int | float) or not math.isfinite(self.weight):
            raise ValueError(f"weight must be a finite number, got {self.weight!r}")
        if self.weight <= 0:
            raise ValueError(f"weight must be positive, got {self.weight!r}")
        if self.retailer is not None:
            _check_id("retailer", self.retailer)
        if self.timestamp is not None and (
            not isinstance(self.timestamp, int | float) or not math.isfinite(self.timestamp)
        ):
            raise ValueError(f"timestamp must be a finite number or None, got {self.timestamp!r}")


@dataclass(frozen=True, slots=True)
class Item:
    """A catalogue item and its descriptive features, e.g. ``("category:shoes", "price:mid")``."""

    item_id: str
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id("item_id", self.item_id)
        _check_features(f"item {self.item_id!r}", self.features)


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A user and the features she consented to share, e.g. ``("likes:running",)``."""

    user_id: str
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id("user_id", self.user_id)
        _check_features(f"user {self.user_id!r}", self.features)


def _index_of(names: Sequence[str]) -> Mapping[str, int]:
    return MappingProxyType({name: i for i, name in enumerate(names)})


def feature_row(
    features: Iterable[str], feature_index: Mapping[str, int], n_features: int
) -> sp.csr_matrix:
    """One normalised feature row (shape ``(1, n_features)``, float32, sums to 1 or is empty).

    Features absent from ``feature_index`` are ignored, so a row for features the model has
    never seen is all zeros.
    """
    cols = sorted({feature_index[f] for f in features if f in feature_index})
    data = np.full(len(cols), 1.0 / len(cols) if cols else 0.0, dtype=_FLOAT)
    return sp.csr_matrix(
        (data, np.asarray(cols, dtype=np.int32), np.asarray([0, len(cols)], dtype=np.int32)),
        shape=(1, n_features),
    )


@dataclass(frozen=True)
class ModelIndex:
    """The id <-> index maps and feature names a trained model needs to serve requests.

    It is what :func:`recommender.artifacts.load_model` returns beside the model, without the
    training interactions' retailer provenance (which stays with the :class:`Dataset`).
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    user_feature_names: tuple[str, ...]
    item_feature_names: tuple[str, ...]
    user_index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    item_index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    user_feature_index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    item_feature_index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("user_ids", "item_ids", "user_feature_names", "item_feature_names"):
            values = tuple(getattr(self, name))
            if len(set(values)) != len(values):
                raise ValueError(f"{name} contains duplicates")
            object.__setattr__(self, name, values)
        object.__setattr__(self, "user_index", _index_of(self.user_ids))
        object.__setattr__(self, "item_index", _index_of(self.item_ids))
        object.__setattr__(self, "user_feature_index", _index_of(self.user_feature_names))
        object.__setattr__(self, "item_feature_index", _index_of(self.item_feature_names))

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_feature_row(self, features: Iterable[str]) -> sp.csr_matrix:
        """Feature row for a user described only by ``features`` (unknown ones ignored)."""
        return feature_row(features, self.user_feature_index, len(self.user_feature_names))

    def item_indices(self, item_ids: Iterable[str], *, ignore_unknown: bool = False) -> np.ndarray:
        """Column indices (int64) of ``item_ids``; unknown ids raise ``ValueError`` unless
        ``ignore_unknown`` is set, in which case they are dropped."""
        out: list[int] = []
        for item_id in item_ids:
            idx = self.item_index.get(item_id)
            if idx is None:
                if ignore_unknown:
                    continue
                raise ValueError(f"unknown item id {item_id!r}")
            out.append(idx)
        return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class Dataset:
    """Interactions and features on one fixed index, as produced by :func:`build_dataset`.

    Shapes: ``interactions`` and ``weights`` are ``(n_users, n_items)`` float32 CSR (1.0 where
    the user interacted with the item at all / summed interaction weights);
    ``item_features`` is ``(n_items, len(item_feature_names))`` and ``user_features`` is
    ``(n_users, len(user_feature_names))``, float32 CSR with each non-empty row summing to 1.
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    user_index: Mapping[str, int]
    item_index: Mapping[str, int]
    interactions: sp.csr_matrix
    weights: sp.csr_matrix
    item_features: sp.csr_matrix
    user_features: sp.csr_matrix
    item_feature_names: tuple[str, ...]
    user_feature_names: tuple[str, ...]
    retailers: Mapping[tuple[int, int], frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def index(self) -> ModelIndex:
        """The id maps and feature names, detached from the matrices."""
        return ModelIndex(
            self.user_ids, self.item_ids, self.user_feature_names, self.item_feature_names
        )

    def retailers_of(self, user_index: int, item_index: int) -> tuple[str, ...]:
        """Sorted names of the retailers whose records contain this user-item interaction."""
        return tuple(sorted(self.retailers.get((user_index, item_index), frozenset())))

    def matrix_for(
        self,
        interactions: Iterable[Interaction],
        *,
        ignore_unknown: bool = False,
        weighted: bool = False,
    ) -> sp.csr_matrix:
        """Map other interactions (e.g. a test set) onto this dataset's index.

        Returns a ``(n_users, n_items)`` float32 CSR matrix holding 1.0 where any interaction
        exists, or the summed weights when ``weighted``. A user or item id this dataset does not
        know raises ``ValueError`` naming it, unless ``ignore_unknown`` is set, in which case such
        interactions are silently dropped.
        """
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for inter in interactions:
            u = self.user_index.get(inter.user_id)
            i = self.item_index.get(inter.item_id)
            if u is None or i is None:
                if ignore_unknown:
                    continue
                kind, value = ("user", inter.user_id) if u is None else ("item", inter.item_id)
                raise ValueError(f"unknown {kind} id {value!r} (not in the dataset)")
            rows.append(u)
            cols.append(i)
            vals.append(inter.weight)
        weights = _summed(rows, cols, vals, (self.n_users, self.n_items))
        return weights if weighted else _binary(weights)


def _summed(
    rows: list[int], cols: list[int], vals: list[float], shape: tuple[int, int]
) -> sp.csr_matrix:
    mat = sp.coo_matrix(
        (np.asarray(vals, dtype=_FLOAT), (np.asarray(rows, dtype=np.int32), np.asarray(cols))),
        shape=shape,
    ).tocsr()  # duplicates are summed here
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def _binary(weights: sp.csr_matrix) -> sp.csr_matrix:
    out = weights.copy()
    out.data = np.ones_like(out.data, dtype=_FLOAT)
    return out


def _feature_matrix(
    ids: Sequence[str], features_of: Mapping[str, tuple[str, ...]], identity: bool
) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    """Rows are entities, columns are identity features (first, if any) then the sorted
    distinct declared features; each non-empty row is normalised to sum to 1."""
    declared = sorted({f for fs in features_of.values() for f in fs})
    names = ([f"{IDENTITY_PREFIX}{x}" for x in ids] if identity else []) + declared
    offset = len(ids) if identity else 0
    col_of = {f: offset + j for j, f in enumerate(declared)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, entity in enumerate(ids):
        entity_cols = ([r] if identity else []) + [col_of[f] for f in features_of.get(entity, ())]
        for c in entity_cols:
            rows.append(r)
            cols.append(c)
            vals.append(1.0 / len(entity_cols))
    matrix = _summed(rows, cols, vals, (len(ids), len(names)))
    return matrix, tuple(names)


def build_dataset(
    interactions: Iterable[Interaction],
    items: Iterable[Item],
    users: Iterable[UserProfile] = (),
    *,
    item_identity_features: bool = True,
    user_identity_features: bool = True,
) -> Dataset:
    """Build the matrices LightFM trains on.

    Items are indexed in the order given; users in the order of ``users`` then of first
    appearance in ``interactions`` (a user known only from interactions has no features besides
    her identity feature). With ``*_identity_features`` each user/item also gets a one-hot
    feature named ``"id:<id>"`` so the model can learn per-entity tastes (collaborative part);
    without it, an entity is represented by its declared features only (pure content model).

    Raises ``ValueError`` on duplicate item or user-profile ids, or on an interaction with an
    item id absent from ``items`` (the message names the id).
    """
    item_list = list(items)
    item_features_of: dict[str, tuple[str, ...]] = {}
    for item in item_list:
        if item.item_id in item_features_of:
            raise ValueError(f"duplicate item id {item.item_id!r}")
        item_features_of[item.item_id] = item.features
    item_ids = tuple(item.item_id for item in item_list)
    item_index = _index_of(item_ids)

    user_features_of: dict[str, tuple[str, ...]] = {}
    for profile in users:
        if profile.user_id in user_features_of:
            raise ValueError(f"duplicate user id {profile.user_id!r}")
        user_features_of[profile.user_id] = profile.features
    user_order: dict[str, int] = {uid: i for i, uid in enumerate(user_features_of)}

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    retailers: dict[tuple[int, int], set[str]] = {}
    for inter in interactions:
        col = item_index.get(inter.item_id)
        if col is None:
            raise ValueError(
                f"interaction of user {inter.user_id!r} names unknown item id {inter.item_id!r}"
            )
        row = user_order.setdefault(inter.user_id, len(user_order))
        rows.append(row)
        cols.append(col)
        vals.append(inter.weight)
        if inter.retailer is not None:
            retailers.setdefault((row, col), set()).add(inter.retailer)
    user_ids = tuple(user_order)

    weights = _summed(rows, cols, vals, (len(user_ids), len(item_ids)))
    item_features, item_feature_names = _feature_matrix(
        item_ids, item_features_of, item_identity_features
    )
    user_features, user_feature_names = _feature_matrix(
        user_ids, user_features_of, user_identity_features
    )
    return Dataset(
        user_ids=user_ids,
        item_ids=item_ids,
        user_index=_index_of(user_ids),
        item_index=item_index,
        interactions=_binary(weights),
        weights=weights,
        item_features=item_features,
        user_features=user_features,
        item_feature_names=item_feature_names,
        user_feature_names=user_feature_names,
        retailers=MappingProxyType({k: frozenset(v) for k, v in retailers.items()}),
    )
