"""Simulated Polymarket exchange: CLOB core, REST, websockets and a Gamma subset.

Public API:
- ``core.Exchange`` (with ``core.ExchangeConfig``): the synchronous venue. ``add_event``,
  ``open_account`` / ``fund``, ``create_api_key`` / ``derive_api_key``, ``post_order``,
  ``cancel_orders`` / ``cancel_all``, ``heartbeat``, ``advance(now_ms)``, ``set_tick_size``,
  ``set_taker_delay``, ``set_accepting_orders``, market-maker ``place_house_order`` /
  ``cancel_house_order``, queries ``order``, ``orders_of``, ``trades_of``, ``trade``,
  ``available``, and ``add_listener`` for the events in ``model``.
- ``faults.PolymarketFaults`` (``exchange.faults``): freeze, drop sockets, REST 5xx/429/425,
  hung order responses, ``delayed``, ghost fills, insufficient balance, trading modes.
- ``rest.ClobApp``: ASGI app for the CLOB REST paths and the ``/ws/market`` and ``/ws/user``
  websockets (usable with ``httpx.ASGITransport``). ``gamma.GammaApp``: the Gamma subset.
- ``ws.open_memory_market_ws`` / ``ws.open_memory_user_ws``: in-memory websocket client ends
  with trio_websocket's method names, for tests under the virtual clock.
- ``runner.serve_polymarket_sim``: serve everything on loopback; reports ``PolymarketSimUrls``
  (``clob``, ``market_ws``, ``user_ws``, ``gamma``). ``runner.open_funded_account``,
  ``runner.trio_clock_ms``, ``runner.serve_exchange_clock``.
"""
