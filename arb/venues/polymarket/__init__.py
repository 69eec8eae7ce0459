"""Polymarket CLOB V2 adapter: L1/L2 auth, EIP-712 order signing, REST, websockets, Gamma."""
