"""Hand-made inline SVG charts for the HTML report: trend lines with a confidence band, the
weekday × hour heatmap, Pareto bars with a cumulative line, a ranking with intervals, a scatter.

Pure string building; every chart scales with its viewBox (phones included), carries
`class="chart"` and a `data-chart` name, and a <title>: its name for screen readers, which hear
nothing of the marks' own titles (mouse tooltips), so what a chart shows is also text on the page
(the heatmap's and trend's tables, an action's before and after: the section templates) or, for
a sparkline, in its name. Never fetches anything
(no CDN, no fonts): the report must open offline. A chart is returned as `Markup`, so the report's
templates insert it as it is; every text that goes into a chart (names, labels, tooltips) passes
through `_text`, `_title` or `_open`, the only places here that escape, with the same escaping as
the templates' autoescape. Every figure a reader sees (axis labels, values, tooltips) is written in
the reader's language (`lang`, server_sync.report.figures: "76,5" in Swedish); coordinates and
every other attribute keep Python's point.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Callable, Sequence

from markupsafe import Markup, escape

from server_sync.report.figures import figure, interval, percent
from server_sync.report.i18n import t

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
BLUE, BAND, ORANGE, GREEN, RED = "#2563eb", "#bfdbfe", "#f97316", "#16a34a", "#dc2626"
MEAN_LINE = "#c2410c"       # a darker orange: a line that carries a value reads at 3:1 on white (5.2:1)
WHITE = "#ffffff"
# The width (user units) a chart is laid out for. A phone's box is about 340 px wide at 390 and
# the charts shrink to it: laid out for 480, a 12-unit label read 8 px there. At 400 it is 10 px;
# report.css caps a chart at 600 px, so that on a desktop a label is 18 px, as it was.
WIDTH = 400


def luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a "#rrggbb" colour."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(int(color[i:i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


AA = 4.5                   # WCAG AA contrast of normal text


def ink_on(fill: str) -> str:
    """The text colour for a background `fill`: the chart's ink, or white where the ink would fall
    under AA (the heatmap's dark red and green)."""
    return INK if contrast(INK, fill) >= AA else WHITE


def _mix(color: str, other: tuple[int, int, int], f: float) -> str:
    rgb = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(round(a + (b - a) * f) for a, b in zip(rgb, other))


def readable(fill: str) -> str:
    """`fill`, or where neither ink nor white text reads on it at AA (a mid-dark colour, e.g. the
    heatmap's top green #16a34a: 4.48:1 with ink, 3.2:1 with white), the nearest lighter or darker
    shade on which one of them does."""
    if contrast(INK, fill) >= AA or contrast(WHITE, fill) >= AA:
        return fill
    for step in range(1, 101):
        lighter, darker = _mix(fill, (255, 255, 255), step / 100), _mix(fill, (0, 0, 0), step / 100)
        if contrast(INK, lighter) >= AA:
            return lighter
        if contrast(WHITE, darker) >= AA:
            return darker
    return WHITE


def _open(name: str, title: str, width: int, height: int, *, keep_width: bool = False) -> str:
    """`keep_width`: never drawn narrower than `width` px (its box scrolls instead), for a chart
    whose small text would shrink below legibility on a phone (the heatmap's n: 7 px at 390)."""
    style = FONT + (f";min-width:{width}px" if keep_width else "")
    return (f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" role="img"'
            f' preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" style="{style}">'
            + _title(title))


def _title(s: str) -> str:
    """A tooltip (and what a screen reader says) for the element it stands in."""
    return f"<title>{escape(s)}</title>"


def _text(x: float, y: float, s: str, size: int = 13, anchor: str = "start", fill: str = MUTED,
          weight: str = "normal", rotate: float | None = None) -> str:
    turn = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate is not None else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
            f' font-weight="{weight}"{turn}>{escape(s)}</text>')


def _chart(parts: list[str]) -> Markup:
    return Markup("".join(parts))


def _empty(name: str, title: str, message: str, width: int = WIDTH, height: int = 80) -> Markup:
    return _chart([_open(name, title, width, height), _text(width / 2, height / 2, message, 13, "middle"), "</svg>"])


def _ticks(lo: float, hi: float, bounds: tuple[float, float], whole: bool = False) -> list[float]:
    """Round grid values covering [lo, hi] (padded a little, kept inside `bounds`): 3-6 steps.
    `whole`: counts, so no step of 2.5 (a Pareto's axis read "7,5 complaints")."""
    pad = max(1.0, (hi - lo) * 0.08)
    lo, hi = max(bounds[0], lo - pad), min(bounds[1], hi + pad)
    steps = [m * 10 ** e for e in range(0, 8) for m in (1, 2, 2.5, 5) if not (whole and e == 0 and m == 2.5)]
    step = next((s for s in steps if (hi - lo) / s <= 6), steps[-1])
    first = max(bounds[0], step * math.floor(lo / step))
    last = min(bounds[1], step * math.ceil(hi / step))
    ticks = [first]
    while ticks[-1] + step <= last + 1e-9:
        ticks.append(ticks[-1] + step)
    if len(ticks) < 2:
        ticks.append(ticks[0] + step)
    return ticks


def _nice_range(lo: float, hi: float, bounds: tuple[float, float]) -> tuple[float, float]:
    t = _ticks(lo, hi, bounds)
    return t[0], t[-1]


def _label(v: float, lang: str) -> str:
    """An axis value: whole without decimals, else one, in `lang`'s way of writing figures."""
    return figure(v, lang, 0 if float(v).is_integer() else 1)


def _value(v: float | None, lang: str) -> str:
    """A metric's value in a tooltip or a name: always one decimal ("75,0", never "75" beside
    "79,0": an NPS day is a whole number now and then), a dash for none."""
    return figure(None if v is None else float(v), lang)


MIN_SPAN = 0.2             # a value axis spans at least a fifth of the scale: small moves look small


def value_range(lo: float, hi: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """The value axis of a trend: round ticks around [lo, hi], widened to at least MIN_SPAN of the
    scale (a two-point wobble drawn over the chart's full height reads as a collapse), inside
    `bounds`."""
    span = (bounds[1] - bounds[0]) * MIN_SPAN
    if hi - lo < span:
        mid = (lo + hi) / 2
        lo, hi = mid - span / 2, mid + span / 2
        if lo < bounds[0]:
            lo, hi = bounds[0], bounds[0] + span
        if hi > bounds[1]:
            lo, hi = bounds[1] - span, bounds[1]
    return _nice_range(lo, hi, bounds)


def trend_chart(name: str, title: str, daily: Sequence[dict], weekly: Sequence[dict], bounds: tuple[float, float],
                empty: str, legend: tuple[str, str, str], axis_note: str = "", n_label: str = "n ≤ {n}", *,
                lang: str, span: tuple[str, str] | None = None, whole_scale: str = "") -> Markup:
    """Daily values (thin line) with their 95% band, weekly values (thick line, each at its week's
    centre), and the answers per day as bars under the chart (every day's n in its tooltip;
    `n_label` with {n}, the tallest bar, names them). The value axis spans at least MIN_SPAN of
    the scale; `axis_note` (with {lo} and {hi}) states it, `whole_scale` when it is the whole scale
    ("Y axis −100–100 of −100–100" read as a riddle). Every figure a reader sees is written
    as `lang` writes it; coordinates keep a point. No line or band is drawn across a day (or a
    week) missing from the series (a closed day, or an employee day privacy leaves out): a line
    straight across read as answers that day; a day alone between gaps is a dot. A day not over
    yet (`partial`: its answers so far) is an open circle, joined to nothing and left out of the
    axis's range: its few answers (n = 2, NPS 100 beside a series around 65) were the line's end.
    A trend with weeks but no day drawn (an employee question whose every day is under the minimum
    group) is its weekly line alone, its axis around the weeks' values: `empty` ("no answers")
    read as if the weeks shown in its table had none."""
    drawn = [d for d in daily if d.get("value") is not None]
    pts = [d for d in drawn if not d.get("partial")]
    shown = [r for r in weekly if r.get("value") is not None]
    if not drawn and not shown:
        return _empty(name, title, empty)
    w, h, left, right, top, bottom, strip = WIDTH, 290, 34, 10, 22, 44, 36
    lows = [d["low"] if d.get("low") is not None else d["value"] for d in pts or drawn]
    highs = [d["high"] if d.get("high") is not None else d["value"] for d in pts or drawn]
    lo, hi = value_range(max(bounds[0], min(lows or [r["value"] for r in shown])),
                         min(bounds[1], max(highs or [r["value"] for r in shown])), bounds)
    ticks = _ticks_between(lo, hi)
    # The axis spans the period (`span`, its first and last day) and every day with answers, drawn
    # or not: a day too thin to draw still has its bar (a staff question answered by a few: bars
    # of days before the first drawn one fell off the chart's left edge, and two charts of one page
    # covered different dates). One day sits in the middle. The days are inset by half a bar, so
    # that the first and last bars stand whole inside the plot. Weeks alone without a period: their
    # middle days.
    ends = [d["date"] for d in daily] + list(span or ()) or [_middle(r) for r in shown]
    first = date.fromisoformat(min(ends))
    days = (date.fromisoformat(max(ends)) - first).days
    plot_bottom = h - bottom - strip
    bar = min(24.0, max(1.0, (w - left - right) / (days + 1) * 0.7))
    inset = bar / 2
    x = (lambda day: left + inset + (w - left - right - 2 * inset)
         * ((date.fromisoformat(day) - first).days / days if days else 0.5))
    y = (lambda v: top + (plot_bottom - top) * (1 - (min(hi, max(lo, v)) - lo) / max(1e-9, hi - lo)))
    out = [_open(name, title, w, h)]
    note = whole_scale if whole_scale and (lo, hi) == tuple(bounds) else axis_note
    if note:
        out.append(_text(w - right, 12, note.format(lo=_label(lo, lang), hi=_label(hi, lang)), 12, "end"))
    for v in ticks:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y(v) + 4, _label(v, lang), 12, "end"))
    runs = _runs(list(zip(pts, lows, highs)), lambda r: r[0]["date"], 1) if pts else []
    for run in runs:
        band = [f"{x(d['date']):.1f},{y(v):.1f}" for d, _low, v in run] + \
               [f"{x(d['date']):.1f},{y(v):.1f}" for d, v, _high in reversed(run)]
        out.append(f'<polygon points="{" ".join(band)}" fill="{BAND}" opacity="0.55"/>')
    for run in runs:
        if len(run) == 1:
            d = run[0][0]
            out.append(f'<circle cx="{x(d["date"]):.1f}" cy="{y(d["value"]):.1f}" r="1.8" fill="{BLUE}"/>')
            continue
        line = " ".join(f"{x(d['date']):.1f},{y(d['value']):.1f}" for d, _low, _high in run)
        out.append(f'<polyline points="{line}" fill="none" stroke="{BLUE}" stroke-width="1.2"/>')
    for d in drawn:
        if d.get("partial"):
            cx, cy = x(d["date"]), y(d["value"])
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{WHITE}" stroke="{BLUE}"'
                       f' stroke-width="1.2" class="partial-day"/>')
            if not lo <= d["value"] <= hi:
                # Beyond the axis, which spans the whole days: held at its edge, with its value
                # written beside it, so that the edge is not read as its value.
                out.append(_text(cx - 5, cy - 6 if d["value"] < lo else cy + 14, figure(d["value"], lang, 0), 12,
                                 "end", INK))
    # A week's value belongs to the middle of its days (Thursday of a whole week), not to its
    # Monday: a partial week's to the middle of its days in the period.
    for run in _runs(shown, lambda r: r.get("first_day", r["from"]), 7):
        wk = [(min(w - right, max(left, x(_middle(r)))), r["value"]) for r in run]
        if len(wk) == 1:                        # a week alone between gaps is a dot
            out.append(f'<circle cx="{wk[0][0]:.1f}" cy="{y(wk[0][1]):.1f}" r="2.6" fill="{ORANGE}"/>')
        else:
            out.append(f'<polyline points="{" ".join(f"{px:.1f},{y(v):.1f}" for px, v in wk)}" fill="none"'
                       f' stroke="{ORANGE}" stroke-width="2.6" stroke-linejoin="round"/>')
    most = max((d["n"] for d in daily), default=0) or 1
    for d in daily:
        bh = (strip - 18) * d["n"] / most
        out.append(f'<rect x="{x(d["date"]) - bar / 2:.1f}" y="{h - bottom - bh:.1f}" width="{bar:.1f}"'
                   f' height="{bh:.1f}" fill="{MUTED}" opacity="0.6">'
                   + _title(f'{d["date"]}{" (" + t("day_not_over", lang) + ")" if d.get("partial") else ""}:'
                            f' {_value(d.get("value"), lang)} (n={figure(d["n"], lang)})') + "</rect>")
    if daily:
        out.append(_text(left + 2, plot_bottom + 14, n_label.format(n=figure(most, lang)), 12))
    # The axis's first, middle and last day, each once (two days' labels were written on top of
    # each other when the drawn days were few).
    marks = ({0: "middle"} if not days else {0: "start", days // 2: "middle", days: "end"} if days >= 2
             else {0: "start", days: "end"})
    for k, anchor in marks.items():
        day = (first + timedelta(days=k)).isoformat()
        out.append(_text(x(day), h - bottom + 16, day, 12, anchor))
    lx = left
    for color, label in zip((BLUE, ORANGE, BAND), legend):
        if color != ORANGE and not drawn:
            continue                            # no day drawn: no daily line or band to name
        out.append(f'<rect x="{lx}" y="{h - 14}" width="12" height="8" fill="{color}"/>')
        out.append(_text(lx + 16, h - 6, label, 12))
        lx += 26 + 7.0 * len(label)
    out.append("</svg>")
    return _chart(out)


def _runs(rows: list, day: Callable[[Any], str], step: int) -> list[list]:
    """`rows` (in date order) cut wherever the next one's `day` is more than `step` days on."""
    runs: list[list] = []
    for r in rows:
        if runs and (date.fromisoformat(day(r)) - date.fromisoformat(day(runs[-1][-1]))).days <= step:
            runs[-1].append(r)
        else:
            runs.append([r])
    return runs


def _middle(week: dict) -> str:
    """The middle day of a weekly row's days (`first_day`…`last_day`; a whole week without them)."""
    first = date.fromisoformat(week.get("first_day", week["from"]))
    last = date.fromisoformat(week["last_day"]) if "last_day" in week else first + timedelta(days=6)
    return (first + (last - first) / 2).isoformat()


def _ticks_between(lo: float, hi: float) -> list[float]:
    """Round grid values from lo to hi (both already round): 3-6 steps."""
    steps = [m * 10 ** e for e in range(-1, 8) for m in (1, 2, 2.5, 5)]
    step = next((s for s in steps if (hi - lo) / s <= 6), steps[-1])
    ticks = [lo]
    while ticks[-1] + step <= hi + 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


FEW_ANSWERS = 10               # a heatmap cell of fewer answers is drawn pale (its interval spans about ±20 points)
# The heatmap's layout: its weekday labels' margin, a cell's least width, the legend bar's least
# (room for its five values), and the box a chart has on a 320 px phone (the web app's page and
# section padding): a heatmap wider than that scrolls there, and only then says so.
HEAT_LEFT, HEAT_CELL, HEAT_BAR, PHONE_BOX = 38, 40.0, 140.0, 284


def heatmap_width(cells: Sequence[dict], legend: str = "", few_label: str = "") -> float:
    """The width `heatmap_chart` draws `cells` at: its hours' columns, or what its legend needs
    when that is more (the scale bar with the metric's name after it; `few_label` under it where
    a cell has fewer than FEW_ANSWERS answers). Never padded to WIDTH: one hour's column was
    drawn 400 wide, scrolled on a 412 px phone and cut the legend's "Happy Index" at its edge."""
    cells = [c for c in cells if c.get("value") is not None]
    hours = len({c["hour"] for c in cells})
    few = any(c["n"] < FEW_ANSWERS for c in cells) and bool(few_label)
    return max(HEAT_LEFT + HEAT_CELL * hours + 8, HEAT_LEFT + HEAT_BAR + _name_room(legend) + 8,
               HEAT_LEFT + 22 + _text_width(few_label, 11) + 8 if few else 0.0)


def _name_room(legend: str) -> float:
    """What the metric's name after the heatmap's scale bar takes, its gap included."""
    return 10 + _text_width(legend, 11) if legend else 0.0


def heatmap_chart(name: str, title: str, cells: Sequence[dict], weekdays: Sequence[str], bounds: tuple[float, float],
                  empty: str, n_label: str = "n", legend: str = "", few_label: str = "", *, lang: str) -> Markup:
    """Weekday × hour: each cell's colour on the metric's absolute scale (red at the bottom of the
    scale, yellow at its middle, green at the top: 75 is light green whatever the other hours
    score), its value and its n written in it (phones have no hover) in ink or white, whichever
    reads at 4.5:1 on the cell, a legend of the scale. A cell of fewer than `FEW_ANSWERS` answers
    is pale with a dashed edge, and `few_label` (naming the threshold) says so under the
    legend: one answer of 0 painted the full red of a bad hour. The same figures are the
    section's table (templates' heatmap.html), for screen readers."""
    cells = [c for c in cells if c.get("value") is not None]
    if not cells:
        return _empty(name, title, empty)
    hours = sorted({c["hour"] for c in cells})
    left, top, cell_h, legend_h = HEAT_LEFT, 22, 36, 40
    w = math.ceil(heatmap_width(cells, legend, few_label))
    cell_w = (w - left - 8) / len(hours)
    few = any(c["n"] < FEW_ANSWERS for c in cells) and bool(few_label)
    h = top + cell_h * 7 + 8 + legend_h + (18 if few else 0)
    lo, hi = bounds
    out = [_open(name, title, int(w), h, keep_width=True)]
    for j, hour in enumerate(hours):
        out.append(_text(left + cell_w * (j + 0.5), top - 7, f"{hour:02d}", 12, "middle"))
    for d in range(7):
        out.append(_text(left - 6, top + cell_h * (d + 0.5) + 4, weekdays[d], 12, "end"))
    for c in cells:
        j = hours.index(c["hour"])
        t = (c["value"] - lo) / (hi - lo)
        cx, cy = left + cell_w * (j + 0.5), top + cell_h * c["weekday"]
        thin = few and c["n"] < FEW_ANSWERS
        fill = _pale(_diverging(t)) if thin else readable(_diverging(t))
        out.append(f'<rect x="{left + cell_w * j + 1:.1f}" y="{cy + 1:.1f}"'
                   f' width="{cell_w - 2:.1f}" height="{cell_h - 2}" rx="3" fill="{fill}"{_DASHED if thin else ""}>'
                   + _title(f'{weekdays[c["weekday"]]} {c["hour"]:02d}: {_value(c["value"], lang)}'
                            f' ({n_label}={figure(c["n"], lang)})')
                   + "</rect>")
        ink = ink_on(fill)
        out.append(_text(cx, cy + 16, figure(c["value"], lang, 0), 13, "middle", ink, "bold"))
        out.append(_text(cx, cy + 29, figure(c["n"], lang), 11, "middle", ink))
    # The legend: the whole scale, so a colour reads the same in every report. The bar leaves room
    # for the metric's name after it: a 300-wide bar put it at 348 of 400, and "Happy Index" ran
    # off the edge of a chart of up to 8 hours.
    ly, lw = top + cell_h * 7 + 14, min(300.0, w - left - 8 - _name_room(legend))
    stops = "".join(f'<stop offset="{k / 10:.1f}" stop-color="{readable(_diverging(k / 10))}"/>' for k in range(11))
    out.append(f'<defs><linearGradient id="{escape(name)}-scale">{stops}</linearGradient></defs>')
    out.append(f'<rect x="{left}" y="{ly}" width="{lw:.1f}" height="10" rx="2" fill="url(#{escape(name)}-scale)"/>')
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        anchor = ("start", "middle", "middle", "middle", "end")[k]
        out.append(_text(left + lw * k / 4, ly + 23, _label(v, lang), 11, anchor))
    if legend:
        out.append(_text(left + lw + 10, ly + 9, legend, 11))
    if few:
        out.append(f'<rect x="{left}" y="{ly + 32}" width="16" height="10" rx="2" fill="{_pale(_diverging(0.5))}"{_DASHED}/>')
        out.append(_text(left + 22, ly + 41, few_label, 11))
    out.append("</svg>")
    return _chart(out)


_DASHED = f' stroke="{MUTED}" stroke-width="1" stroke-dasharray="3 2"'


def _pale(fill: str) -> str:
    """A heatmap cell's colour washed towards white (`heatmap_chart`'s cells of few answers): still
    its side of the scale, plainly not a full reading."""
    return _mix(fill, (255, 255, 255), 0.6)


def _diverging(t: float) -> str:
    """Red (bottom of the scale) through pale yellow (its middle) to green (its top)."""
    t = min(1.0, max(0.0, t))
    stops = [(0.0, (220, 38, 38)), (0.5, (254, 240, 138)), (1.0, (22, 163, 74))]
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#%02x%02x%02x" % tuple(int(a + (b - a) * f) for a, b in zip(c0, c1))
    return GREEN


def pareto_chart(name: str, title: str, rows: Sequence[dict], labels: dict[str, str], empty: str, *,
                 lang: str, axis_titles: tuple[str, str] = ("", "")) -> Markup:
    """Bars of the reasons' answers, the cumulative share as a line. Labels are written whole,
    slanted; the margins grow with the longest label so none is ever cut off at the edge.
    `axis_titles`: the left axis's (the bars: complaints) and the right one's (the cumulative
    share), each written upright along its axis."""
    if not rows:
        return _empty(name, title, empty)
    names = [labels.get(r["reason"], r["reason"]) for r in rows]
    ticks = _ticks(0, max(r["n"] for r in rows), (0, float("inf")), whole=True)
    shares = [percent(25 * k, lang, 0) for k in range(5)]
    # The right margin holds the widest share label ("100 %", drawn from w - right + 6) and the
    # axis title beside it: a fixed 40 cut "100 %" off at the chart's edge. The left one likewise
    # holds the counts' labels and the left title.
    title_room = 18 if any(axis_titles) else 0
    right = 6 + max(_text_width(v, 12) for v in shares) + 4 + title_room
    w, top, size = WIDTH, 14, 12
    longest = max(_text_width(n, size) for n in names)
    slant = math.radians(40)
    # The first label ends at its bar's middle (left + bw / 2 + 4) and reaches back longest·cos;
    # bw = (w - left - right) / n shrinks as left grows, so left is solved for, with 12 to spare
    # (the estimate is short of DejaVu Sans, a Linux browser's sans-serif, by about 8):
    # left + (w - left - right) / 2n + 4 - longest·cos >= 12.
    half = 1 / (2 * len(rows))
    left = max(40.0, 6 + max(_text_width(_label(v, lang), 12) for v in ticks) + 4 + title_room,
               (longest * math.cos(slant) + 8 - (w - right) * half) / (1 - half))
    bw = (w - left - right) / len(rows)
    bottom = longest * math.sin(slant) + 24
    h = int(top + 170 + bottom)
    top_n = ticks[-1]
    y = (lambda v, m: top + (h - top - bottom) * (1 - v / m))
    out = [_open(name, title, w, h)]
    for v in ticks:
        out.append(f'<line x1="{left:.1f}" x2="{w - right:.1f}" y1="{y(v, top_n):.1f}" y2="{y(v, top_n):.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y(v, top_n) + 4, _label(v, lang), 12, "end"))
    for k, share in enumerate(shares):
        out.append(_text(w - right + 6, y(25 * k, 100) + 4, share, 12))
    middle = (top + h - bottom) / 2
    if axis_titles[0]:
        out.append(_text(12, middle, axis_titles[0], 12, "middle", INK, rotate=-90))
    if axis_titles[1]:
        # turned clockwise its letters' tops face right: 14 keeps them off the edge
        out.append(_text(w - 14, middle, axis_titles[1], 12, "middle", INK, rotate=90))
    pts = []
    for i, (r, label) in enumerate(zip(rows, names)):
        x0 = left + bw * i
        out.append(f'<rect x="{x0 + bw * 0.15:.1f}" y="{y(r["n"], top_n):.1f}" width="{bw * 0.7:.1f}"'
                   f' height="{h - bottom - y(r["n"], top_n):.1f}" fill="{BLUE}" rx="2">'
                   + _title(f'{label}: {figure(r["n"], lang)} ({percent(r["share"], lang)})') + "</rect>")
        out.append(_text(x0 + bw / 2 + 4, h - bottom + 14, label, size, "end", rotate=-40))
        pts.append(f"{x0 + bw / 2:.1f},{y(r['cumulative'], 100):.1f}")
    out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{ORANGE}" stroke-width="2"/>')
    out.extend(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{ORANGE}"/>' for p in pts)
    out.append("</svg>")
    return _chart(out)


def _text_width(s: str, size: int) -> float:
    """A generous estimate of a label's width in the system sans-serif (no font metrics offline)."""
    return sum(size * (0.62 if c.isupper() or c in "mwåäöÅÄÖ" else 0.55) for c in s)


def ranking_chart(name: str, title: str, rows: Sequence[dict], bounds: tuple[float, float], chain: float | None,
                  empty: str, *, lang: str) -> Markup:
    """Horizontal dots (shrunk value) with 95% intervals; raw values as hollow rings; n on the right."""
    if not rows:
        return _empty(name, title, empty)
    row_h, left, right, top = 22, 128, 58, 20
    w, h = WIDTH, top + row_h * len(rows) + 10
    values = [v for r in rows for v in (r["low"], r["high"], r["raw"]) if v is not None]
    ticks = _ticks(min(values), max(values), bounds)
    lo, hi = ticks[0], ticks[-1]
    x = (lambda v: left + (w - left - right) * (min(hi, max(lo, v)) - lo) / max(1e-9, hi - lo))
    out = [_open(name, title, w, h)]
    for v in ticks:
        out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 4}" y2="{h - 8}" stroke="{GRID}"/>')
        out.append(_text(x(v), top - 7, _label(v, lang), 12, "middle"))
    if chain is not None:
        out.append(f'<line x1="{x(chain):.1f}" x2="{x(chain):.1f}" y1="{top - 4}" y2="{h - 8}" stroke="{MEAN_LINE}"'
                   ' stroke-dasharray="4 3"/>')
    for i, r in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        # "≈" marks a site with no detectable difference from the leader (intervals overlap).
        mark = "≈" if r.get("vs_leader") == "no_detectable_difference" else ""
        label = f'{mark}{r["rank"]}. {r["name"]}'
        out.append(_text(left - 8, cy + 4, label[:17], 13, "end", INK))
        out.append(f'<line x1="{x(r["low"]):.1f}" x2="{x(r["high"]):.1f}" y1="{cy:.1f}" y2="{cy:.1f}"'
                   f' stroke="{BLUE}" stroke-width="2" opacity="0.5"/>')
        if r["raw"] is not None:
            out.append(f'<circle cx="{x(r["raw"]):.1f}" cy="{cy:.1f}" r="4" fill="none" stroke="{MUTED}"/>')
        color = RED if r.get("small") else BLUE
        out.append(f'<circle cx="{x(r["shrunk"]):.1f}" cy="{cy:.1f}" r="5" fill="{color}">'
                   + _title(f'{r["name"]}: {_value(r["shrunk"], lang)} ({interval(r["low"], r["high"], lang)}),'
                            f' n={figure(r["n"], lang)}') + "</circle>")
        out.append(_text(w - right + 8, cy + 4, f'n={figure(r["n"], lang)}', 12))
    out.append("</svg>")
    return _chart(out)


def scatter_chart(name: str, title: str, points: Sequence[tuple[float, float, str]], x_label: str, y_label: str,
                  empty: str, *, lang: str) -> Markup:
    if not points:
        return _empty(name, title, empty)
    w, h, left, right, top, bottom = WIDTH, 320, 44, 12, 14, 44
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    xt, yt = _ticks(min(xs), max(xs), (0, 100)), _ticks(min(ys), max(ys), (0, 100))
    xlo, xhi, ylo, yhi = xt[0], xt[-1], yt[0], yt[-1]
    x = (lambda v: left + (w - left - right) * (v - xlo) / max(1e-9, xhi - xlo))
    y = (lambda v: top + (h - top - bottom) * (1 - (v - ylo) / max(1e-9, yhi - ylo)))
    out = [_open(name, title, w, h)]
    for vx in xt:
        out.append(f'<line x1="{x(vx):.1f}" x2="{x(vx):.1f}" y1="{top}" y2="{h - bottom}" stroke="{GRID}"/>')
        # The first from the corner rightwards: centred on it, it touched the y axis's lowest label.
        out.append(_text(x(vx), h - bottom + 14, _label(vx, lang), 12, "start" if vx == xt[0] else "middle"))
    for vy in yt:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(vy):.1f}" y2="{y(vy):.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y(vy) + 4, _label(vy, lang), 12, "end"))
    if len(points) >= 2:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((v - mx) ** 2 for v in xs)
        if sxx > 0:
            b = sum((a - mx) * (c - my) for a, c in zip(xs, ys)) / sxx
            out.append(f'<line x1="{x(xlo):.1f}" y1="{y(my + b * (xlo - mx)):.1f}" x2="{x(xhi):.1f}"'
                       f' y2="{y(my + b * (xhi - mx)):.1f}" stroke="{ORANGE}" stroke-width="1.5"'
                       ' stroke-dasharray="5 4"/>')
    for px, py, label in points:
        out.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="4" fill="{BLUE}" opacity="0.7">'
                   + _title(f"{label}: {_value(px, lang)} / {_value(py, lang)}") + "</circle>")
    out.append(_text((left + w - right) / 2, h - 6, x_label, 13, "middle", INK))
    out.append(_text(12, (top + h - bottom) / 2, y_label, 13, "middle", INK, rotate=-90))
    out.append("</svg>")
    return _chart(out)


def before_after_chart(name: str, title: str, before: dict, after: dict, labels: tuple[str, str],
                       bounds: tuple[float, float], axis_note: str = "", *, lang: str) -> Markup:
    """Two estimates with intervals side by side (an action's before and after), on an axis of at
    least MIN_SPAN of the scale as the trend's (zoomed to the figures, a 0.9-point move filled the
    chart); its ends are drawn and labelled, and `axis_note` (with {lo} and {hi}) states it."""
    vals = [v for e in (before, after) for v in (e.get("low"), e.get("high"), e.get("value")) if v is not None]
    if not vals:
        return _empty(name, title, "–", 300, 60)
    w, h, left, right = 300, 100 if axis_note else 84, 70, 40
    lo, hi = value_range(max(bounds[0], min(vals)), min(bounds[1], max(vals)), bounds)
    x = (lambda v: left + (w - left - right) * (min(hi, max(lo, v)) - lo) / max(1e-9, hi - lo))
    out = [_open(name, title, w, h)]
    axis_y = 66
    out.append(f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{axis_y}" y2="{axis_y}" stroke="{GRID}"/>')
    for v, anchor in ((lo, "start"), (hi, "end")):
        out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{axis_y - 3}" y2="{axis_y + 3}" stroke="{MUTED}"/>')
        out.append(_text(x(v), axis_y + 14, _label(v, lang), 11, anchor))
    if axis_note:
        out.append(_text(w - right, h - 4, axis_note.format(lo=_label(lo, lang), hi=_label(hi, lang)), 11, "end"))
    for i, (e, label, color) in enumerate(((before, labels[0], MUTED), (after, labels[1], BLUE))):
        cy = 20 + 28 * i
        out.append(_text(left - 8, cy + 4, label, 13, "end", INK))
        if e.get("value") is None:
            continue
        if e.get("low") is not None:
            out.append(f'<line x1="{x(e["low"]):.1f}" x2="{x(e["high"]):.1f}" y1="{cy}" y2="{cy}" stroke="{color}"'
                       ' stroke-width="2"/>')
        out.append(f'<circle cx="{x(e["value"]):.1f}" cy="{cy}" r="5" fill="{color}"/>')
        out.append(_text(w - right + 6, cy + 4, _value(e["value"], lang), 12))
    out.append("</svg>")
    return _chart(out)


def sparkline(name: str, title: str, daily: Sequence[dict], bounds: tuple[float, float], empty: str, *,
              lang: str, until: str | None = None, since: str | None = None) -> Markup:
    """A small trend line of the daily values (no axes) for an overview card. Each day stands at
    its date, so a day without answers is a gap in the line (a day alone between gaps is a dot):
    placed by position in the list, a closed week read as a continuous line. `until`: the last
    day to draw, the last whole one (the overview's: today is not over at every site); a partial
    day's few answers (n = 2, NPS 100 beside a series around 65) were the dot and the value written
    at the end. The line then runs to that day, so a last whole day without answers is a gap too.
    `since`: the period's first day, where the line's axis starts (else at its first value): a
    lone value on the 26th stood at the left edge, each card on the overview had its own axis,
    and the days without a value were counted from the first one drawn.
    The first and last value drawn are written at their ends; the name (what a screen reader says)
    gives them with their days, the lowest and highest, the days without answers and whether
    today's answers so far were left out."""
    pts = [d for d in daily if d.get("value") is not None and (until is None or d["date"] <= until)]
    if not pts:
        return _empty(name, title, empty, 200, 44)
    w, h, left, right, top, bottom = 200, 44, 30, 30, 6, 6
    values = [d["value"] for d in pts]
    # At least MIN_SPAN of the scale, as the trend's axis: a 3-point move filled its height.
    lo, hi = value_range(min(values), max(values), bounds)
    first = date.fromisoformat(min(pts[0]["date"], since or pts[0]["date"]))
    last = max(date.fromisoformat(pts[-1]["date"]), date.fromisoformat(until) if until else first)
    days = max(1, (last - first).days)
    x = (lambda day: left + (w - left - right) * ((date.fromisoformat(day) - first).days / days))
    y = (lambda v: top + (h - top - bottom) * (1 - (v - lo) / max(1e-9, hi - lo)))
    # What a screen reader says for the line: where it starts and ends, how low and high it goes,
    # the days it has no value for, and that today's answers so far are not in it.
    missing = (last - first).days + 1 - len(pts)
    label = t("sparkline_name", lang, title=title, first=_value(values[0], lang), first_date=pts[0]["date"],
              last=_value(values[-1], lang), last_date=pts[-1]["date"], low=_value(min(values), lang),
              high=_value(max(values), lang))
    if missing:
        label += "; " + t("sparkline_gaps", lang, days=figure(missing, lang))
    if until is not None and any(d["date"] > until and d.get("value") is not None for d in daily):
        label += "; " + t("sparkline_partial_left_out", lang)
    out = [_open(name, label, w, h)]
    for run in _runs(pts, lambda d: d["date"], 1):
        if len(run) == 1:
            out.append(f'<circle cx="{x(run[0]["date"]):.1f}" cy="{y(run[0]["value"]):.1f}" r="1.6" fill="{BLUE}"/>')
            continue
        line = " ".join(f"{x(d['date']):.1f},{y(d['value']):.1f}" for d in run)
        out.append(f'<polyline points="{line}" fill="none" stroke="{BLUE}" stroke-width="1.6"'
                   ' stroke-linejoin="round"/>')
    end = x(pts[-1]["date"])
    out.append(f'<circle cx="{end:.1f}" cy="{y(values[-1]):.1f}" r="2.5" fill="{BLUE}"/>')
    if len(pts) > 1:                        # one day is its value once, not "67 ●67"
        # beside the first value drawn, which stands after the period's start when days before it have none
        out.append(_text(x(pts[0]["date"]) - 4, y(values[0]) + 4, figure(values[0], lang, 0), 11, "end"))
    out.append(_text(end + 4, y(values[-1]) + 4, figure(values[-1], lang, 0), 11, "start", INK))
    out.append("</svg>")
    return _chart(out)
