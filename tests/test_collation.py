"""Names listed in the reader's order: Swedish å, ä, ö and Norwegian æ, ø, å after z, the other
language's letters with their own, accents ignored in English, case ignored, numbers as numbers.
Used by the web app's filters (sites, regions, questions, reasons) and the fleet notices' kiosk
lists."""

from __future__ import annotations

import pytest

from server_sync.program.collation import sort_key, sorted_names
from server_sync.web.scope import site_choices
from server_sync.workflow.notices import _kiosk_list

SV = ["Örebro", "Åre", "Älmhult", "Arvika", "Zinkgruvan", "ärla", "Øster", "Müllers", "Mycke", "Myra"]
NB = ["Ørsta", "Ålesund", "Ærøy", "Oslo", "Arendal", "Älv", "Zinken", "Östra"]


@pytest.mark.parametrize("lang, names, expected", [
    ("sv", SV, ["Arvika", "Mycke", "Müllers", "Myra", "Zinkgruvan", "Åre", "Älmhult", "ärla", "Örebro", "Øster"]),
    ("nb", NB, ["Arendal", "Oslo", "Zinken", "Älv", "Ærøy", "Ørsta", "Östra", "Ålesund"]),
    ("en", ["Frank", "Émile", "Edward", "emma", "Åre", "Zed"], ["Åre", "Edward", "Émile", "emma", "Frank", "Zed"]),
    ("sv", ["Butik 10", "butik 2", "Butik 1", "Butik"], ["Butik", "Butik 1", "butik 2", "Butik 10"]),
])
def test_names_sort_as_their_readers_expect(lang, names, expected):
    assert sorted_names(names, lang) == expected
    assert sorted_names(reversed(names), lang) == expected       # total: the input order does not matter


def test_code_point_order_was_wrong_and_ties_are_broken_by_the_text():
    assert sorted(["Åre", "Älmhult", "Örebro"]) == ["Älmhult", "Åre", "Örebro"]      # what Python does
    assert sorted_names(["Åre", "Älmhult", "Örebro"], "sv") == ["Åre", "Älmhult", "Örebro"]
    assert sort_key("ABC", "sv") != sort_key("abc", "sv") and sorted_names(["abc", "ABC"], "sv") == ["ABC", "abc"]


def test_the_web_filters_and_the_fleet_notices_list_in_the_readers_order():
    names = {"s1": "Örebro", "s2": "Åre", "s3": "Älmhult"}
    assert [n for _id, n in site_choices(names, "sv")] == ["Åre", "Älmhult", "Örebro"]
    assert [n for _id, n in site_choices(names, "nb")] == ["Älmhult", "Örebro", "Åre"]
    kiosks = [{"kiosk_id": f"k{i}", "site_id": s, "site_name": n, "last_seen": None, "timezone": "Europe/Stockholm"}
              for i, (s, n) in enumerate(sorted(names.items()), 1)]
    assert _kiosk_list(kiosks, "sv").splitlines() == ["k2 (Åre)", "k3 (Älmhult)", "k1 (Örebro)"]
