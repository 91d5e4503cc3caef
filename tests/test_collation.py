"""Names listed in the reader's order: Swedish å, ä, ö and Norwegian æ, ø, å after z, the other
language's letters with their own, accents ignored in English, case ignored, numbers as numbers.
Used by the web app's filters (sites, regions, questions, reasons, an alert's owners) and the fleet
notices' kiosk lists."""

from __future__ import annotations

import pytest

import unicodedata

from server_sync.report.collation import sort_key, sorted_choices, sorted_names
from server_sync.workflow.notices import _kiosk_list

SV = ["Örebro", "Åre", "Älmhult", "Arvika", "Zinkgruvan", "ärla", "Øster", "Müllers", "Mycke", "Myra"]
NB = ["Ørsta", "Ålesund", "Ærøy", "Oslo", "Arendal", "Älv", "Zinken", "Östra"]


@pytest.mark.parametrize("lang, names, expected", [
    ("sv", SV, ["Arvika", "Mycke", "Müllers", "Myra", "Zinkgruvan", "Åre", "Älmhult", "ärla", "Örebro", "Øster"]),
    ("nb", NB, ["Arendal", "Oslo", "Zinken", "Älv", "Ærøy", "Ørsta", "Östra", "Ålesund"]),
    ("en", ["Frank", "Émile", "Edward", "emma", "Åre", "Zed", "Ærø", "Øster"],
     ["Ærø", "Åre", "Edward", "Émile", "emma", "Frank", "Øster", "Zed"]),
    ("sv", ["Łódź", "Örebro", "Lund", "Győr", "Gävle"], ["Győr", "Gävle", "Łódź", "Lund", "Örebro"]),
    ("nb", ["Aalesund", "Bergen", "Ålesund"], ["Aalesund", "Bergen", "Ålesund"]),     # "aa" is two a's
    ("sv", ["Butik 10", "butik 2", "Butik 1", "Butik"], ["Butik", "Butik 1", "butik 2", "Butik 10"]),
])
def test_names_sort_as_their_readers_expect(lang, names, expected):
    assert sorted_names(names, lang) == expected
    assert sorted_names(reversed(names), lang) == expected       # total: the input order does not matter


def test_decomposed_input_long_numbers_and_spaces():
    nfd = [unicodedata.normalize("NFD", n) for n in ("Åre", "Örebro", "Émile")]
    assert sorted_names(nfd + ["Arvika", "Zinkgruvan"], "sv")[-2:] == nfd[:2]       # after z, as composed
    assert sorted_names(["Emz", nfd[2], "Emile"], "en") == ["Emile", nfd[2], "Emz"]
    assert sorted_names(["Butik " + "9" * 5000, "Butik 10", "Butik 0010"], "sv") == ["Butik 0010", "Butik 10",
                                                                                      "Butik " + "9" * 5000]
    assert sorted_names([" Zeta", "Alpha"], "en") == ["Alpha", " Zeta"]
    assert sorted_choices([("s2", "Centrum"), ("s1", "Centrum"), ("s3", "Åre")], "sv") == [
        ("s1", "Centrum"), ("s2", "Centrum"), ("s3", "Åre")]                       # a shared name: by id


def test_code_point_order_was_wrong_and_ties_are_broken_by_the_text():
    assert sorted(["Åre", "Älmhult", "Örebro"]) == ["Älmhult", "Åre", "Örebro"]      # what Python does
    assert sorted_names(["Åre", "Älmhult", "Örebro"], "sv") == ["Åre", "Älmhult", "Örebro"]
    assert sort_key("ABC", "sv") != sort_key("abc", "sv") and sorted_names(["abc", "ABC"], "sv") == ["ABC", "abc"]


def test_the_web_filters_and_the_fleet_notices_list_in_the_readers_order(central_db):
    from server_sync.web.people import User
    from server_sync.web.scope import Scope, site_choices
    from tests.analysis.seeding import add_site
    names = {"s1": "Örebro", "s2": "Åre", "s3": "Älmhult"}
    for site_id, name in names.items():
        add_site(central_db, site_id)
        central_db.execute_sql(f"UPDATE site SET name = {central_db.param} WHERE id = {central_db.param}",
                               (name, site_id))
    scope = Scope(User(1, "ada", "admin", "sv"), frozenset(names), True)
    assert [n for _id, n in site_choices(central_db, scope, "sv")] == ["Åre", "Älmhult", "Örebro"]
    assert [n for _id, n in site_choices(central_db, scope, "nb")] == ["Älmhult", "Örebro", "Åre"]
    kiosks = [{"kiosk_id": f"k{i}", "site_id": s, "site_name": n, "last_seen": None, "timezone": "Europe/Stockholm"}
              for i, (s, n) in enumerate(sorted(names.items()), 1)]
    assert _kiosk_list(kiosks, "sv").splitlines() == ["k2 (Åre)", "k3 (Älmhult)", "k1 (Örebro)"]
