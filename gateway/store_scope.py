"""Which stores and items a retailer's gateway may act for, from its catalogue.

A store credential acts for its own store only. The retailer's admin acts for the
retailer's stores: those its catalogue maps to its MSP id, never another member's (the
demo's catalogues hold every member's stores, as shared product data). Events name items of
the retailer stocked in the store that records them. With ``enforce_catalogue`` off (or
no catalogue configured) ids cannot be checked: a store still acts only for itself, and
an admin acts for a store only when there is no catalogue to ask (the gateway then cannot
tell its stores from another member's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import Forbidden, NotFound, Unprocessable
from gateway.settings import GatewaySettings
from gateway.stores import Principal, Role
from recommender.catalogue import Catalogue


class UnknownStore(NotFound):
    code = "UNKNOWN_STORE"


class UnknownItem(Unprocessable):
    code = "UNKNOWN_ITEM"


@dataclass(frozen=True)
class StoreScope:
    msp_id: str
    #: The catalogue the ids are checked against; None: not checked.
    catalogue: Catalogue | None

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> StoreScope:
        """Raises ValueError for a catalogue file that does not parse."""
        if not settings.enforce_catalogue or settings.catalogue_path is None:
            return cls(settings.msp_id, None)
        text = settings.catalogue_path.read_text(encoding="utf-8")
        return cls(settings.msp_id, Catalogue.from_json(text))

    def is_own_store(self, store_id: str) -> bool:
        return self.catalogue is not None and store_id in self.catalogue.stores(self.msp_id)

    def require_store(self, principal: Principal, store_id: str) -> None:
        """A store acts only for itself; the admin for the retailer's own stores.

        Raises Forbidden otherwise (the same answer whether the store exists or not).
        """
        if principal.role is not Role.ADMIN and principal.store_id != store_id:
            raise Forbidden("this credential belongs to another store")
        if self.catalogue is not None and not self.is_own_store(store_id):
            raise Forbidden("this store is not one of the retailer's stores")

    def require_issuable(self, store_id: str) -> None:
        """A credential is issued for one of the retailer's stores. Raises UnknownStore."""
        if self.catalogue is not None and not self.is_own_store(store_id):
            raise UnknownStore("the retailer's catalogue has no store of this id")

    def require_items(self, store_id: str, item_ids: Sequence[str]) -> None:
        """Every item is the retailer's and stocked in the store. Raises UnknownItem naming
        the first event whose item is not (``details.field``: ``events[i].item_id``)."""
        if self.catalogue is None:
            return
        for index, item_id in enumerate(item_ids):
            entry = self.catalogue.get(item_id)
            if entry is None or entry.retailer != self.msp_id or store_id not in entry.stores:
                raise UnknownItem("the store does not stock this item in the catalogue",
                                  details={"field": f"events[{index}].item_id"})
