"""Operator overrides for matched pairs: force-accept or force-reject by pair id, accept known
basis-risk kinds per league. Read from TOML or JSON; unknown keys and bad values are errors.

Example (TOML)::

    [[force_accept]]
    pair_id = "KXNFLGAME-26SEP21NYGLAR-LAR|0xabc..."
    note = "read both rulebooks, tie policy identical"

    [[force_reject]]
    pair_id = "KXNBAGAME-26JAN11HOUSAC-HOU|0xdef..."
    note = "suspicious rules text"

    [[accept_basis_risk]]
    league = "nba"
    kinds = ["postponement", "cancellation"]
"""
from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

import attrs

from arb.pairs import MarketPair, Verdict

RISK_KINDS = frozenset({"tie", "postponement", "cancellation"})


class OverridesError(ValueError):
    """The overrides file is malformed (names the file, entry and field)."""


@attrs.frozen
class Overrides:
    force_accept: Mapping[str, str] = attrs.field(factory=dict)
    """pair id -> operator's note."""
    force_reject: Mapping[str, str] = attrs.field(factory=dict)
    accept_basis_risk: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    """league key -> risk kinds the operator accepts for every pair of that league."""

    def apply(self, pair: MarketPair, risks: frozenset[str]) -> MarketPair:
        """The pair after the operator's decisions (force-reject wins over everything)."""
        if pair.pair_id in self.force_reject:
            return attrs.evolve(pair, verdict=Verdict.REJECT, basis_risk_accepted=False,
                                reason=f"forced reject by operator ({self.force_reject[pair.pair_id]}); "
                                       f"matcher said {pair.verdict.value}: {pair.reason}")
        if pair.pair_id in self.force_accept:
            if pair.verdict is Verdict.EQUIVALENT:
                return pair
            return attrs.evolve(pair, verdict=Verdict.BASIS_RISK, basis_risk_accepted=True,
                                reason=f"forced accept by operator ({self.force_accept[pair.pair_id]}); "
                                       f"matcher said {pair.verdict.value}: {pair.reason}")
        accepted = self.accept_basis_risk.get(pair.league, frozenset())
        if pair.verdict is Verdict.BASIS_RISK and risks and risks <= accepted:
            return attrs.evolve(pair, basis_risk_accepted=True,
                                reason=f"{pair.reason} (accepted for {pair.league}: "
                                       f"{', '.join(sorted(risks))})")
        return pair


def _entries(doc: Mapping, key: str, where: str) -> list[Mapping]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise OverridesError(f"{where}: {key!r} must be a list of tables/objects")
    return value


def _pair_notes(doc: Mapping, key: str, where: str) -> dict[str, str]:
    out = {}
    for i, entry in enumerate(_entries(doc, key, where)):
        pair_id = entry.get("pair_id")
        if not isinstance(pair_id, str) or "|" not in pair_id:
            raise OverridesError(f"{where}: {key}[{i}].pair_id {pair_id!r} is not "
                                 f"'<kalshi ticker>|<condition id>'")
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise OverridesError(f"{where}: {key}[{i}].note must be a string")
        out[pair_id] = note or "no note"
    return out


def parse_overrides(doc: object, *, where: str = "overrides") -> Overrides:
    if not isinstance(doc, Mapping):
        raise OverridesError(f"{where}: expected a table/object at the top level")
    unknown = set(doc) - {"force_accept", "force_reject", "accept_basis_risk"}
    if unknown:
        raise OverridesError(f"{where}: unknown keys {sorted(unknown)}")
    accept = _pair_notes(doc, "force_accept", where)
    reject = _pair_notes(doc, "force_reject", where)
    both = set(accept) & set(reject)
    if both:
        raise OverridesError(f"{where}: pairs both force-accepted and force-rejected: {sorted(both)}")
    leagues: dict[str, frozenset[str]] = {}
    for i, entry in enumerate(_entries(doc, "accept_basis_risk", where)):
        league, kinds = entry.get("league"), entry.get("kinds")
        if not isinstance(league, str) or not league:
            raise OverridesError(f"{where}: accept_basis_risk[{i}].league missing")
        if not isinstance(kinds, list) or not kinds or not set(kinds) <= RISK_KINDS:
            raise OverridesError(f"{where}: accept_basis_risk[{i}].kinds {kinds!r} must be a "
                                 f"non-empty list of {sorted(RISK_KINDS)}")
        leagues[league] = leagues.get(league, frozenset()) | frozenset(kinds)
    return Overrides(accept, reject, leagues)


def load_overrides(path: Path) -> Overrides:
    """Read a ``.toml`` or ``.json`` overrides file."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise OverridesError(f"{path}: cannot read overrides: {exc}") from exc
    return parse_overrides(doc, where=str(path))
