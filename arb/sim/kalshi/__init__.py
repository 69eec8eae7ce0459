"""Simulated Kalshi exchange: matching core and wire front ends."""
