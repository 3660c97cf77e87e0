"""Kiosk suggestions: the model in memory, consent applied to every request.

One :class:`SuggestionService` serves one retailer's stores. It holds the current model (an
artifact written by :func:`recommender.training.train_retailer_model`) and the retailer's
:class:`~recommender.catalogue.Catalogue`, and answers
``suggest(store_id, customer_id, n, consent=..., history=...)`` with the top ``n`` items the
store stocks, each with its reasons and the model id.

How consent is honoured without retraining (see :mod:`recommender.slices`): the model keeps
no customer-level embedding. Her user vector is rebuilt on every request from the features
the request's :class:`~recommender.slices.ConsentView` allows: the serving retailer's context,
her slices of its own records, the slices (retailer x data category) other members grant now,
and stated preferences recorded by a member that grants ``stated_preferences``. Her history
(:class:`~recommender.slices.CustomerHistory`) is filtered by the same view before it is used
to exclude purchases or to explain. After a withdrawal the gateway passes a view without that
member, so the next request uses none of her data there: no slice feature, no history record,
no reason names it.

Strategies, named in every answer (:attr:`Suggestions.strategy`):

``personalised``
    At least one of her slices the model knows is usable, or her usable events name items the
    model knows. When those events go beyond her usable slices (she is new to the model, or
    chose more since it was trained) she is folded in from all of them
    (:mod:`recommender.foldin`): no retraining, the next request after her purchase uses it.
``cold_start_stated``
    None is, but a usable stated preference is known to the model: context plus stated
    preferences (LightFM's cold start from features).

Both are scored by the served blend (:mod:`recommender.blend`) when the artifact carries a
sequence part: the hybrid's score plus the sequence neighbours of her usable events, latest
first, so what she chose last counts most and what her view withholds does not count at all.
``popularity``
    Neither: the store's items by the number of distinct customers who chose them in the
    serving retailer's own records (:mod:`recommender.popularity`): its own slices of the
    model's training data, or, with no model installed yet, the ``popularity`` counts given to
    the service (its own events). Each score is that count and the reason says it
    (``chosen by 12 customers at alder``). ``model_id`` is ``None`` without a model.

Every answer excludes what she bought at the serving retailer and at every member whose
``purchases`` her view grants (from the history and from the model's usable slices), since a
shared model that excludes only one retailer's purchases does much worse (DESIGN §8).

A request for ten suggestions with their reasons takes about a millisecond with BLAS limited
to one thread, which the service does around every request (``threadpoolctl``; the limit is
process-wide, so a multi-threaded server should also start with ``OPENBLAS_NUM_THREADS=1``);
measure it with ``python -m benchmarks.serving``.

Example::

    service = SuggestionService("alder", catalogue, artifact="artifacts/models/current")
    answer = service.suggest("alder-s01", customer, 5,
                             consent=ConsentView.for_retailers(customer, ["birch"]),
                             history=CustomerHistory.from_records(customer, events))
    answer.model_id, [(s.item_id, s.reasons[0].retailer) for s in answer.items]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from recommender.answers import Reason, Strategy, Suggestion, Suggestions
from recommender.artifacts import ArtifactError, load_artifact
from recommender.attribution import attribute
from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.errors import InvalidRequest, ModelRejected, UnknownStore
from recommender.foldin import fold_in_items
from recommender.installed import InstalledModel, install_model
from recommender.model import Explanation, rank_items
from recommender.popularity import popularity_reason
from recommender.sequence import ordered_items
from recommender.slices import (
    ConsentView,
    CustomerHistory,
    DataCategory,
    EventRecord,
    check_name,
    event_record,
    request_features,
)

MIN_SUGGESTIONS = 1
MAX_SUGGESTIONS = 50
#: Reasons of each kind kept per suggestion.
REASONS_PER_KIND = 3
_MAX_ID_LENGTH = 128

#: Which of a past item's sources a reason names first.
_CATEGORY_ORDER: tuple[DataCategory, ...] = ("purchases", "stated_preferences", "views")


def _check_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_LENGTH:
        raise InvalidRequest(
            f"{field} must be a non-empty string of at most 128 characters", field=field
        )
    return value


class SuggestionService:
    """Suggestions for the stores of ``retailer`` from the model currently installed.

    ``artifact``: a model directory to install at once (:meth:`swap_model`; its errors are
    raised). ``popularity``: item id -> count, the ranking used while no model is installed
    (e.g. :func:`popularity_from_events` over the retailer's own events).

    The service is safe to share between threads: a request reads the installed model once,
    and :meth:`swap_model` replaces it with one assignment after verifying the new one.
    Raises ``ValueError`` for a malformed retailer or one without a store in ``catalogue``.
    """

    def __init__(
        self,
        retailer: str,
        catalogue: Catalogue,
        *,
        artifact: str | os.PathLike[str] | None = None,
        popularity: Mapping[str, float] | None = None,
    ) -> None:
        self.retailer = check_name("retailer", retailer)
        if not catalogue.stores(retailer):
            raise ValueError(f"the catalogue has no store of retailer {retailer!r}")
        self.catalogue = catalogue
        self._popularity = MappingProxyType(dict(popularity or {}))
        self._installed: InstalledModel | None = None
        self._threads = ThreadpoolController()
        if artifact is not None:
            self.swap_model(artifact)

    @property
    def model_id(self) -> str | None:
        """The installed model's id, ``None`` before the first model."""
        installed = self._installed
        return None if installed is None else installed.model_id

    @property
    def model_metadata(self) -> Mapping[str, Any]:
        """The installed artifact's metadata (training snapshot, metrics), empty without one."""
        installed = self._installed
        return MappingProxyType({}) if installed is None else installed.metadata

    def swap_model(self, path: str | os.PathLike[str]) -> str:
        """Load, verify and install the artifact at ``path``; return its model id.

        Verification: the artifact's own checks (format version, SHA-256 of every byte), then
        that it was trained with this user model for this retailer and knows items its stores
        stock. On any failure :class:`~recommender.errors.ModelRejected` is raised and the
        previous model keeps serving.
        """
        try:
            loaded = load_artifact(path)
        except ArtifactError as exc:
            raise ModelRejected(f"artifact at {os.fspath(path)!r} rejected: {exc}") from exc
        installed = install_model(loaded, self.retailer, self.catalogue)
        self._installed = installed
        return installed.model_id

    # -- requests ---------------------------------------------------------------------------

    def _check_request(
        self,
        store_id: object,
        customer_id: object,
        n: object,
        consent: object,
        history: object,
    ) -> None:
        _check_id("store_id", store_id)
        _check_id("customer_id", customer_id)
        if isinstance(n, bool) or not isinstance(n, int):
            raise InvalidRequest(f"n must be an integer, got {type(n).__name__}", field="n")
        if not MIN_SUGGESTIONS <= n <= MAX_SUGGESTIONS:
            raise InvalidRequest(
                f"n must lie in [{MIN_SUGGESTIONS}, {MAX_SUGGESTIONS}], got {n}", field="n"
            )
        if not isinstance(consent, ConsentView) or consent.customer_id != customer_id:
            raise InvalidRequest(
                "consent must be the ConsentView of this customer", field="consent"
            )
        if not isinstance(history, CustomerHistory) or history.customer_id != customer_id:
            raise InvalidRequest(
                "history must be the CustomerHistory of this customer", field="history"
            )
        assert isinstance(store_id, str)
        try:
            owner = self.catalogue.retailer_of_store(store_id)
        except KeyError:
            raise UnknownStore(store_id) from None
        if owner != self.retailer:
            raise UnknownStore(store_id)

    def suggest(
        self,
        store_id: str,
        customer_id: str,
        n: int,
        *,
        consent: ConsentView,
        history: CustomerHistory,
    ) -> Suggestions:
        """Top ``n`` (1..50) items stocked in ``store_id`` for ``customer_id``, best first.

        Uses only what ``consent`` allows (plus the retailer's own records); see the module
        docstring for the strategies. Fewer than ``n`` items come back when the store has
        fewer candidates left.

        Raises :class:`~recommender.errors.InvalidRequest` for ``n`` outside 1..50, a
        malformed id, or a consent view or history of another customer, and
        :class:`~recommender.errors.UnknownStore` for a store that is not this retailer's.
        """
        self._check_request(store_id, customer_id, n, consent, history)
        installed = self._installed  # read once: a concurrent swap does not mix two models
        with self._threads.limit(limits=1, user_api="blas"):
            if installed is None:
                return self._without_model(store_id, customer_id, n, consent, history)
            return self._with_model(installed, store_id, customer_id, n, consent, history)

    # -- strategies -------------------------------------------------------------------------

    def _usable_history(
        self, consent: ConsentView, history: CustomerHistory
    ) -> tuple[list[EventRecord], list[tuple[str, str]]]:
        """Her events and (preference, recording retailer) pairs the view allows."""
        events = [
            ev
            for ev in history.events
            if consent.allows(ev.retailer, ev.category, serving=self.retailer)
        ]
        stated = [
            (pref, st.retailer)
            for st in history.stated
            if consent.allows(st.retailer, "stated_preferences", serving=self.retailer)
            for pref in st.features
        ]
        return events, stated

    def _suggestion(self, entry: CatalogueEntry, score: float, reasons: list[Reason]) -> Suggestion:
        return Suggestion(
            item_id=entry.item_id,
            title=entry.title,
            category=entry.category,
            brand=entry.brand,
            price_band=entry.price_band,
            score=score,
            reasons=tuple(reasons),
        )

    def _without_model(
        self,
        store_id: str,
        customer_id: str,
        n: int,
        consent: ConsentView,
        history: CustomerHistory,
    ) -> Suggestions:
        events, _ = self._usable_history(consent, history)
        bought = {ev.item_id for ev in events if ev.event_type == "purchase"}
        stock = [i for i in self.catalogue.items_in_store(store_id) if i not in bought]
        counts = np.asarray([self._popularity.get(i, 0.0) for i in stock], dtype=np.float64)
        items = []
        for j, score in rank_items(counts, n) if stock else []:
            entry = self.catalogue.entry(stock[j])
            items.append(self._suggestion(entry, score, [popularity_reason(self.retailer, score)]))
        sources = {ev.retailer for ev in events if ev.event_type == "purchase"}
        return Suggestions(
            store_id, customer_id, None, "popularity", tuple(items), tuple(sorted(sources))
        )

    def _with_model(
        self,
        installed: InstalledModel,
        store_id: str,
        customer_id: str,
        n: int,
        consent: ConsentView,
        history: CustomerHistory,
    ) -> Suggestions:
        model = installed.model
        index = model.index
        train = model.train_interactions
        events, stated_pairs = self._usable_history(consent, history)
        slices = [
            (sl, row)
            for sl, row in installed.slices.get(customer_id, ())
            if consent.allows(sl.retailer, sl.category, serving=self.retailer)
        ]
        stated_by: dict[str, set[str]] = {}
        for pref, retailer in stated_pairs:
            if pref in installed.stated:
                stated_by.setdefault(pref, set()).add(retailer)

        # Her past items the view allows, each with the source a reason will name; her
        # purchases among them are excluded (items the model does not know are never
        # candidates, so their purchases need no exclusion).
        sources: dict[int, tuple[str, DataCategory]] = {}
        excluded: set[int] = set()
        found: list[tuple[int, str, DataCategory]] = [
            (int(i), sl.retailer, sl.category)
            for sl, row in slices
            for i in train.indices[train.indptr[row] : train.indptr[row + 1]]
        ]
        for ev in events:
            idx = index.item_index.get(ev.item_id)
            if idx is not None:
                found.append((idx, ev.retailer, ev.category))

        def preference(source: tuple[str, DataCategory]) -> tuple[int, bool, str]:
            # A reason names her purchase before her statement or view, the serving retailer's
            # record before another member's.
            retailer, category = source
            return (_CATEGORY_ORDER.index(category), retailer != self.retailer, retailer)

        for idx, retailer, category in found:
            best = sources.get(idx)
            if best is None or preference((retailer, category)) < preference(best):
                sources[idx] = (retailer, category)
            if category == "purchases":
                excluded.add(idx)
        used = {retailer for retailer, _ in sources.values()}
        used |= {ev.retailer for ev in events}
        used |= {r for rs in stated_by.values() for r in rs}

        folded = fold_in_items(slices, train, events, index.item_index)
        strategy: Strategy
        if slices or folded is not None:
            strategy = "personalised"
        elif stated_by:
            strategy = "cold_start_stated"
        else:
            strategy = "popularity"
        candidates = installed.store_items[store_id]
        exclude = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
        features: tuple[str, ...] = ()
        user_vec: np.ndarray | None = None
        if strategy == "popularity":
            scores = installed.popularity
        elif folded is not None:
            # Her events reach beyond what the model learnt about her (she is new to it, or
            # chose more since it was trained): her representation from all of them.
            user_vec = installed.fold_in.user_vector(*folded)
            scores = model.score_vector(user_vec)
        else:
            features = request_features(self.retailer, (sl for sl, _ in slices), stated_by)
            scores = model.score_new_user(features)
            recent = ordered_items(
                ((ev.item_id, ev.timestamp) for ev in events if ev.positive_weight is not None),
                index.item_index,
            )
            if installed.sequence is not None and recent.size:
                # What she chose last, as far as her consent lets this request see it.
                part = installed.sequence
                seq = part.neighbours.score_sequence(recent)
                scores = part.blend(scores[None, :], seq[None, :])[0]
        ranked = (
            rank_items(scores, n, allowed_items=candidates, exclude=exclude)
            if candidates.size
            else []
        )

        past = np.fromiter(sources, dtype=np.int64, count=len(sources))
        if strategy == "popularity":
            explanations: list[Explanation | None] = [None] * len(ranked)
        elif user_vec is not None:
            explanations = list(
                model.explain_vector_items(
                    user_vec, [idx for idx, _ in ranked], past_items=past, top=REASONS_PER_KIND
                )
            )
        else:
            explanations = list(
                model.explain_new_user_items(
                    features,
                    [idx for idx, _ in ranked],
                    past_items=past if strategy == "personalised" else None,
                    top=REASONS_PER_KIND,
                )
            )
        items = []
        for (idx, score), why in zip(ranked, explanations, strict=True):
            entry = self.catalogue.entry(index.item_ids[idx])
            if why is None:
                reasons = [popularity_reason(self.retailer, float(installed.popularity[idx]))]
            else:
                reasons = attribute(why, entry, stated_by, sources, serving=self.retailer)
            items.append(self._suggestion(entry, score, reasons))
        return Suggestions(
            store_id,
            customer_id,
            installed.model_id,
            strategy,
            tuple(items),
            tuple(sorted(used)),
        )


def history_from_events(customer_id: str, events: Iterable[object]) -> CustomerHistory:
    """Her events among ``events`` (any shape :func:`~recommender.slices.event_record`
    reads) as a :class:`~recommender.slices.CustomerHistory` without stated preferences."""
    mine = [e for e in (event_record(r) for r in events) if e.customer_id == customer_id]
    return CustomerHistory(customer_id, tuple(mine))
