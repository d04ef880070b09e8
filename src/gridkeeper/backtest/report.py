"""The backtest report: a text summary and a self-contained HTML page (inline SVG, no CDN). Pure."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gridkeeper.backtest.model import BacktestResult

W, H, PAD = 900, 260, 40
DAILY_KEYS = ["day", "total_pnl", "realized", "fees", "funding", "fills", "round_trips"]
FILL_KEYS = ["time", "side", "price", "quantity", "fee", "opening"]
SUMMARY_KEYS = (
    "total_pnl",
    "realized",
    "unrealized",
    "fees",
    "funding",
    "round_trips",
    "fills",
    "max_drawdown",
    "time_in_range",
    "capital",
    "return_on_capital",
    "pnl_per_day",
    "position",
    "status",
    "reason",
)


def _short(value: Any) -> str:
    if isinstance(value, str):
        try:
            num = Decimal(value)
        except ArithmeticError:
            return value
        return format(num.quantize(Decimal("0.0001")).normalize(), "f") if num else "0"
    return "" if value is None else str(value)


def text_summary(result: BacktestResult) -> str:
    s = result.summary
    lines = [f"{s['symbol']}: {s['prices']} prices over {s['days']} days ({s['data']})"]
    lines += [f"  {key:<18} {_short(s.get(key))}" for key in SUMMARY_KEYS]
    return "\n".join(lines)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _scale(lo: float, hi: float, size: float, flip: bool) -> Any:
    span = (hi - lo) or 1.0

    def f(v: float) -> float:
        r = (v - lo) / span
        return PAD + (1 - r if flip else r) * (size - 2 * PAD)

    return f


def _polyline(points: list[tuple[float, float]], color: str) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{pts}"/>'


def price_chart(result: BacktestResult) -> str:
    chart = result.chart
    if not chart:
        return ""
    t0, t1 = chart[0][0], chart[-1][0]
    prices = [float(p) for _, p, _ in chart] + [float(v) for v in result.levels]
    x = _scale(t0, t1 or t0 + 1, W, False)
    y = _scale(min(prices), max(prices), H, True)
    parts = [f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">']
    for level in result.levels:
        yy = y(float(level))
        parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
    parts.append(_polyline([(x(t), y(float(p))) for t, p, _ in chart], "#333"))
    for f in result.fills:
        color = "#1a7f37" if f.side == "Bid" else "#cf222e"
        parts.append(
            f'<circle cx="{x(f.time_ms):.1f}" cy="{y(float(f.price)):.1f}" r="2.5" fill="{color}">'
            f"<title>{f.side} {f.quantity} @ {f.price}</title></circle>"
        )
    parts.append(
        f'<text x="{PAD}" y="14" font-size="11">price {min(prices):g} - {max(prices):g}; '
        "grey: grid levels; green: buys, red: sells</text></svg>"
    )
    return "".join(parts)


def equity_chart(result: BacktestResult) -> str:
    chart = result.chart
    if not chart:
        return ""
    t0, t1 = chart[0][0], chart[-1][0]
    values = [float(v) for _, _, v in chart] + [0.0]
    x = _scale(t0, t1 or t0 + 1, W, False)
    y = _scale(min(values), max(values), H, True)
    zero = y(0.0)
    return (
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">'
        f'<line x1="{PAD}" x2="{W - PAD}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#bbb"/>'
        + _polyline([(x(t), y(float(v))) for t, _, v in chart], "#0969da")
        + f'<text x="{PAD}" y="14" font-size="11">total PnL {min(values):g} to '
        f"{max(values):g}</text></svg>"
    )


def _table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_short(r.get(k)))}</td>" for k in keys) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:13px;text-align:right}th{background:#f4f4f4}svg{border:1px solid #eee}"
)


def html_report(result: BacktestResult, title: str) -> str:
    s = result.summary
    summary = _table([{k: s.get(k) for k in SUMMARY_KEYS}], list(SUMMARY_KEYS))
    events = "".join(
        f"<li>{_when(e['time'])} {html.escape(e['kind'])}: {html.escape(e['message'])}</li>"
        for e in result.events[:200]
    )
    fills = [
        {
            "time": _when(f.time_ms),
            "side": f.side,
            "price": str(f.price),
            "quantity": str(f.quantity),
            "fee": str(f.fee),
            "opening": f.opening,
        }
        for f in result.fills[:500]
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{_when(s['start'])} to {_when(s['end'])} ({s['days']} days, {s['prices']} prices, "
        f"{s['data']})</p><h2>Summary</h2>{summary}"
        f"<h2>Price, levels and fills</h2>{price_chart(result)}"
        f"<h2>Equity (total PnL)</h2>{equity_chart(result)}"
        f"<h2>Per day</h2>{_table(result.daily, DAILY_KEYS)}"
        f"<h2>Events</h2><ul>{events or '<li>none</li>'}</ul>"
        f"<h2>Fills (first 500)</h2>{_table(fills, FILL_KEYS)}"
        "</body></html>"
    )


def _heat(value: float, lo: float, hi: float) -> str:
    r = 0.5 if hi == lo else (value - lo) / (hi - lo)
    red, green = int(255 * (1 - r)), int(200 * r + 55)
    return f"rgb({red},{green},90)"


def heat_map(rows: list[dict[str, Any]], keys: list[str], metric: str) -> str:
    """A table coloured by `metric` for a sweep of two parameters (rows: first, columns: second)."""
    if len(keys) != 2:
        return ""
    a_vals = sorted({r["params"][keys[0]] for r in rows}, key=Decimal)
    b_vals = sorted({r["params"][keys[1]] for r in rows}, key=Decimal)
    cell: dict[tuple[str, str], float | None] = {}
    for r in rows:
        value = None if "error" in r else r["summary"].get(metric)
        cell[(r["params"][keys[0]], r["params"][keys[1]])] = None if value is None else float(value)
    found = [v for v in cell.values() if v is not None]
    lo, hi = (min(found), max(found)) if found else (0.0, 0.0)
    head = "".join(f"<th>{html.escape(b)}</th>" for b in b_vals)
    body = ""
    for a in a_vals:
        tds = ""
        for b in b_vals:
            v = cell.get((a, b))
            style = "" if v is None else f' style="background:{_heat(v, lo, hi)}"'
            tds += f"<td{style}>{'-' if v is None else f'{v:.4g}'}</td>"
        body += f"<tr><th>{html.escape(a)}</th>{tds}</tr>"
    return (
        f"<h2>Heat map: {html.escape(metric)}</h2><table><tr><th>{html.escape(keys[0])} \\ "
        f"{html.escape(keys[1])}</th>{head}</tr>{body}</table>"
    )


def sweep_rows(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    metrics = ["total_pnl", "return_on_capital", "round_trips", "max_drawdown", "time_in_range"]
    out = []
    for rank, r in enumerate(rows, start=1):
        line: dict[str, Any] = {"rank": rank, **r["params"]}
        if "error" in r:
            line["error"] = r["error"]
        else:
            line.update({m: r["summary"].get(m) for m in metrics})
        out.append(line)
    return out


def sweep_text(rows: list[dict[str, Any]], keys: list[str]) -> str:
    table = sweep_rows(rows, keys)
    cols = [
        "rank",
        *keys,
        "total_pnl",
        "return_on_capital",
        "round_trips",
        "max_drawdown",
        "time_in_range",
        "error",
    ]
    lines = ["  ".join(f"{c:>14}" for c in cols)]
    for line in table:
        lines.append("  ".join(f"{_short(line.get(c)):>14}" for c in cols))
    return "\n".join(lines)


def sweep_html(rows: list[dict[str, Any]], keys: list[str], metric: str, title: str) -> str:
    table = sweep_rows(rows, keys)
    cols = [
        "rank",
        *keys,
        "total_pnl",
        "return_on_capital",
        "round_trips",
        "max_drawdown",
        "time_in_range",
        "error",
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(rows)} combinations ranked by {html.escape(metric)}</p>"
        f"{heat_map(rows, keys, metric)}<h2>Ranking</h2>{_table(table, cols)}</body></html>"
    )
