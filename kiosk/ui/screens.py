"""The app's screens. Each screen's layout and style live in `kiosk/ui/<screen>.kv`; these
classes fill in what depends on state (the question's answers, chips, stats) via `refresh`.

Screens read state from the app (`app.flow`) and call the flow on input; they never record,
never read the network, and never run timers of their own.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.ui import palette
from kiosk.ui.controls import NpsButton, PillButton, ReasonChip
from kiosk.ui.fit import ELLIPSIS, TextBox, fit_head, fit_tail, words_fit
from kiosk.ui.smiley import SmileyButton, SmileyFace
from kiosk.ui.texts import age_text, alert_text, comment_text, shown_change, tr, whole


class Caption(Label):
    """A label that wraps to its width and is as tall as its text (never clipped)."""


class LanguageBar(BoxLayout):
    """The visible language switch: one pill per offered language, in that language."""

    languages = ListProperty([])
    current = StringProperty("")
    font_size = NumericProperty(18)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.bind(languages=self.rebuild, font_size=self.rebuild, current=self.restyle,
                  height=self.restyle)

    def rebuild(self, *_a) -> None:
        from kivy.app import App
        app = App.get_running_app()
        self.clear_widgets()
        for code in self.languages:
            b = PillButton(text=tr("language_name", code), font_size=self.font_size)
            b.language = code
            b.bind(on_release=lambda btn: app.choose_language(btn.language))
            self.add_widget(b)
        self.restyle()

    def restyle(self, *_a) -> None:
        for b in self.children:
            b.radius = self.height / 2 if self.height else 14
            if b.language == self.current:
                b.bg, b.fg, b.outline = palette.ACCENT, palette.ON_ACCENT, (0, 0, 0, 0)
            else:
                b.bg, b.fg, b.outline = palette.SURFACE, palette.INK, palette.LINE


class KioskScreen(Screen):
    def refresh(self, app: Any) -> None:
        pass


NPS_PORTRAIT_ROW = 6       # keys per row of the 0-10 scale on a portrait screen: 0-5 over 6-10


def face_rows(count: int, landscape: bool) -> list[int]:
    """How many faces each row of the question screen holds: all in one row, left to right,
    in either orientation. A scale is read along a line; in a 2x2 block its order is lost
    (four faces across a 480 px portrait panel are still about 97 px each)."""
    return [count]


class QuestionScreen(KioskScreen):
    question_id = StringProperty("")
    employee = BooleanProperty(False)
    nps = BooleanProperty(False)
    not_stored = BooleanProperty(False)      # the last answer could not be stored (KioskFlow.not_stored)

    def refresh(self, app: Any) -> None:
        q = app.flow.question
        self.not_stored = app.flow.not_stored
        # The faces depend on the scale's values, not on the question: two questions on one
        # scale (the customers' and the closing-time employee question) share them.
        key = (q.scale, tuple(q.values), app.landscape, app.u)
        self.employee = q.audience == "employee"
        self.nps = q.scale == "nps11"
        self.ids.question_text.text = q.text.get(app.lang, "")
        if getattr(self, "_built", None) == key:
            return
        self._built = key
        area = self.ids.answers
        area.clear_widgets()
        if self.nps:
            if getattr(self, "_fit", None) is not None:
                area.unbind(size=self._fit)
                self._fit = None
            area.add_widget(self._nps_grid(app, q))
        else:
            counts = face_rows(len(q.values), app.landscape)
            # Upright, the faces' row is the panel's narrow side: half the gap, so that each face
            # gets the width (four across 480 px were 86 px with 450 px of empty height).
            cols, gap = max(counts), (16 if app.landscape else 8) * app.u
            box = BoxLayout(orientation="vertical", spacing=gap, size_hint=(None, None))
            rows = []
            faces = iter(enumerate(q.values))
            for n in counts:
                row = BoxLayout(spacing=gap, size_hint=(None, None), pos_hint={"center_x": 0.5})
                for i, v in (next(faces) for _ in range(n)):
                    b = SmileyButton(index=i, points=len(q.values), value=v)
                    b.bind(on_release=lambda btn: app.answer_touch(int(btn.value), btn.last_touch))
                    row.add_widget(b)
                rows.append(row)
                box.add_widget(row)

            def fit(*_a) -> None:
                # Square cells as big as the space allows; a shorter row is centred.
                w = area.width - area.padding[0] - area.padding[2]
                h = area.height - area.padding[1] - area.padding[3]
                cell = max(1.0, min((w - gap * (cols - 1)) / cols,
                                    (h - gap * (len(counts) - 1)) / len(counts)))
                for row, n in zip(rows, counts):
                    row.size = (cell * n + gap * (n - 1), cell)
                box.size = (cell * cols + gap * (cols - 1), cell * len(counts) + gap * (len(counts) - 1))
            if getattr(self, "_fit", None) is not None:
                area.unbind(size=self._fit)
            self._fit = fit
            area.bind(size=fit)
            fit()
            area.add_widget(box)

    def _nps_grid(self, app: Any, q: Any) -> Widget:
        """0-10 in one row (landscape) or in two ordered rows, 0-5 over 6-10, centred on one
        another (portrait: NPS_PORTRAIT_ROW)."""
        u = app.u
        low = Label(text=tr("nps_low", app.lang), color=palette.INK_MUTED, font_size=17 * u,
                    valign="middle")
        high = Label(text=tr("nps_high", app.lang), color=palette.INK_MUTED, font_size=17 * u,
                     valign="middle")
        for lab in (low, high):
            lab.bind(size=lambda w, s: setattr(w, "text_size", s))
        self._nps_ends = (low, high)

        def key(v: int, **kw) -> NpsButton:
            # Every key alike: a tinted detractor / promoter band would nudge the answer.
            b = NpsButton(text=str(v), value=v, font_size=26 * u, bold=True, bg=palette.SURFACE,
                          fg=palette.INK, outline=palette.LINE, radius=12 * u, **kw)
            b.bind(on_release=lambda btn: app.answer_touch(int(btn.value), btn.last_touch))
            return b

        if app.landscape:
            box = BoxLayout(orientation="vertical", spacing=10 * u)
            row = BoxLayout(spacing=8 * u, size_hint_y=None)
            cell = min((app.root_width() - 48 * u - 80 * u) / 11, 110 * u)
            row.height = cell * 0.9
            for v in q.values:
                row.add_widget(key(v))
            low.halign, high.halign = "left", "right"
            ends = BoxLayout(size_hint_y=None, height=30 * u)
            ends.add_widget(low)
            ends.add_widget(high)
            for w in (Widget(), row, ends, Widget()):
                box.add_widget(w)
            return box
        # Portrait: the scale in two ordered rows (0-5 over 6-10), keys about 65 px square on
        # the 480x800 panel.
        low.halign, high.halign = "left", "right"
        gap = 10 * u
        box = BoxLayout(orientation="vertical", spacing=gap)
        ends_h = 30 * u
        box.add_widget(Widget())
        low.size_hint_y, low.height = None, ends_h
        box.add_widget(low)
        rows = []
        values = list(q.values)
        for start in range(0, len(values), NPS_PORTRAIT_ROW):
            row = BoxLayout(spacing=gap, size_hint=(None, None), pos_hint={"center_x": 0.5})
            for v in values[start:start + NPS_PORTRAIT_ROW]:
                row.add_widget(key(v))
            rows.append(row)
            box.add_widget(row)
        high.size_hint_y, high.height = None, ends_h
        box.add_widget(high)
        box.add_widget(Widget())

        def fit(*_a) -> None:
            cols = NPS_PORTRAIT_ROW
            cell = (box.width - gap * (cols - 1)) / cols
            room = (box.height - 2 * ends_h - gap * (len(rows) + 3)) / len(rows)
            side = max(1.0, min(cell, room))
            for row in rows:
                n = len(row.children)
                # Centred: the shorter row (6-10 under 0-5) pushed to the right edge put "6"
                # under "1" and a gap under "0", not one keypad (a visual review).
                row.size = (side * n + gap * (n - 1), side)
            # Each end label lines up with the outer edges of its row's keys: "not at all likely"
            # starts over 0, "very likely" ends under 10.
            for lab, row in ((low, rows[0]), (high, rows[-1])):
                lab.size_hint_x, lab.width = None, row.width
                lab.pos_hint = {"center_x": 0.5}
        box.bind(size=fit)
        fit()
        return box

    def on_lang(self, app: Any) -> None:
        if self.nps and getattr(self, "_nps_ends", None):
            self._nps_ends[0].text = tr("nps_low", app.lang)
            self._nps_ends[1].text = tr("nps_high", app.lang)


class ThanksScreen(KioskScreen):
    number_colour = ListProperty([0, 0, 0, 0])
    echo = BooleanProperty(True)        # the answer is shown again (its face or number) above the thanks

    def refresh(self, app: Any) -> None:
        face, number = self.ids.face, self.ids.number
        q = app.flow.question
        value = app.flow.last_value
        face.opacity = number.opacity = 0
        number.text = ""
        # After a complaint: the promise that it is heard, and not the unhappy face once more.
        complaint = app.flow.last_negative
        self.ids.body.opacity, self.ids.passed_on.opacity = (0, 1) if complaint else (1, 0)
        # Nothing to echo: the thanks in the middle, not under an empty half (it read as a
        # picture that failed to load).
        self.echo = not (complaint or value is None or value not in q.values)
        if not self.echo:
            return
        if q.scale == "nps11":
            number.opacity = 1
            number.text = str(value)
            self.number_colour = palette.SURFACE
        else:
            face.opacity = 1
            face.points = len(q.values)
            face.index = q.values.index(value)


def chip_columns(app: Any, chips: list[ReasonChip], most: int, least_font: float) -> int:
    """The reason chips' columns: `most`, or fewer where a reason's longest word would not fit
    its chip even at the chips' least font (at 480x800, "Självutcheckningskassornas" on half
    the width was split mid-word). Measured on the window's width less the screen's margins
    (kiosk/ui/followup.kv), as the chips are laid out after they are made."""
    u = app.u
    inner = app.root_width() - 2 * 28 * u
    for cols in range(most, 1, -1):
        width = (inner - 12 * u * (cols - 1)) / cols
        text = width - 2 * PillButton.padding_for(width)
        if all(words_fit(chip, text, least_font) for chip in chips):
            return cols
    return 1


def comment_button_style(alone: bool, written: bool, u: float, window_width: float) -> dict[str, Any]:
    """The follow-up's comment button: an outlined half of the button row beside Skip; where the
    question has no reasons (`alone`), a large button centred in the chips' area, at least a
    chip's size (kiosk/ui/followup.kv's margins: the window's width less 2 x 28 u), filled as the
    primary action until a comment is `written` (then Send is the primary one, in the row)."""
    if not alone:
        return {"size_hint": (1, 1), "bg": palette.SURFACE, "fg": palette.ACCENT, "outline": palette.ACCENT,
                "font_size": 20 * u, "bold": False}
    size = (min(window_width - 2 * 28 * u, 440 * u), 140 * u)
    if written:
        return {"size_hint": (None, None), "size": size, "bg": palette.SURFACE, "fg": palette.ACCENT,
                "outline": palette.ACCENT, "font_size": 22 * u, "bold": False}
    return {"size_hint": (None, None), "size": size, "bg": palette.ACCENT, "fg": palette.ON_ACCENT,
            "outline": (0, 0, 0, 0), "font_size": 24 * u, "bold": True}


COMMENT_PREVIEW_LINES = 3  # the follow-up shows the beginning of a comment in this many lines


class FollowupScreen(KioskScreen):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._preview = ("", "", "")       # the comment and the quotation marks it is shown in
        # kv's ids are weak: the screen keeps the label while it is out of the layout.
        self._preview_label = self.ids.comment_preview.__self__
        self._preview_label.bind(text_size=self._show_comment, font_size=self._show_comment)

    def refresh(self, app: Any) -> None:
        d = app.flow.draft
        if d is None:
            return
        # The chips depend on the question and the language, not on the answer: a new
        # follow-up only resets their selection (no new widgets for every unhappy customer).
        labels = tuple(app.flow.cfg.reasons.get(code, {}).get(app.lang, code) for code in d.question.reasons)
        key = (d.question.id, tuple(d.question.reasons), labels, app.lang, app.landscape, app.u)  # a push may rename
        title = "followup_title_negative" if d.negative else "followup_title_positive"
        self.ids.title.text = tr(title, app.lang)
        several = d.question.max_reasons > 1
        # With a comment written, Send is there too: the hint says what it does (it read "tap the
        # one that fits best" beside a Send button; a visual review). A question with no reasons
        # asks for the comment alone (its hint spoke of reasons above an empty space).
        self.ids.hint.text = (tr("followup_hint_send_comment" if d.has_content() else "followup_hint_comment",
                                 app.lang) if not d.question.reasons
                              else tr("followup_hint_several", app.lang, n=d.question.max_reasons) if several
                              else tr("followup_hint_or_send", app.lang) if d.has_content()     # Send is shown
                              else tr("followup_hint", app.lang))
        # kv's ids are weak: the screen keeps its buttons while they are out of the row.
        if getattr(self, "_send", None) is None:
            self._send = self.ids.send_button.__self__
            self._comment = self.ids.comment_button.__self__
        row, send, comment = self.ids.actions, self._send, self._comment
        comment.text = tr("followup_edit_comment" if d.comment else "followup_comment", app.lang)
        # A question that takes no comment has no comment button: hidden, it kept half the row
        # (Skip alone on the right). Back in front where the next question takes one. A question
        # with no reasons has it large in the chips' area (a blank screen above a small button
        # read as broken; a visual review), Skip alone in the row.
        alone = d.question.comment and not d.question.reasons
        home = (self.ids.chip_area if alone else row) if d.question.comment else None
        if comment.parent is not home:
            if comment.parent is not None:
                comment.parent.remove_widget(comment)
            if home is row:
                row.add_widget(comment, index=len(row.children))
            elif home is not None:
                home.add_widget(comment)
        for name, value in comment_button_style(alone, bool(d.comment), app.u, app.root_width()).items():
            setattr(comment, name, value)
        self._place_preview(app, d.comment if alone else "")
        # Send appears once there is something to send (a comment, or reasons where the question
        # takes several; a single reason is sent by its own tap): never a dead grey button.
        if d.has_content() and send.parent is None:
            row.add_widget(send)
        elif not d.has_content() and send.parent is not None:
            row.remove_widget(send)
        grid = self.ids.chips
        if getattr(self, "_built", None) != key:
            self._built = key
            # Another question's or language's reasons relabel the chips there are; only a
            # difference in their number adds or drops some. Chips made and dropped at every
            # language switch or scheduled question stay behind as a fragmented heap (docs/ui.md).
            chips = grid.children[::-1]                  # Kivy keeps children last-added first
            for chip in chips[len(labels):]:
                grid.remove_widget(chip)
            for i, (code, label) in enumerate(zip(d.question.reasons, labels)):
                if i < len(chips):
                    chip = chips[i]
                    chip.text, chip.code, chip.radius = label, code, 16 * app.u
                else:
                    chip = ReasonChip(text=label, code=code, radius=16 * app.u)
                    chip.bind(on_release=lambda c: app.choose_reason(c.code, touch=c.last_touch))
                    grid.add_widget(chip)
            grid.cols = chip_columns(app, grid.children, 3 if app.landscape else 2, grid.least_font)
        for chip in grid.children:
            chip.selected = chip.code in d.reasons


    def _place_preview(self, app: Any, comment: str) -> None:
        """Above the large comment button of a question with no reasons, the comment written
        (it was shown nowhere before Send; a visual review); out of the layout otherwise."""
        label, area = self._preview_label, self.ids.chip_area
        box = area.parent
        if comment and label.parent is None:
            box.add_widget(label, index=box.children.index(area) + 1)     # just above the area
        elif not comment and label.parent is not None:
            box.remove_widget(label)
        self._preview = (comment, tr("quote_open", app.lang), tr("quote_close", app.lang))
        self._show_comment()

    def _show_comment(self, *_a) -> None:
        label = self._preview_label
        comment, opening, closing = self._preview
        width = label.text_size[0]
        if not comment or not width or width < 10:
            label.text = ""
            return
        fits = TextBox(label, width).lines(COMMENT_PREVIEW_LINES)
        label.text = fit_head(" ".join(comment.split()), fits, prefix=opening, suffix=closing)


COMMENT_LEFT_FROM = 30     # the comment screen counts the characters left from this many


class CommentScreen(KioskScreen):
    """The typed comment in a box of a few lines: its end and the cursor stay in view (its
    beginning gives way to "…"), and near the limit the characters left are counted, to 0."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._typed = ""
        self.ids.comment_text.bind(text_size=self._show_typed, font_size=self._show_typed)

    def refresh(self, app: Any) -> None:
        d = app.flow.draft
        text = d.comment if d else ""
        box = self.ids.comment_text
        self._typed = text + "|" if text else ""
        if text:
            box.color = palette.INK
            self._show_typed()
        else:
            box.text, box.color = tr("comment_placeholder", app.lang), palette.INK_MUTED
        left = max(0, app.flow.cfg.followup.max_comment_chars - len(text))
        counter = self.ids.comment_left
        counter.text = tr("comment_left", app.lang, n=left) if left <= COMMENT_LEFT_FROM else ""
        counter.color = palette.WARNING if left == 0 else palette.INK_MUTED

    def _show_typed(self, *_a) -> None:
        box = self.ids.comment_text
        if not self._typed or not box.text_size[0] or box.text_size[0] < 10:
            return
        width, height = box.text_size
        fits = TextBox(box, width)
        box.text = fit_tail(self._typed, lambda t: fits.fits(t, height))


class PinScreen(KioskScreen):
    def refresh(self, app: Any) -> None:
        f = app.flow
        self.ids.dots.count = len(f.pin_entry)
        locked = f.pin_locked_for()
        if not f.pin_guard.enabled:
            msg, colour = tr("pin_disabled", app.lang), palette.WARNING
        elif locked > 0:
            left = int(locked + 0.999)
            msg, colour = tr("pin_locked", app.lang, t=f"{left // 60}:{left % 60:02d}"), palette.WARNING
        elif f.pin_failed:
            msg, colour = tr("pin_wrong", app.lang, n=f.pin_guard.tries_left), palette.WARNING
        else:
            msg, colour = "", palette.INK_MUTED
        self.ids.message.text = msg
        self.ids.message.color = colour
        for key in self.ids.keypad.children:
            key.disabled = locked > 0 or not f.pin_guard.enabled or f.pin_checking


def _period_row(period: dict, qid: str) -> dict:
    return period["questions"].get(qid, {"n": 0, "counts": {}, "csat": None})


SMALL_SAMPLE = 30          # fewer answers than this are starred as a small sample
COMMENT_CHARS = 70         # a comment on the staff screen is cut after this many characters
STAFF_COMMENT_LINES = 2    # ... and to the lines it may take there (fewer when room is short)
STAFF_ALERT_LINES = 2      # a site alert on the staff screen is cut to this many lines
STAFF_QUESTION_LINES = 2   # the question's text heads the left panel in at most this many lines


def praise_line(items: list[tuple[str, int]], fits: Callable[[str], bool], lang: str) -> str:
    """The staff screen's praise, (label, count) most first: as many reasons, each whole with its
    count, as `fits` takes, then "…" if some are left out; the first alone, its label cut, if
    not even it fits whole. A count is never cut off its reason."""
    more = ", " + ELLIPSIS
    for k in range(len(items), 0, -1):
        text = tr("staff_praise", lang, reasons=", ".join(f"{name} {n}" for name, n in items[:k])
                  + (more if k < len(items) else ""))
        if fits(text):
            return text
    name, n = items[0]
    return fit_head(name, fits, prefix=tr("staff_praise", lang, reasons=""),
                    suffix=f" {n}" + (more if len(items) > 1 else ""))
NPS_GROUPS = (("0–6", range(0, 7)), ("7–8", range(7, 9)), ("9–10", range(9, 11)))


def staff_table(stats: dict, summary: dict, qid: str, nps: bool, percent: str = "\u00a0%",
                points: str = "\u00a0pp") -> dict[str, str]:
    """The comparison table's cells: today so far, the same weekday last week up to the same
    time of day (`staff_summary`'s `same_time_last_week`) and the change, for answers, the score
    and the satisfied share. Small samples are starred; the satisfied share's change is in
    percentage points (`points`: the language's), not a bare number beside two percentages."""
    score = ("happy_index", "nps")[nps]         # the stats field of the score
    today = _period_row(stats["periods"]["today"], qid)
    before = _period_row(summary["same_time_last_week"], qid)
    cells: dict[str, str] = {}
    for name, row in (("today", today), ("before", before)):
        small = 0 < row["n"] < SMALL_SAMPLE
        cells[f"{name}.n"] = str(row["n"]) + ("*" if small else "")
        cells[f"{name}.score"] = whole(row.get(score))
        cells[f"{name}.csat"] = whole(row.get("csat"), percent)      # the language's: "74 %", "74%"
    cells["change.n"] = whole(today["n"] - before["n"], signed=True)
    cells["change.score"] = whole(shown_change(today.get(score), before.get(score)), signed=True)
    cells["change.csat"] = whole(shown_change(today.get("csat"), before.get("csat")), points, signed=True)
    return cells


def staff_notes(stats: dict, summary: dict, lang: str) -> list[str]:
    """The lines under the trend, each only when it applies: presses the filters did not count
    today, and answers on an earlier scale (a separate series, in none of the figures shown);
    none for an employee question (it shows no figure)."""
    if summary.get("withheld"):
        return []
    notes = []
    flagged = stats["periods"]["today"]["flagged"]
    if flagged:
        notes.append(tr("staff_filtered", lang, n=flagged))
    earlier = sum(summary.get("earlier_scale", {}).values())
    if earlier:
        notes.append(tr("staff_earlier_scale", lang, n=earlier))
    return notes


def store_problem_key(problem: Exception) -> str:
    """The staff text for an answer the card could not store."""
    from kiosk.exc import DiskFull
    return "staff_disk_full" if isinstance(problem, DiskFull) else "staff_not_saved"


class StaffScreen(KioskScreen):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._side: dict | None = None
        self._lang = ""
        self._question = ""
        # The panel is laid out after the first refresh (and again on a new size): cut anew.
        self.ids.side.bind(size=Clock.create_trigger(self.fit_side, -1))
        self.ids.main.bind(size=Clock.create_trigger(self.fit_main, -1))

    def refresh(self, app: Any) -> None:
        view = app.staff_view()
        if view is None:
            return
        lang = self._lang = app.lang
        q = view["question"]
        stats, summary = view["stats"], view["summary"]
        nps = q.scale == "nps11"
        ids = self.ids
        self._question = q.text.get(lang, q.id)       # cut to fit in fit_main
        # An employee question's answers are in no figure (kiosk.stats): dashes, not zeros,
        # and the reason in place of the scale's explanation.
        withheld = summary.get("withheld", False)
        cells = staff_table(stats, summary, q.id, nps, tr("percent_suffix", lang), tr("points_suffix", lang))
        if withheld:
            cells = dict.fromkeys(cells, "–")
        self._table(app, q, cells)
        self._faces(app, q, _period_row(stats["periods"]["today"], q.id)["counts"], withheld)
        starred = any(v.endswith("*") for v in cells.values())
        ids.small_note.text = tr("staff_small_sample", lang) if starred else ""
        ids.explain.text = tr("staff_employee_withheld" if withheld else
                              "staff_nps_explain" if nps else "staff_score_explain", lang)
        ids.trend_title.text = tr("staff_trend_nps" if nps else "staff_trend", lang)
        names = tr("weekdays_short", lang).split(",")
        days = summary["days"]
        ids.trend.nps = nps
        ids.trend.labels = [names[date.fromisoformat(d["date"]).weekday()] for d in days]
        ids.trend.scores = [d["score"] for d in days]
        ids.filtered.text = "\n".join(staff_notes(stats, summary, lang))
        reasons = app.flow.cfg.reasons
        label = (lambda code: reasons.get(code, {}).get(lang, code))
        ids.reasons_title.text = tr("staff_reasons", lang)
        # A no-break space: a long reason's count stays on its line, not alone on the next one.
        lines = [f"{i}. {label(r['code'])}:\u00a0{r['n']}" for i, r in enumerate(summary["top_complaints"], 1)]
        lines = lines or ["–" if withheld else tr("staff_no_reasons", lang)]
        # Asked why after every answer, the answers that were not negative say what went well:
        # apart, on one line (cut to fit in fit_side), so that the complaints keep theirs.
        praise = [(label(r["code"]), r["n"]) for r in summary["top_praise"]]
        ids.reasons.text = "\n".join(lines)
        comments = [(_cut(comment_text(c["text"], lang)), tr("staff_comment_when", lang, hour=f"{c['hour']:02d}",
                                         day=names[date.fromisoformat(c["date"]).weekday()]))
                    for c in summary["comments"]]
        ob = stats["outbox"]
        now = view["now"]
        state = tr("staff_connected" if ob["broker_connected"] else "staff_disconnected", lang)
        ids.sync_state.text = tr("staff_sync_line", lang, state=state, n=ob["depth"])
        ids.sync_state.color = palette.OK if ob["broker_connected"] else palette.WARNING
        detail = [tr("staff_last_ack", lang, t=age_text(_age(ob["last_ack"], now), lang))]
        if ob["oldest_unacked"]:
            detail.insert(0, tr("staff_oldest", lang, age=age_text(_age(ob["oldest_unacked"], now), lang)))
        ids.sync_detail.text = " · ".join(detail)
        alerts = view["alerts"]
        # What staff must act on comes first: answers not saved, answers the server will not take.
        problems = [tr(store_problem_key(app.flow.problem), lang)] if app.flow.problem else []
        if ob.get("rejected"):
            problems.append(tr("staff_refused", lang, n=ob["rejected"]))
        notices = [(line, False) for line in problems]
        notices += [(alert_text(a, lang, ZoneInfo(app.flow.cfg.timezone), now), True) for a in alerts[:2]]
        ids.alerts.color = palette.WARNING
        ids.kiosk_line.text = tr("staff_kiosk", lang, id=view["kiosk_id"], ip=view["ip"],
                                 version=view["version"])
        self._side = {"comments": comments, "notices": notices[:2], "reasons": lines, "praise": praise,
                      "no_comments": "–" if withheld else tr("staff_no_comments", lang)}
        self.fit_main()
        self.fit_side()

    def fit_main(self, *_a) -> None:
        """The question's text over the left panel, cut to `STAFF_QUESTION_LINES` lines, or to
        the lines the panel has room for beside its figures, trend and notes (at least one): a
        custom question of 120 characters was drawn over the header (it is shown whole on the
        question screen). A cut ends in "…"."""
        ids = self.ids
        panel, label = ids.main, ids.question_text
        width = panel.width - panel.padding[0] - panel.padding[2]
        if not self._question or width < 10:
            label.text = self._question
            return
        table = ids.table
        rows = -(-len(table.children) // max(1, table.cols))
        room = (panel.height - panel.padding[1] - panel.padding[3]
                - panel.spacing * (len(panel.children) - 1)
                - rows * table.row_default_height - ids.faces.height - ids.trend.minimum_height)
        for lab in (ids.explain, ids.trend_title, ids.small_note, ids.filtered):
            room -= TextBox(lab, width).height(lab.text)
        box = TextBox(label, width)
        lines = max(1, min(STAFF_QUESTION_LINES, int((room + 0.5) // box.line_height())))
        label.text = fit_head(self._question, box.lines(lines))

    def fit_side(self, *_a) -> None:
        """The right panel's lines, cut to fit it (nothing drawn past its edge, at any size):
        what staff must act on in full; the praise in one line; each site alert in at most `STAFF_ALERT_LINES` lines
        (one, if no comment would fit otherwise); then the latest comments, newest first, each
        in at most `STAFF_COMMENT_LINES` lines, as many of them as the room left holds (a line
        each when it is short). A cut ends in "…"."""
        side = self._side
        ids = self.ids
        panel = ids.side
        width = panel.width - panel.padding[0] - panel.padding[2]
        if side is None or width < 10:
            return
        ids.comments_title.text = tr("staff_comments", self._lang)
        if side["praise"]:
            praise = praise_line(side["praise"], TextBox(ids.reasons, width).lines(1), self._lang)
            ids.reasons.text = "\n".join(side["reasons"] + [praise])
        notices = TextBox(ids.alerts, width)
        if not side["comments"]:
            ids.comments.text = side["no_comments"]
            ids.alerts.text = "\n".join(self._notices(notices, STAFF_ALERT_LINES))
            return
        room = (panel.height - panel.padding[1] - panel.padding[3]
                - panel.spacing * (len(panel.children) - 1))
        for lab in (ids.reasons_title, ids.reasons, ids.comments_title, ids.sync_state, ids.sync_detail,
                    ids.kiosk_line):
            room -= TextBox(lab, width).height(lab.text)
        comments = TextBox(ids.comments, width)
        line = comments.line_height()
        for cap in (STAFF_ALERT_LINES, 1):
            ids.alerts.text = "\n".join(self._notices(notices, cap))
            left = int((room - notices.height(ids.alerts.text)) // line)
            if left >= 1:
                break
        shown = []
        quote_open, quote_close = tr("quote_open", self._lang), tr("quote_close", self._lang)
        for i, (body, when) in enumerate(side["comments"]):
            if left < 1:
                break
            # Each older comment keeps a line, if there is one: three short beat two long.
            n = min(STAFF_COMMENT_LINES, max(1, left - (len(side["comments"]) - i - 1)))
            shown.append(fit_head(body, comments.lines(n), prefix=quote_open, suffix=f"{quote_close} {when}"))
            left -= round(comments.height(shown[-1]) / line)
        ids.comments.text = "\n".join(shown)
        if not shown:                    # not one line of room: no heading over nothing
            ids.comments_title.text = ""

    def _notices(self, box: TextBox, lines: int) -> list[str]:
        return [fit_head(text, box.lines(lines), prefix="• ") if cut else "• " + text
                for text, cut in self._side["notices"]]

    def _table(self, app: Any, q: Any, cells: dict[str, str]) -> None:
        """The labels are made once per language and size; the view's re-reads (every
        STAFF_REFRESH_S while open, or an answer coming in) only change their text."""
        lang, u = app.lang, app.u
        nps = q.scale == "nps11"
        heads = ["", tr("staff_answers", lang), tr("staff_nps" if nps else "staff_happy_index", lang),
                 tr("staff_csat", lang)]
        rows = [("today", "staff_today"), ("before", "staff_same_time"), ("change", "staff_change")]
        key = (lang, u, nps)
        if getattr(self, "_table_key", None) != key:
            self._table_key = key
            grid = self.ids.table
            grid.clear_widgets()
            self._cells: dict[str, Label] = {}
            for i, text in enumerate(heads):
                grid.add_widget(self._cell(text, u, first=i == 0, muted=True))
            for name, label in rows:
                grid.add_widget(self._cell(tr(label, lang), u, first=True, bold=True))
                for col in ("n", "score", "csat"):
                    self._cells[f"{name}.{col}"] = self._cell("", u)
                    grid.add_widget(self._cells[f"{name}.{col}"])
        for name, lab in self._cells.items():
            lab.text = cells[name]
            lab.color = palette.INK_MUTED if lab.text.endswith("*") else palette.INK

    @staticmethod
    def _cell(text: str, u: float, first: bool = False, muted: bool = False, bold: bool = False) -> Label:
        lab = Label(text=text, font_size=16 * u, bold=bold, size_hint_x=2.6 if first else 1,
                    color=palette.INK_MUTED if muted else palette.INK,
                    halign="left" if first else "center", valign="middle")
        lab.bind(size=lambda w, sz: setattr(w, "text_size", sz))
        return lab

    def _faces(self, app: Any, q: Any, counts: dict[str, int], withheld: bool = False) -> None:
        """Today's answers per face (per 0-6 / 7-8 / 9-10 group for NPS), as one line; dashes
        for a question whose answers are withheld."""
        u, nps = app.u, q.scale == "nps11"
        key = (q.id, len(q.values), nps, u)
        if getattr(self, "_faces_key", None) != key:
            self._faces_key = key
            row = self.ids.faces
            row.clear_widgets()
            self._face_counts: list[Label] = []
            groups = NPS_GROUPS if nps else [(None, [v]) for v in q.values]
            for i, (name, _values) in enumerate(groups):
                cell = BoxLayout(spacing=4 * u)
                if nps:
                    cell.add_widget(Label(text=name, font_size=16 * u, color=palette.INK_MUTED))
                else:
                    cell.add_widget(SmileyFace(index=i, points=len(q.values), size_hint_x=None,
                                               width=28 * u))
                lab = Label(text="", font_size=16 * u, color=palette.INK, halign="left", valign="middle")
                lab.bind(size=lambda w, sz: setattr(w, "text_size", sz))
                cell.add_widget(lab)
                self._face_counts.append(lab)
                row.add_widget(cell)
        groups = NPS_GROUPS if nps else [(None, [v]) for v in q.values]
        for lab, (_name, values) in zip(self._face_counts, groups):
            lab.text = "–" if withheld else str(sum(counts.get(str(v), 0) for v in values))


def _cut(text: str) -> str:
    """A comment as one paragraph of at most COMMENT_CHARS characters, cut after a word."""
    return fit_head(" ".join(text.split()), lambda t: len(t) <= COMMENT_CHARS)


def _age(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (now - t).total_seconds()


def parse_alerts(raw: str | None) -> list[dict]:
    """Site alerts from the `site.alerts` meta key (JSON list); anything malformed is ignored."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


BY_NAME: dict[str, type[KioskScreen]] = {
    "question": QuestionScreen, "thanks": ThanksScreen, "followup": FollowupScreen,
    "comment": CommentScreen, "pin": PinScreen, "staff": StaffScreen,
}
