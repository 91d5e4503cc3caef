"""`python -m seeds.demo_chain`'s options, in-process (nothing is started): the directory it makes
afresh is one it made (or an empty one), never any directory given; out-of-range numbers are
usage errors, not tracebacks; a part that fails while the demo's files are made is one line."""

from __future__ import annotations

import pytest

from seeds import demo_chain
from seeds.demo_dir import MARKER, make_afresh, refusal


def test_a_directory_the_demo_did_not_make_is_refused_and_kept(tmp_path, capsys):
    """`--dir .` ran shutil.rmtree on the clone, .git and all (a review)."""
    mine = tmp_path / "project"
    (mine / ".git").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as e:
        demo_chain.main(["--headless", "--dir", str(mine)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "python -m seeds.demo_chain: error:" in err and str(mine) in err and MARKER in err
    assert (mine / "notes.txt").read_text() == "mine" and (mine / ".git").is_dir()


def test_a_file_is_refused(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert "not a directory" in refusal(f, tmp_path / "default")


def test_missing_empty_and_marked_directories_are_made_afresh(tmp_path):
    default = tmp_path / "default"
    assert refusal(tmp_path / "new", default) is None
    (tmp_path / "empty").mkdir()
    assert refusal(tmp_path / "empty", default) is None
    made = tmp_path / "made"
    make_afresh(made)
    assert (made / MARKER).is_file()
    (made / "central.db").write_text("old")
    (made / "anything").mkdir()
    assert refusal(made, default) is None
    make_afresh(made)
    assert sorted(p.name for p in made.iterdir()) == [MARKER]


def test_an_earlier_demo_at_the_default_place_is_accepted_by_its_layout(tmp_path):
    """Demos before the marker left .kundpuls-demo/ without it: the default place holding only
    their files is still theirs; the same files elsewhere, or anything more, are not."""
    default = tmp_path / ".kundpuls-demo"
    for name in ("certs", "logs", "mosquitto", "kiosk"):
        (default / name).mkdir(parents=True)
    for name in ("central.db", "central.db-wal", "kiosk.toml", "kiosk.password", "central.password"):
        (default / name).write_text("")
    assert refusal(default, default) is None
    assert refusal(default, tmp_path / "elsewhere") is not None
    (default / "thesis.tex").write_text("")
    assert "thesis.tex" in refusal(default, default)


@pytest.mark.parametrize("option, value, words", [
    ("--sites", "0", "at least 1"), ("--sites", "-3", "at least 1"), ("--sites", "x", "a whole number"),
    ("--days", "-1", "at least 0"), ("--web-port", "99999", "0 to 65535"), ("--web-port", "-1", "0 to 65535"),
])
def test_out_of_range_numbers_are_usage_errors(option, value, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        demo_chain.main(["--headless", "--dir", str(tmp_path / "d"), option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"python -m seeds.demo_chain: error: argument {option}:" in err and words in err, err
    assert not (tmp_path / "d").exists()


def test_a_failure_while_preparing_is_one_line(tmp_path, monkeypatch, capsys):
    """openssl or a `kiosk-central` step failing in prepare() was a traceback."""
    def failing(*_a, **_kw):
        raise RuntimeError("openssl req … failed (1):\nno openssl")
    monkeypatch.setattr(demo_chain, "prepare", failing)
    assert demo_chain.main(["--headless", "--dir", str(tmp_path / "d"), "--web-port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("demo: openssl req … failed (1):") and "Traceback" not in err


def test_the_banner_names_the_keys_the_pin_the_kiosk_data_and_the_centre_cli(tmp_path):
    """`make demo` said "keys 1-4 answer, q quits": not g (the staff PIN pad), not the PIN, not
    where the kiosk's answers are, nor how to use the centre's CLI on the demo's store; nor that
    its directory is made afresh on every run (a review)."""
    from kiosk.demo import demo_config_mapping
    d = tmp_path / "demo"
    d.mkdir()
    (d / "kiosk.toml").write_text(demo_chain.toml_text(demo_config_mapping(demo_chain.KIOSK_ID, demo_chain.DEMO_SITE)))
    url = f"sqlite:///{d / 'central.db'}"
    setup = {"url": url, "logins": {"demo": "pw1", "butik": "pw2"}}
    text = demo_chain.banner(d, setup, 8080, window=True)
    assert f"kiosk-central --db {url} fleet" in text and "made afresh on every run" in text
    assert "g = staff gesture" in text and "PIN 1234" in text and str(d / "kiosk" / "kiosk.db") in text
    assert "Escape closes the pad" in text
    # The headless kiosk prints its own banner in the same terminal: said once.
    assert "PIN 1234" not in demo_chain.banner(d, setup, 8080, window=False)
