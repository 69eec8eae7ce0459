"""Simulated Polymarket exchange: CLOB core, REST, websockets and a Gamma subset."""
