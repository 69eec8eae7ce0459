"""Polymarket CLOB V2 adapter: L1/L2 auth, EIP-712 order signing, REST, websockets, Gamma.

Modules (import them directly; this package imports nothing so that light users such as the
paper venue never pull in a network client):
  signing    EIP-712 V2 order + ClobAuth signing (``PolymarketSigner``)
  auth       L1 / L2 HMAC headers, ``ApiCredentials``
  amounts    (price, size) -> makerAmount / takerAmount, pre-send venue checks
  wire       float-free JSON and field readers
  rest       ``open_polymarket_rest`` / ``PolymarketRest`` with contract error classification
  convert    venue order / trade records -> ``OrderResult`` / ``Fill``
  adapter    ``PolymarketAdapter`` (the ``VenueAdapter``), ``open_polymarket_adapter``
  errors     ``TradingPaused`` (425 / cancel-only / disabled)
  ws         websocket transport plumbing, backoff, ``FeedDown``
  feed       ``serve_polymarket_feed``: market channel -> ``arb.book.PolyBook``
  user_feed  ``serve_polymarket_user_feed``: our orders and fills
  gamma      Gamma discovery client
"""
