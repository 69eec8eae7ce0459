"""Kalshi <-> Polymarket arbitrage: the pure core, venue adapters and simulators."""
