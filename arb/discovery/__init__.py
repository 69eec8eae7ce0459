"""Market discovery and cross-venue matching."""
