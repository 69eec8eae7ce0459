"""Kalshi Trade API v2 adapter: RSA-PSS auth, REST, websocket feed."""
