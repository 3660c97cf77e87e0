"""Popular items, counted honestly: how many distinct customers chose each item in the serving
retailer's **own** records, and a reason that shows that count.

Popularity is what a kiosk offers a customer whose data it may not (or cannot) use, so it must
rest on the serving retailer's own records alone, never on data another member shared: with a
model installed it counts the retailer's own slices of the training data; before the first
model it counts the retailer's own events (:func:`popularity_from_events`). The count is the
suggestion's score and stands in its reason (``chosen by 12 customers at alder``), so a label
``popular`` always has the number behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from recommender.answers import Reason
from recommender.slices import Slice, event_record


def popularity_from_events(events: Iterable[object], retailer: str) -> dict[str, float]:
    """Item id -> number of distinct customers with a positive event recorded by ``retailer``
    (events of other members are ignored): the ranking before any model is trained. Raises
    ``ValueError`` on a malformed event.
    """
    seen: dict[str, set[str]] = {}
    for raw in events:
        ev = event_record(raw)
        if ev.retailer == retailer and ev.positive_weight is not None:
            seen.setdefault(ev.item_id, set()).add(ev.customer_id)
    return {item: float(len(customers)) for item, customers in seen.items()}


def own_popularity(
    train: sp.csr_matrix,
    slices: Mapping[str, tuple[tuple[Slice, int], ...]],
    retailer: str,
) -> np.ndarray:
    """Per model item (float32, shape ``(n_items,)``): distinct customers whose slices recorded
    by ``retailer`` hold it in ``train`` (rows are training rows, ``slices`` maps a customer to
    her slices and their rows). Other members' slices do not count."""
    own = {c: [row for sl, row in ss if sl.retailer == retailer] for c, ss in slices.items()}
    own = {c: rows for c, rows in own.items() if rows}
    customers = {c: j for j, c in enumerate(sorted(own))}
    rows = [customers[c] for c, rs in own.items() for _ in rs]
    cols = [row for rs in own.values() for row in rs]
    assign = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(max(len(customers), 1), train.shape[0])
    )
    chosen = (assign @ train).tocsr()
    chosen.data[:] = 1.0
    return np.asarray(chosen.sum(axis=0), dtype=np.float32).ravel()


def popularity_reason(retailer: str, count: float) -> Reason:
    """The reason of a popular item: the count of customers who chose it at ``retailer``."""
    n = round(count)
    if n == 0:
        detail = f"not yet chosen at {retailer}"
    else:
        detail = f"chosen by {n} customer{'s' if n != 1 else ''} at {retailer}"
    return Reason("popularity", retailer, detail, float(n))
