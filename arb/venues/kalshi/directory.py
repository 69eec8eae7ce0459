"""Our recent Kalshi orders' intents, by client order id and by venue order id (bounded LRU).

Kalshi V2 reports direction only as exposure (``outcome_side``): a sell of YES at p and a buy of
NO at 1 - p look the same. The adapter records what each order was meant to be at ``prepare``
time and its venue id at ``submit`` time, so REST and websocket reports about our own orders can
be expressed in the terms we placed them in. Unknown orders (another session, a restart) fall back
to "buy the exposure outcome", which is the same position.
"""
from __future__ import annotations

from collections import OrderedDict

import attrs

from arb.venues.kalshi.parse import OrderIntent


@attrs.define(eq=False)
class OrderDirectory:
    capacity: int = 10_000
    _by_client: OrderedDict[str, OrderIntent] = attrs.field(factory=OrderedDict, init=False)
    _by_order: OrderedDict[str, OrderIntent] = attrs.field(factory=OrderedDict, init=False)

    def remember(self, client_id: str, intent: OrderIntent) -> None:
        self._put(self._by_client, client_id, intent)

    def link(self, client_id: str, order_id: str) -> None:
        """Attach the venue's order id to an intent recorded under ``client_id``."""
        intent = self._by_client.get(client_id)
        if intent is not None:
            self._put(self._by_order, order_id, intent)

    def lookup(self, order_id: str | None = None, client_id: str | None = None) -> OrderIntent | None:
        """The intent of a report; one naming both ids also links them, so later reports
        naming only the order id (REST fills carry no client id) find the intent even when the
        create answer was lost (a 5xx or a timeout after the venue placed the order)."""
        if order_id is not None and order_id in self._by_order:
            return self._by_order[order_id]
        if client_id is not None:
            intent = self._by_client.get(client_id)
            if intent is not None and order_id is not None:
                self._put(self._by_order, order_id, intent)
            return intent
        return None

    def __len__(self) -> int:
        return len(self._by_client)

    def _put(self, table: OrderedDict[str, OrderIntent], key: str, intent: OrderIntent) -> None:
        table[key] = intent
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)
