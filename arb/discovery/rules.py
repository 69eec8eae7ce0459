# Design note: are two markets the same bet?
#
# Problem: a perfectly executed arb between two contracts that settle differently is a
# guaranteed loss in exactly the cases the rules differ: an NFL tie, a postponed or cancelled game,
# a soccer match decided in extra time, a market that settles at halftime.
# Naive approach: trust that "same teams, same day" means the same bet, or skip the rules text.
# Chosen approach: for each side, a policy (tie, postponement, cancellation) plus scope flags
# (overtime included, regulation time only, first half only). Facts read from the venue's own
# rules text (Kalshi ``rules_primary``/``rules_secondary``, Polymarket ``description``) win; where
# the text is silent the league's documented defaults (``leagues.json``, partly UNCERTAIN) fill in.
# Verdict:
#   REJECT      scopes contradict (first half vs full game; regulation vs overtime included in a
#               no-draw sport): not the same bet.
#   BASIS_RISK  same bet on the normal path but a tail case settles differently or cannot be
#               verified (a tie in a sport that can tie, postponement, cancellation).
#   EQUIVALENT  every compared fact agrees.
# Each verdict carries a reason naming every difference and where each fact came from.
# Recognised phrasings (Polymarket's real NBA texts and plain equivalents):
#   postponed: "... remain open until the game has been completed" -> open_until_played;
#              "... 48 hours" -> open_48h; "postponed ... resolve(s) to No" -> no
#   canceled:  "50-50" / "fifty-fifty" / "half" -> fifty_fifty; "fair price/value" -> fair_price;
#              "canceled ... resolve(s) to No" -> no
#   tie:       "tie/draw ... 50-50|half" -> fifty_fifty; "tie ... resolve(s) to No" -> no
#   scope:     "including (any|all) overtime|extra time" / "overtime ... included" -> overtime;
#              "regulation time" / "90 minutes" / "Reg Time" -> regulation only;
#              "first half" / "at halftime" -> first half only
from __future__ import annotations

import re

import attrs

from arb.discovery.leagues import League, VenuePolicy
from arb.pairs import Verdict

_S = r"[^.\n]{0,160}?"  # within one sentence
_POSTPONED = (
    (re.compile(rf"postpone{_S}48 hours", re.I), "open_48h"),
    (re.compile(rf"postpone{_S}(remain|stay|stays|remains) open{_S}(complete|played|until)", re.I),
     "open_until_played"),
    (re.compile(rf"postpone{_S}resolve[sd]?{_S}\"?no\b", re.I), "no"),
)
_CANCELED = (
    (re.compile(rf"cancel{_S}(50-50|fifty-fifty|50/50|\bhalf\b)", re.I), "fifty_fifty"),
    (re.compile(rf"cancel{_S}fair (price|value)", re.I), "fair_price"),
    (re.compile(rf"cancel{_S}resolve[sd]?{_S}\"?no\b", re.I), "no"),
)
_TIE = (
    (re.compile(rf"\b(tie|tied|draw)\b{_S}(50-50|fifty-fifty|50/50|\bhalf\b)", re.I), "fifty_fifty"),
    (re.compile(rf"\b(ends in a tie|tied|ends tied)\b{_S}resolve[sd]?{_S}\"?no\b", re.I), "no"),
)
_OVERTIME = re.compile(r"includ\w*\s+(any\s+|all\s+)?(overtime|extra time)|(overtime|extra time)"
                       r"\b[^.\n]{0,60}?(included|count|considered)|extra innings", re.I)
_REGULATION = re.compile(r"regulation time|\breg time\b|90 minutes|end of regulation", re.I)
_FIRST_HALF = re.compile(r"first half|at halftime|\bhalftime\b|\b1H\b", re.I)


@attrs.frozen
class RuleFacts:
    """What one side's rules text says (None = silent)."""

    tie: str | None = None
    postponed: str | None = None
    canceled: str | None = None
    overtime: bool = False
    regulation_only: bool = False
    first_half: bool = False


def _first(patterns, text: str) -> str | None:
    found = {value for pattern, value in patterns if pattern.search(text)}
    if len(found) == 1:
        return found.pop()
    return "unknown" if found else None


def read_rules(text: str) -> RuleFacts:
    """Extract settlement facts from a rules text (conflicting statements give ``unknown``)."""
    return RuleFacts(
        tie=_first(_TIE, text),
        postponed=_first(_POSTPONED, text),
        canceled=_first(_CANCELED, text),
        overtime=bool(_OVERTIME.search(text)),
        regulation_only=bool(_REGULATION.search(text)),
        first_half=bool(_FIRST_HALF.search(text)),
    )


@attrs.frozen
class RuleVerdict:
    verdict: Verdict
    reason: str
    risks: frozenset[str] = frozenset()
    """Kinds of basis risk found: ``tie``, ``postponement``, ``cancellation``."""


def _resolved(text: RuleFacts, default: VenuePolicy, verified: bool
              ) -> dict[str, tuple[str, str]]:
    """Per field: (value, source) with the rules text preferred over the league default."""
    source_default = "league default" + ("" if verified else ", unverified")
    out = {}
    for field in ("tie", "postponed", "canceled"):
        value = getattr(text, field)
        out[field] = (value, "rules text") if value is not None else (
            getattr(default, field), source_default)
    return out


def compare_rules(league: League, market_type: str, kalshi_text: str, poly_text: str,
                  *, draw_market: bool = False) -> RuleVerdict:
    """The verdict for a Kalshi market and a Polymarket market already matched by game/outcome."""
    k, p = read_rules(kalshi_text), read_rules(poly_text)
    if k.first_half != p.first_half:
        half, full = ("Kalshi", "Polymarket") if k.first_half else ("Polymarket", "Kalshi")
        return RuleVerdict(Verdict.REJECT, f"{half} settles on the first half, {full} on the "
                                           f"full game")
    if not league.draws and market_type == "moneyline" and (
            (k.regulation_only and p.overtime) or (p.regulation_only and k.overtime)):
        reg, ot = ("Kalshi", "Polymarket") if k.regulation_only else ("Polymarket", "Kalshi")
        return RuleVerdict(Verdict.REJECT, f"{reg} settles on regulation time, {ot} includes "
                                           f"overtime")
    if league.draws and ((k.overtime and not k.regulation_only) or
                         (p.overtime and not p.regulation_only)):
        side = "Kalshi" if k.overtime else "Polymarket"
        return RuleVerdict(Verdict.REJECT, f"{side} includes extra time in a three-way soccer "
                                           f"market; the other settles on regulation time")
    kalshi = _resolved(k, league.rules.kalshi, league.rules.kalshi_verified)
    poly = _resolved(p, league.rules.poly, league.rules.poly_verified)
    checks = [("postponed", "postponement"), ("canceled", "cancellation")]
    if league.rules.ties_possible and not league.draws and market_type == "moneyline":
        checks.insert(0, ("tie", "tie"))
    differences, risks = [], set()
    for field, kind in checks:
        (kv, ks), (pv, ps) = kalshi[field], poly[field]
        if kv == "unknown" or pv == "unknown":
            differences.append(f"{kind} policy unverifiable (Kalshi {kv} [{ks}], "
                               f"Polymarket {pv} [{ps}])")
            risks.add(kind)
        elif kv != pv:
            differences.append(f"{kind}: Kalshi {kv} [{ks}] vs Polymarket {pv} [{ps}]")
            risks.add(kind)
    if differences:
        return RuleVerdict(Verdict.BASIS_RISK, "basis risk: " + "; ".join(differences),
                           frozenset(risks))
    scope = "regulation time" if league.draws else "full game incl. overtime"
    agreed = ", ".join(f"{kind} {kalshi[field][0]}" for field, kind in checks)
    return RuleVerdict(Verdict.EQUIVALENT, f"same teams and outcome; {scope}; {agreed}")
