"""Venue adapters: one package per venue, plus the paper venue and the shared protocol."""
