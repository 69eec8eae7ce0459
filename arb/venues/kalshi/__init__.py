"""Kalshi Trade API v2 client: RSA-PSS auth, REST, websocket feed, and the venue adapter.

Entry points: ``adapter.open_kalshi_adapter`` (order entry and account queries, the
``VenueAdapter`` the actors use) and ``feed.serve_kalshi_feed`` (books and our fills/orders from
the websocket). ``auth.KalshiSigner`` signs both; ``rest.open_kalshi_rest`` is the lower layer.
"""
