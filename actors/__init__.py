"""Trio actors: supervisor, feeds, market actors, risk, reconciliation, alerts, dashboard."""
