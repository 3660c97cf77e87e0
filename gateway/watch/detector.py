"""The anomaly detector: fitted on the owner's own history of reader windows, it scores a
new window and says which features drove the score.

Three scikit-learn estimators, measured against each other by the benchmark
(docs/performance.md, "Consortium watch"): ``mahalanobis``, the distance under a Ledoit-Wolf
covariance (the default: it keeps growing with the distance from the history), ``lof``, the
local outlier factor in novelty mode, and ``iforest``, an isolation forest (its score stops
growing at the edge of the history).

Rates are compared on a log scale (``log1p``) and every feature is centred on the history's
median and scaled by its interquartile range, so no feature's unit dominates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import RobustScaler

from gateway.watch.features import SCORED

Estimator = Literal["mahalanobis", "lof", "iforest"]
ESTIMATORS: tuple[Estimator, ...] = ("mahalanobis", "lof", "iforest")
#: Features that are rates (log scale); the others are already log ratios.
_RATES = np.array([name.endswith("_per_hour") for name in SCORED])


def _transform(rows: np.ndarray) -> np.ndarray:
    out = rows.astype(float, copy=True)
    out[:, _RATES] = np.log1p(np.maximum(out[:, _RATES], 0.0))
    return out


@dataclass(frozen=True)
class Score:
    """A window's anomaly score (higher: more unusual), the threshold it is held to, and
    each feature's distance from the history's median in interquartile ranges."""

    value: float
    threshold: float
    deviations: dict[str, float]

    @property
    def anomalous(self) -> bool:
        return self.value > self.threshold

    def drivers(self, top: int = 3, least: float = 1.0) -> dict[str, float]:
        """The features that moved the score most (above the history's median by at least
        ``least`` interquartile ranges), largest first."""
        ranked = sorted(self.deviations.items(), key=lambda kv: -kv[1])
        return {name: round(dev, 2) for name, dev in ranked[:top] if dev >= least}


class Detector:
    """Fit on windows known to be normal (rows of :data:`~gateway.watch.features.SCORED`),
    then score new ones.

    ``margin`` sets the threshold above the highest score the history itself reaches
    (the 99.5th percentile, so one odd window in the history does not blind it)::

        detector = Detector("lof").fit(history)      # history: (n, 4) array
        score = detector.score([0.0, 0.0, 6.0, 15.0])

    Raises ValueError for fewer than ``min_rows`` rows or rows of the wrong width.
    """

    def __init__(self, estimator: Estimator = "mahalanobis", *, margin: float = 0.5,
                 min_rows: int = 20, seed: int = 0) -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}")
        self.estimator = estimator
        self.margin = margin
        self.min_rows = min_rows
        self.seed = seed
        self._scaler = RobustScaler(quantile_range=(25.0, 75.0))
        self._model: LedoitWolf | LocalOutlierFactor | IsolationForest | None = None
        self.threshold = float("inf")

    def fit(self, history: np.ndarray | list[list[float]]) -> Detector:
        rows = np.asarray(history, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != len(SCORED):
            raise ValueError(f"history rows must have {len(SCORED)} features")
        if len(rows) < self.min_rows:
            raise ValueError(f"at least {self.min_rows} windows of history are needed")
        # Overlapping windows repeat each other (a quiet night is many equal windows):
        # duplicates would make local densities infinite, so each distinct window counts once.
        rows = np.unique(rows, axis=0)
        if len(rows) < self.min_rows:
            raise ValueError(f"at least {self.min_rows} distinct windows of history are needed")
        self._scaler.fit(_transform(rows))
        # A log ratio that barely varies in the history (a reader as regular as a clock)
        # must not make a hundredth of a doubling look unusual.
        self._scaler.scale_ = np.where(_RATES, self._scaler.scale_,
                                       np.maximum(self._scaler.scale_, 0.1))
        scaled = self._one_sided(self._scaler.transform(_transform(rows)))
        # An interquartile range of 0 (a feature constant in the history) is left at 1 by
        # RobustScaler, which keeps one unit of that feature meaningful.
        if self.estimator == "mahalanobis":
            covariance = LedoitWolf().fit(scaled)
            own = np.sqrt(covariance.mahalanobis(scaled))
            self._model = covariance
        elif self.estimator == "lof":
            # Every window below the median is the same point once clipped: once each.
            scaled = np.unique(scaled, axis=0)
            if len(scaled) < 2:
                raise ValueError("at least 2 distinct windows above the median are needed")
            lof = LocalOutlierFactor(n_neighbors=min(20, len(scaled) - 1), novelty=True)
            lof.fit(scaled)
            own = -lof.negative_outlier_factor_
            self._model = lof
        else:
            forest = IsolationForest(n_estimators=200, random_state=self.seed)
            forest.fit(scaled)
            own = -forest.score_samples(scaled)
            self._model = forest
        self.threshold = float(np.quantile(own, 0.995)) * (1.0 + self.margin)
        return self

    @staticmethod
    def _one_sided(scaled: np.ndarray) -> np.ndarray:
        """Every feature is "more is worse" (more reads than usual at that hour, more new
        customers, more off-hours reads or off-schedule pages): a window below the
        history's median is as normal as the median, so a quiet morning alarms no one."""
        return np.maximum(scaled, 0.0)

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def score(self, window: list[float]) -> Score:
        """Raises RuntimeError before :meth:`fit`."""
        if self._model is None:
            raise RuntimeError("the detector is not fitted")
        deviation = self._scaler.transform(_transform(np.asarray([window], dtype=float)))
        scaled = self._one_sided(deviation)
        if isinstance(self._model, LedoitWolf):
            value = float(np.sqrt(self._model.mahalanobis(scaled)[0]))
        else:
            value = float(-self._model.score_samples(scaled)[0])
        deviations = {name: float(dev) for name, dev in zip(SCORED, deviation[0], strict=True)}
        return Score(value, self.threshold, deviations)
