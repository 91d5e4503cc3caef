"""Text cut to fit its box (kiosk/ui/fit.py), and on the real app: the comment being typed past
its limit, and the staff view with the longest comments, two alerts and both problems, at
800x480 and 480x800 in every language, and the PIN pad of a kiosk with no PIN set up; a long
custom question with long reasons (the staff view, the follow-up's chips), a question without a
comment and one with a comment and no reasons (tests/ui/fit_scenario.py; screenshots
`comment_limit`, `staff_full`, `staff_full_problems`, `pin_no_pin`, `staff_long_question`,
`followup_long_reasons`, `followup_no_comment`, `followup_comment_only`,
`followup_comment_only_written`, `followup_reasons_again`)."""

from __future__ import annotations

import pytest

from kiosk.ui.fit import ELLIPSIS, fit_head, fit_tail
from tests.ui.test_app import LANGS, SHOTS, _run, assert_clean_run

SIZES = ("800x480", "480x800")


def lines_of(width: int, n: int):
    """A box `width` characters wide and `n` lines high, wrapping at spaces as a label does
    (a word wider than the box does not fit at all)."""
    def fits(text: str) -> bool:
        lines, line = 1, 0
        for word in text.split(" "):
            if len(word) > width:
                return False
            if line and line + 1 + len(word) > width:
                lines, line = lines + 1, len(word)
            else:
                line += (1 if line else 0) + len(word)
        return lines <= n
    return fits


def test_a_text_that_fits_is_left_whole():
    assert fit_tail("kort", lines_of(10, 1)) == "kort"
    assert fit_head("kort", lines_of(10, 1), prefix="“", suffix="”") == "“kort”"


def test_the_tail_keeps_the_newest_whole_words_and_the_cursor():
    text = "kön var lång och ingen kom fast jag väntade|"
    shown = fit_tail(text, lines_of(20, 2))
    assert shown == ELLIPSIS + "lång och ingen kom fast jag väntade|"     # 19 + 17 characters
    assert lines_of(20, 2)(shown) and text.endswith(shown[1:])
    assert not lines_of(20, 2)(ELLIPSIS + "var " + shown[1:])              # one word more would not fit


def test_the_tail_of_one_long_word_is_its_end():
    shown = fit_tail("a" * 50 + "b|", lines_of(12, 2))
    assert shown == ELLIPSIS + "a" * 9 + "b|"


def test_the_head_keeps_the_first_whole_words_and_the_suffix():
    shown = fit_head("Kassan var stängd i över tjugo minuter", lines_of(24, 2), prefix="“",
                     suffix="” mån kl. 17")
    assert shown == "“Kassan var stängd i över tjugo…” mån kl. 17"      # 20 + 23 characters
    assert lines_of(24, 2)(shown)
    assert not lines_of(24, 2)("“Kassan var stängd i över tjugo minuter…” mån kl. 17")


def test_the_head_of_one_long_word_is_cut_inside_it():
    shown = fit_head("Självutcheckningskassornafungeradeinte", lines_of(20, 2), prefix="“", suffix="” mån")
    assert shown == "“Självutchecknings…” mån"          # 20 characters, then the suffix
    assert lines_of(20, 2)(shown)


def test_a_comment_is_cut_after_a_word_for_the_staff_view():
    from kiosk.ui.screens import COMMENT_CHARS, _cut
    text = "Personalen var trevlig men alldeles för få i tjänst på lördagseftermiddagen när det var"
    cut = _cut(text)
    assert len(cut) <= COMMENT_CHARS and cut.endswith(" i tjänst på" + ELLIPSIS)
    assert _cut("kort  och\nbra") == "kort och bra"


def test_the_praise_line_keeps_each_count_with_its_reason():
    """The staff screen's one line of praise: whole reasons with their counts, "…" for those left
    out; only where not even the first fits is its label cut, its count kept."""
    from kiosk.ui.screens import praise_line
    items = [("Personalens bemötande", 12), ("Renlighet", 5), ("Kö och väntetid", 2)]
    assert praise_line(items, lines_of(63, 1), "sv") == "Beröm: Personalens bemötande 12, Renlighet 5, Kö och väntetid 2"
    assert praise_line(items, lines_of(62, 1), "sv") == "Beröm: Personalens bemötande 12, Renlighet 5, …"
    assert praise_line(items, lines_of(46, 1), "sv") == "Beröm: Personalens bemötande 12, …"
    assert praise_line(items, lines_of(33, 1), "sv") == "Beröm: Personalens… 12, …"
    assert praise_line(items[:1], lines_of(40, 1), "en") == "Praised: Personalens bemötande 12"


@pytest.fixture(scope="module")
def fit_runs(xvfb_display, tmp_path_factory) -> dict:
    """Both sizes at once, as test_app.py and test_touches.py run theirs (the suite's time)."""
    from concurrent.futures import ThreadPoolExecutor
    base = tmp_path_factory.mktemp("fit")
    with ThreadPoolExecutor(max_workers=len(SIZES)) as pool:
        futures = {res: pool.submit(_run, res, base, xvfb_display, module="tests.ui.fit_scenario") for res in SIZES}
        return {res: f.result() for res, f in futures.items()}


@pytest.mark.ui
@pytest.mark.parametrize("res", SIZES)
def test_long_comments_and_a_full_staff_view_fit_their_boxes(fit_runs, res):
    run = fit_runs[res]
    assert run["report"] is not None, f"the app did not finish at {res}:\n{run['stderr']}"
    rep = assert_clean_run(run, 100)
    bad = [entry for entry in rep["layout"] if entry["problems"]]
    assert not bad, bad
    shots = [SHOTS / res / lang / f"{name}.png" for lang in LANGS
             for name in ("comment_limit", "staff_full", "staff_full_problems", "pin_no_pin", "staff_long_question",
                          "followup_long_reasons", "followup_no_comment", "followup_comment_only",
                          "followup_comment_only_written", "followup_reasons_again")]
    assert all(p.exists() and p.stat().st_size > 2000 for p in shots), shots
