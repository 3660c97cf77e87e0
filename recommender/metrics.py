"""Ranking metrics as pure functions with one argument order: ``(model, test, train=None, k=10)``.

Conventions shared by every function here:

* ``model`` is any :class:`Scorer`; ``test`` and ``train`` are ``(n_users, n_items)`` sparse
  matrices whose non-zero entries are the relevant / already-known interactions.
* Items in a user's ``train`` row are removed from her ranking (they can be neither hit nor
  counted); ``test`` and ``train`` must not share an entry.
* Users whose ``test`` row is empty are skipped; the result is the unweighted mean over the
  remaining ("evaluated") users.
* Ties in score are broken by the lower item index, so results are deterministic.
* Bad arguments (``k < 1``, mismatched shapes, overlapping test and train, no user to
  evaluate, a scorer returning the wrong shape) raise ``ValueError``.

Example (one user, items 0..3 scored 0.9, 0.1, 0.5, 0.3; item 2 relevant)::

    >>> precision_at_k(scorer, test, k=2)                              # doctest: +SKIP
    0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

_BATCH = 512


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores every item for a batch of users.

    ``score_users(user_indices)`` returns an array of shape ``(len(user_indices), n_items)``;
    higher means more recommended.
    """

    def score_users(self, user_indices: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class MetricReport:
    """All metrics at one ``k`` from a single scoring pass (see :func:`evaluate`)."""

    k: int
    n_users: int
    precision: float
    recall: float
    ndcg: float
    auc: float
    coverage: float


def _as_csr(name: str, matrix: object) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise ValueError(f"{name} must be a scipy sparse matrix, got {type(matrix).__name__}")
    out = sp.csr_matrix(matrix)
    out.eliminate_zeros()
    return out


def _validate(
    test: object, train: object | None, ks: Iterable[int]
) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be an integer of at least 1, got {k!r}")
    test_csr = _as_csr("test", test)
    if train is None:
        return test_csr, None
    train_csr = _as_csr("train", train)
    if train_csr.shape != test_csr.shape:
        raise ValueError(f"train shape {train_csr.shape} differs from test shape {test_csr.shape}")
    if test_csr.multiply(train_csr).nnz:
        raise ValueError("test and train share interactions; held-out items must be new")
    return test_csr, train_csr


def _scored_batches(
    model: Scorer, test: sp.csr_matrix, train: sp.csr_matrix | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(users, scores)`` for evaluated users, train items scored ``-inf``."""
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if users.size == 0:
        raise ValueError("no user has a test interaction; nothing to evaluate")
    n_items = test.shape[1]
    for start in range(0, users.size, _BATCH):
        batch = users[start : start + _BATCH]
        scores = np.array(model.score_users(batch), dtype=np.float64)
        if scores.shape != (batch.size, n_items):
            raise ValueError(
                f"scorer returned shape {scores.shape}, expected {(batch.size, n_items)}"
            )
        if np.isnan(scores).any():
            raise ValueError("scorer returned NaN scores")
        if train is not None:
            sub = train[batch].tocoo()
            scores[sub.row, sub.col] = -np.inf
        yield batch, scores


def _ranking(scores: np.ndarray, depth: int) -> np.ndarray:
    """Item indices of each row's ``depth`` best scores, best first, ties by lower index."""
    depth = min(depth, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :depth]


@dataclass
class _Accumulator:
    hits_at: np.ndarray  # per k in precision_ks: summed (hits in top k) / k
    recall: float = 0.0
    ndcg: float = 0.0
    auc: float = 0.0
    auc_users: int = 0
    users: int = 0


def _accumulate(
    model: Scorer,
    test: sp.csr_matrix,
    train: sp.csr_matrix | None,
    k: int,
    *,
    precision_ks: list[int] | None = None,
    with_auc: bool = False,
) -> tuple[_Accumulator, np.ndarray]:
    """One pass over evaluated users: sums of per-user metrics at ``k`` (precision at each of
    ``precision_ks``, default ``[k]``) and the mask of items seen in any top ``k``."""
    ks = precision_ks or [k]
    depth = max(k, *ks)
    acc = _Accumulator(hits_at=np.zeros(len(ks)))
    covered = np.zeros(test.shape[1], dtype=bool)
    discounts = 1.0 / np.log2(np.arange(2, depth + 2))
    for users, scores in _scored_batches(model, test, train):
        top = _ranking(scores, depth)
        valid = np.take_along_axis(scores, top, axis=1) > -np.inf  # never rank train items
        for row, user in enumerate(users):
            relevant = test.indices[test.indptr[user] : test.indptr[user + 1]]
            hit = np.isin(top[row], relevant) & valid[row]
            cum = np.cumsum(hit)
            for j, kj in enumerate(ks):
                acc.hits_at[j] += cum[min(kj, cum.size) - 1] / kj
            acc.recall += cum[min(k, cum.size) - 1] / relevant.size
            dcg = float(discounts[: min(k, hit.size)] @ hit[:k])
            idcg = float(discounts[: min(k, relevant.size)].sum())
            acc.ndcg += dcg / idcg
            covered[top[row, :k][valid[row, :k]]] = True
            acc.users += 1
            if with_auc:
                auc = _user_auc(scores[row], relevant)
                if auc is not None:
                    acc.auc += auc
                    acc.auc_users += 1
    return acc, covered


def _user_auc(scores: np.ndarray, relevant: np.ndarray) -> float | None:
    """Probability that a relevant item outscores a non-relevant, non-train one (ties 1/2)."""
    candidates = scores > -np.inf
    is_pos = np.zeros(scores.size, dtype=bool)
    is_pos[relevant] = True
    pos = int((is_pos & candidates).sum())
    neg = int((~is_pos & candidates).sum())
    if pos == 0 or neg == 0:
        return None
    ranks = rankdata(scores[candidates])  # average ranks handle ties as 1/2
    pos_rank_sum = float(ranks[is_pos[candidates]].sum())
    return (pos_rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def precision_at_k(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> float:
    """Mean over evaluated users of (relevant items in the top ``k``) / ``k``."""
    test_csr, train_csr = _validate(test, train, [k])
    acc, _ = _accumulate(model, test_csr, train_csr, k)
    return float(acc.hits_at[0] / acc.users)


def precision_at_ks(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, ks: Iterable[int] = (10,)
) -> dict[int, float]:
    """``{k: precision_at_k(model, test, train, k)}`` for several ``k`` from one scoring pass."""
    k_list = sorted(set(ks))
    if not k_list:
        raise ValueError("ks is empty")
    test_csr, train_csr = _validate(test, train, k_list)
    acc, _ = _accumulate(model, test_csr, train_csr, k_list[0], precision_ks=k_list)
    return {k: float(v / acc.users) for k, v in zip(k_list, acc.hits_at, strict=True)}


def recall_at_k(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> float:
    """Mean over evaluated users of (relevant items in the top ``k``) / (relevant items)."""
    test_csr, train_csr = _validate(test, train, [k])
    acc, _ = _accumulate(model, test_csr, train_csr, k)
    return float(acc.recall / acc.users)


def ndcg_at_k(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> float:
    """Mean over evaluated users of binary nDCG@k.

    DCG = sum over hits at 1-based rank r <= k of 1 / log2(r + 1); it is divided by the DCG of
    an ideal ranking with ``min(k, relevant items)`` hits at the top.
    """
    test_csr, train_csr = _validate(test, train, [k])
    acc, _ = _accumulate(model, test_csr, train_csr, k)
    return float(acc.ndcg / acc.users)


def auc_score(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> float:
    """Mean over evaluated users of ROC AUC over the whole catalogue minus train items.

    Per user: the probability that a random test item scores above a random item that is in
    neither test nor train (ties count one half). ``k`` is validated but does not affect the
    result (AUC is not a top-k metric); it is accepted to keep the common signature. Users
    without any such negative item are skipped too.
    """
    test_csr, train_csr = _validate(test, train, [k])
    acc, _ = _accumulate(model, test_csr, train_csr, k, with_auc=True)
    if acc.auc_users == 0:
        raise ValueError("no evaluated user has a negative item; AUC is undefined")
    return float(acc.auc / acc.auc_users)


def catalogue_coverage_at_k(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> float:
    """Fraction of all ``n_items`` that appear in at least one evaluated user's top ``k``."""
    test_csr, train_csr = _validate(test, train, [k])
    _, covered = _accumulate(model, test_csr, train_csr, k)
    return float(covered.mean())


def evaluate(
    model: Scorer, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10
) -> MetricReport:
    """All five metrics at ``k`` from one scoring pass (same values as the single functions)."""
    test_csr, train_csr = _validate(test, train, [k])
    acc, covered = _accumulate(model, test_csr, train_csr, k, with_auc=True)
    return MetricReport(
        k=k,
        n_users=acc.users,
        precision=float(acc.hits_at[0] / acc.users),
        recall=float(acc.recall / acc.users),
        ndcg=float(acc.ndcg / acc.users),
        auc=float(acc.auc / acc.auc_users) if acc.auc_users else float("nan"),
        coverage=float(covered.mean()),
    )
