"""A sequential test on a reader's counts per step: a one-sided Poisson CUSUM.

The window detector (:mod:`.detector`) judges the last ``window_s`` at once, so a scrape
must first fill enough of a 5-minute window to stand out of it. The CUSUM instead adds up,
step by step, the evidence that a count is running above the reader's own usual rate at
that hour (:class:`~gateway.watch.features.HourlyBaseline`) and forgets it as soon as the
count runs at or below it::

    S <- max(0, S + x * log(l1 / l0) - (l1 - l0))

with ``x`` the step's count, ``l0`` the usual count of a step at that hour and ``l1`` the
count the test is designed to catch: ``max(ratio * l0, l0 + shift)`` (a busier day than
usual, up to ``ratio``, must not look like an attack; a reader usually idle at that hour
needs ``shift`` more a step, not a multiple of nothing). ``S`` is the log likelihood ratio
of "the rate rose to ``l1`` at some step" against "it stayed at ``l0``" since the most
likely step, in nats: crossing ``threshold`` (about ``log`` of the steps between false
alarms) raises the alarm. This is Page's CUSUM for Poisson counts (Lucas, 1985).

One chart is quickest on the rise it is designed for: a chart for 30 more an hour takes
minutes to see 960 more (each read weighs only ``log(l1 / l0)``), one for 480 more never
sees 30. :class:`CusumBank` runs a chart per designed rise on the same count and alarms
when any crosses (a multi-chart CUSUM), so each intensity meets a chart near its
own.

Written out by hand: it is the two lines of :meth:`PoissonCusum.update`, and neither scipy
nor scikit-learn (the watch's libraries) has a running CUSUM; statsmodels' CUSUM tests are
for regression residuals after the fact, not a count checked every 15 seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: The counts the watch runs a CUSUM on, each step (the names alerts give as drivers).
#: Reads only while the stores are closed: in opening hours a reader's reads swing with
#: its shoppers (a busy day is a third above the fortnight's mean at that hour, which a
#: chart on every read took for a rise: 1.1 false alarms a simulated day in the
#: benchmark), while a scrape shows in its new customers; at night every read counts.
COUNTS = ("off_hours_reads", "new_customers")


def designed_rate(usual: float, *, ratio: float, shift: float) -> float:
    """The count a step would hold under the anomaly the test is designed to catch."""
    return max(ratio * usual, usual + shift)


def log_likelihood_ratio(count: float, usual: float, designed: float) -> float:
    """log P(count | Poisson(designed)) - log P(count | Poisson(usual)): the factorials
    cancel, what is left is linear in the count."""
    return count * math.log(designed / usual) - (designed - usual)


@dataclass
class PoissonCusum:
    """One reader's CUSUM on one count. ``floor``: the smallest usual count of a step the
    test assumes (a reader never seen at an hour is not infinitely surprising there)."""

    threshold: float
    ratio: float = 2.0
    shift: float = 0.1
    floor: float = 0.002
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.threshold <= 0 or self.ratio <= 1 or self.shift <= 0 or self.floor <= 0:
            raise ValueError("threshold > 0, ratio > 1, shift > 0, floor > 0")

    def update(self, count: float, usual: float, span: float = 1.0) -> float:
        """Add one step's ``count`` against its ``usual`` count; the statistic after it.
        ``span``: the step's length in steps (a late step holds more than one step's
        reads; its floor and designed rise grow with it)."""
        usual = max(usual, self.floor * span)
        designed = designed_rate(usual, ratio=self.ratio, shift=self.shift * span)
        self.value = max(0.0, self.value + log_likelihood_ratio(count, usual, designed))
        return self.value

    @property
    def crossed(self) -> bool:
        return self.value > self.threshold

    def reset(self) -> None:
        self.value = 0.0


@dataclass
class CusumBank:
    """Charts on one count, one per designed rise (``shifts``, a step's count), the same
    ``threshold`` and ``ratio``; its value is the highest chart's."""

    threshold: float
    shifts: tuple[float, ...]
    ratio: float = 2.0
    floor: float = 0.002
    charts: list[PoissonCusum] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.shifts:
            raise ValueError("at least one designed rise")
        if not self.charts:
            self.charts = [PoissonCusum(self.threshold, ratio=self.ratio, shift=shift,
                                        floor=self.floor) for shift in self.shifts]

    def update(self, count: float, usual: float, span: float = 1.0) -> float:
        for chart in self.charts:
            chart.update(count, usual, span)
        return self.value

    @property
    def value(self) -> float:
        return max(chart.value for chart in self.charts)

    @property
    def crossed(self) -> bool:
        return any(chart.crossed for chart in self.charts)
