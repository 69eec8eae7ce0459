"""Simulated Kalshi and Polymarket exchanges that speak the real wire protocols."""
