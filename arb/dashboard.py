"""Terminal rendering of a status snapshot (rich). Pure: snapshot in, renderable out."""
from __future__ import annotations

from loguru import logger
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from arb.money import Round, format_fixed
from arb.status import StatusSnapshot

FRESH_S = 1.0
AGING_S = 2.0


def _price(value: int | None) -> str:
    """A price or per-contract cost to 4 decimals; an all-in cost with sub-tick fees is rounded
    up (never understate what a pair costs)."""
    return "-" if value is None else format_fixed(value, 4, Round.UP)


def _qty(value: int | None) -> str:
    return "-" if value is None else format_fixed(value, 2)


def _usd(value: int) -> str:
    """Dollars to the cent for display (rounded down: never overstate)."""
    return "$" + format_fixed(value, 2, Round.DOWN)


def _age_style(age: float | None) -> str:
    if age is None:
        return "dim"
    if age <= FRESH_S:
        return "green"
    return "yellow" if age <= AGING_S else "red"


def _pairs_table(snap: StatusSnapshot) -> Table:
    table = Table(title="Pairs (best ask x size, age)", expand=True)
    for col in ("league", "game", "state", "quotes", "cost", "edge bp", "position"):
        table.add_column(col, overflow="fold")
    for row in snap.pairs:
        quotes = Text()
        for q in row.quotes:
            age = "-" if q.age_s is None else f"{q.age_s:.1f}s"
            quotes.append(f"{q.venue[0].upper()}:{q.label} {_price(q.ask)}x{_qty(q.size)} ",
                          style=_age_style(q.age_s))
            quotes.append(f"({age}) ", style="dim")
        edge = "-" if row.net_edge_bps is None else str(row.net_edge_bps)
        table.add_row(row.league, row.title, row.state, quotes, _price(row.combined_cost),
                      Text(edge, style="bold green" if (row.net_edge_bps or 0) > 0 else ""),
                      row.position)
    return table


def _feeds_table(snap: StatusSnapshot) -> Table:
    table = Table(title="Feeds")
    for col in ("venue", "state", "epoch", "subscribed", "with data", "messages", "reconnects",
                "gaps"):
        table.add_column(col)
    for f in snap.feeds:
        style = "green" if f.state == "live" else "red"
        table.add_row(f.venue, Text(f.state, style=style), str(f.epoch), str(f.subscribed),
                      str(f.books_with_data), str(f.messages), str(f.reconnects), str(f.gaps))
    return table


def _opportunities_table(snap: StatusSnapshot) -> Table:
    table = Table(title="Recent opportunities")
    for col in ("time", "pair", "kind", "edge bp", "action", "reason", "confidence"):
        table.add_column(col, overflow="fold")
    for o in snap.opportunities[-10:]:
        table.add_row(o.ts, o.pair_id, o.kind, str(o.edge_bps), o.action, o.reason, o.confidence)
    return table


def _risk_panel(snap: StatusSnapshot) -> Panel:
    lines = Text()
    if snap.risk is not None:
        r = snap.risk
        colour = {"ACTIVE": "green", "REDUCING": "yellow"}.get(r.state.upper(), "bold red")
        lines.append(f"breaker {r.state}", style=colour)
        if r.reason:
            lines.append(f" ({r.reason})")
        total = r.approvals + r.denials
        rate = f"{100 * r.approvals // total}%" if total else "-"
        lines.append(f"\nexposure {_usd(r.exposure)}   daily realised {_usd(r.daily_realised)}"
                     f"   approvals {r.approvals} / {total} ({rate})")
        if r.top_denials:
            lines.append("\ntop rejections: " + ", ".join(f"{k} {v}" for k, v in r.top_denials[:5]))
    lines.append(f"\nrealised P&L {_usd(snap.realised_pnl)}")
    if snap.latency_us:
        lines.append("   tick-to-decision " + " ".join(f"{k} {v:.0f}us" for k, v in snap.latency_us))
    for pair_id, hedged, locked in snap.open_pairs[:8]:
        lines.append(f"\nopen {pair_id}: {format_fixed(hedged, 2)} hedged, locked {_usd(locked)}")
    return Panel(lines, title=f"{snap.name} [{snap.mode}/{snap.target}] up {snap.uptime_s:.0f}s")


def _alerts_panel(snap: StatusSnapshot) -> Panel:
    return Panel("\n".join(snap.alerts[-8:]) or "none", title="Recent alerts")


def render(snap: StatusSnapshot) -> Group:
    """Every panel of the dashboard for one snapshot."""
    return Group(_risk_panel(snap), _pairs_table(snap), _opportunities_table(snap),
                 _feeds_table(snap), _alerts_panel(snap))


def safe_render(snap: StatusSnapshot) -> RenderableType:
    """``render``, but a view bug shows as a line of text instead of stopping the caller (the
    demo's live view runs beside the bot: a viewer must never take trading down)."""
    try:
        return render(snap)
    except Exception as err:  # noqa: BLE001 - any rendering bug; logged, the bot keeps running
        logger.bind(actor="dashboard").exception("dashboard render failed")
        return Text(f"dashboard render failed: {type(err).__name__}: {err}", style="bold red")
