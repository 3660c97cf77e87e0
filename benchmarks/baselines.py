"""Baselines the hybrid model must beat; both are :class:`~recommender.metrics.Scorer` s.

* :class:`PopularityModel`: every user gets the same ranking, by number of users who
  interacted with the item in training.
* :class:`ALSModel`: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) from
  the ``implicit`` package, CPU implementation.

Both take the ``(n_users, n_items)`` training matrix (users are rows, as in
:class:`~recommender.dataset.Dataset`) and ``fit`` returns ``self``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits


def _train_matrix(train: object) -> sp.csr_matrix:
    if not sp.issparse(train):
        raise ValueError(f"train must be a scipy sparse matrix, got {type(train).__name__}")
    matrix = sp.csr_matrix(train, dtype=np.float32)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"train matrix has an empty dimension: {matrix.shape}")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError("train matrix holds negative entries")
    return matrix


def _user_batch(user_indices: np.ndarray, n_users: int) -> np.ndarray:
    users = np.atleast_1d(np.asarray(user_indices))
    if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
        raise ValueError("user_indices must be a 1-D integer array")
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"user index outside [0, {n_users})")
    return users


class PopularityModel:
    """Scores each item by how many training users interacted with it (ties: lower index)."""

    def __init__(self) -> None:
        self._counts: np.ndarray | None = None
        self._n_users = 0

    def fit(self, train: sp.spmatrix) -> PopularityModel:
        matrix = _train_matrix(train)
        binary = matrix.copy()
        binary.data[:] = 1.0
        self._counts = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        self._n_users = matrix.shape[0]
        return self

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """``(len(user_indices), n_items)`` float32: the same popularity row for everyone."""
        if self._counts is None:
            raise RuntimeError("the model is not fitted")
        users = _user_batch(user_indices, self._n_users)
        return np.broadcast_to(self._counts, (users.size, self._counts.size)).copy()


class ALSModel:
    """Implicit ALS on a binary (or weighted) user-item matrix.

    ``alpha`` scales the confidence of observed entries (confidence = 1 + alpha * value);
    ``seed`` fixes the factor initialisation. Training uses one thread per core given by
    ``num_threads`` (0 = all cores).
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        iterations: int = 15,
        alpha: float = 1.0,
        seed: int = 42,
        num_threads: int = 0,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ValueError("factors and iterations must be at least 1")
        if regularization < 0 or alpha <= 0:
            raise ValueError("regularization must be >= 0 and alpha > 0")
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.seed = seed
        self.num_threads = num_threads
        self._user_factors: np.ndarray | None = None
        self._item_factors: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"ALSModel(factors={self.factors}, regularization={self.regularization}, "
            f"iterations={self.iterations}, alpha={self.alpha}, seed={self.seed})"
        )

    def fit(self, train: sp.spmatrix) -> ALSModel:
        matrix = _train_matrix(train)
        # implicit parallelises over users itself; a threaded BLAS underneath only oversubscribes
        # the cores (implicit warns about it), so BLAS is pinned to one thread while fitting.
        with threadpool_limits(1, "blas"):
            self._fit(matrix)
        return self

    def _fit(self, matrix: sp.csr_matrix) -> None:
        als = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=self.num_threads,
        )
        # implicit >= 0.5 takes user_items (users as rows), the orientation of our matrices.
        als.fit(matrix, show_progress=False)
        self._user_factors = np.asarray(als.user_factors, dtype=np.float32)
        self._item_factors = np.asarray(als.item_factors, dtype=np.float32)
        if self._user_factors.shape[0] != matrix.shape[0]:
            raise RuntimeError("implicit returned factors for the wrong number of users")

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """``(len(user_indices), n_items)`` float32 dot products of user and item factors."""
        if self._user_factors is None or self._item_factors is None:
            raise RuntimeError("the model is not fitted")
        users = _user_batch(user_indices, self._user_factors.shape[0])
        return np.asarray(self._user_factors[users] @ self._item_factors.T, dtype=np.float32)
