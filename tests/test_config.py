"""Every bad-config case names the key, the line and what is wrong; precedence CLI>env>file>defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiosk import config as kconfig
from kiosk.loading import load
from kiosk.cli import main
from kiosk.exc import ConfigError

GOOD = textwrap.dedent("""\
    config_version = 3

    [kiosk]
    id = "kiosk-7"
    site = "gbg-avenyn"
    languages = ["sv", "en"]

    [filters]
    repeat_window_s = 4

    [gpio]
    buttons = [5, 6, 13, 19]
    leds = [12, 16, 20, 21]

    [[questions]]
    id = "visit"
    scale = "smiley4"
    text = { sv = "Hur var besöket?", en = "How was your visit?" }
    reasons = ["queue", "staff", "price", "other"]

    [[schedule]]
    question = "visit"
    days = ["mon", "tue"]
    from = "08:00"
    to = "12:00"
    """)


def parse(text: str) -> kconfig.KioskConfig:
    return kconfig.parse_text(text, "kiosk.toml")


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        parse(text)
    return ei.value


def line_no(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_config_parses():
    cfg = parse(GOOD)
    assert cfg.kiosk_id == "kiosk-7" and cfg.site_id == "gbg-avenyn"
    assert cfg.config_version == 3
    assert cfg.filters.repeat_window_s == 4.0 and isinstance(cfg.filters.repeat_window_s, float)
    assert cfg.questions[0].reasons == ("queue", "staff", "price", "other")
    assert cfg.schedule[0].days == (0, 1)


def test_defaults_without_file():
    cfg = kconfig.parse_config({})
    assert cfg.gpio.buttons == (5, 6, 13, 19)
    assert cfg.filters.repeat_window_s == 5.0 and cfg.filters.burst_per_minute == 10
    assert [q.id for q in cfg.questions] == ["visit"]


def test_syntax_error_names_the_line():
    text = GOOD.replace('site = "gbg-avenyn"', 'site = "gbg-avenyn')
    e = error_of(text)
    assert e.line == line_no(text, 'site = "gbg-avenyn')
    assert "syntax" in str(e).lower()


@pytest.mark.parametrize("old, new, key, needle, words", [
    ("repeat_window_s = 4", 'repeat_window_s = "four"', "filters.repeat_window_s", "repeat_window_s", "must be a number"),
    ("repeat_window_s = 4", "repeat_window_s = -1", "filters.repeat_window_s", "repeat_window_s", "at least 0"),
    ("repeat_window_s = 4", "repeat_window_s = true", "filters.repeat_window_s", "repeat_window_s", "got a boolean"),
    ("repeat_window_s = 4", "repeat_window = 4", "filters.repeat_window", "repeat_window", "unknown key"),
    ('id = "kiosk-7"', 'id = "kiosk 7"', "kiosk.id", 'id = "kiosk 7"', "letters, digits"),
    ('scale = "smiley4"', 'scale = "smiley7"', "questions[0].scale", "smiley7", "must be one of smiley4"),
    ('buttons = [5, 6, 13, 19]', 'buttons = [5, 6, 13, 14]', "gpio.buttons", "buttons =", "reserved"),
    ('buttons = [5, 6, 13, 19]', 'buttons = [5, 6, 13, 13]', "gpio.buttons", "buttons =", "used twice"),
    ('leds = [12, 16, 20, 21]', 'leds = [12, 16, 20, 5]', "gpio.leds", "leds =", "used twice"),
    ('buttons = [5, 6, 13, 19]', 'buttons = [5, 6, 13, 40]', "gpio.buttons", "buttons =", "does not exist"),
    ('buttons = [5, 6, 13, 19]', 'buttons = [5, 6, 13]', "gpio.buttons", "buttons =", "4 or 5"),
    ('text = { sv = "Hur var besöket?", en = "How was your visit?" }', 'text = { sv = "Hur var besöket?" }',
     "questions[0].text", "text = {", "wording in 'en'"),
    ('reasons = ["queue", "staff", "price", "other"]', 'reasons = ["queue", "staff", "price", "nope"]',
     "questions[0].reasons", "reasons = [", "unknown reason code 'nope'"),
    ('from = "08:00"', 'from = "8am"', "schedule[0].from", "from =", "HH:MM"),
    ('to = "12:00"', 'to = "07:00"', "schedule[0].to", "to =", "later than"),
    ('days = ["mon", "tue"]', 'days = ["mon", "tis"]', "schedule[0].days", "days =", "unknown weekday 'tis'"),
    ('question = "visit"\ndays', 'question = "nope"\ndays', "schedule[0].question", 'question = "nope"', "no question"),
    ('languages = ["sv", "en"]', 'languages = ["sv", "de"]', "kiosk.languages", "languages =", "unsupported language"),
    ('[[schedule]]', '[[questions]]\nid = "visit"  # again\ntext = { sv = "Igen?", en = "Again?" }\n\n[[schedule]]',
     "questions[1].id", "# again", "duplicate question id 'visit'"),
])
def test_bad_value_names_key_line_and_problem(old, new, key, needle, words):
    assert old in GOOD
    text = GOOD.replace(old, new)
    e = error_of(text)
    assert e.key == key
    assert e.line == line_no(text, needle), str(e)
    assert words in e.message, str(e)
    assert str(e).startswith(f"kiosk.toml:{e.line}, key '{key}': ")


def test_bad_pin_hash_is_refused_and_a_plain_pin_is_called_out():
    text = GOOD + '\n[staff]\npin_hash = "1234"\n'
    e = error_of(text)
    assert e.key == "staff.pin_hash" and e.line == line_no(text, "pin_hash")
    assert "never put the PIN itself" in e.message


def test_missing_question_id_is_required():
    text = GOOD.replace('id = "visit"\n', "")
    e = error_of(text)
    assert e.key == "questions[0].id" and "required" in e.message


def test_wrong_type_for_table():
    e = error_of('kiosk = "x"\n')
    assert e.key == "kiosk" and "must be a table" in e.message and e.line == 1


def test_unknown_top_level_key():
    e = error_of('colour = "blue"\n')
    assert e.key == "colour" and "unknown key" in e.message


def test_buttons_must_match_question_scale():
    text = GOOD.replace("buttons = [5, 6, 13, 19]", "buttons = [5, 6, 13, 19, 26]").replace(
        "leds = [12, 16, 20, 21]", "leds = [12, 16, 20, 21, 22]")
    e = error_of(text)
    assert e.key == "gpio.buttons" and "4 answers but 5 buttons" in e.message


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        kconfig.load_file(tmp_path / "none.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[kiosk]\nid = "k\xe4"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        kconfig.load_file(bad)


# -- precedence: CLI > env > file > defaults ---------------------------------------------------

def write(path: Path, kiosk_id: str, data_dir: str | None = None) -> Path:
    extra = f'data_dir = "{data_dir}"\n' if data_dir else ""
    path.write_text(f'[kiosk]\nid = "{kiosk_id}"\n{extra}', encoding="utf-8")
    return path


def test_precedence_cli_over_env_over_file_over_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))     # no default file
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdgdata"))
    cli_file = write(tmp_path / "cli.toml", "from-cli", str(tmp_path / "file-data"))
    env_file = write(tmp_path / "env.toml", "from-env")
    env = {"KUNDPULS_CONFIG": str(env_file), "KUNDPULS_DATA_DIR": str(tmp_path / "env-data")}

    cfg = load(None, None, env={})
    assert cfg.kiosk_id == "demo-kiosk-1" and cfg.data_dir == tmp_path / "xdgdata" / "kundpuls"
    cfg = load(None, None, env={"KUNDPULS_CONFIG": str(cli_file)})
    assert cfg.kiosk_id == "from-cli" and cfg.data_dir == tmp_path / "file-data"      # file > defaults
    cfg = load(None, None, env=env)
    assert cfg.kiosk_id == "from-env" and cfg.data_dir == tmp_path / "env-data"
    cfg = load(str(cli_file), None, env=env)
    assert cfg.kiosk_id == "from-cli" and cfg.data_dir == tmp_path / "env-data"       # env dir > file dir
    cfg = load(str(cli_file), str(tmp_path / "cli-data"), env=env)
    assert cfg.kiosk_id == "from-cli" and cfg.data_dir == tmp_path / "cli-data"


def test_default_config_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "kundpuls").mkdir()
    write(tmp_path / "kundpuls" / "kiosk.toml", "from-default-file")
    assert load(None, None, env={}).kiosk_id == "from-default-file"


def test_every_command_honours_the_precedence(tmp_path, monkeypatch, capsys):
    import json
    monkeypatch.setenv("KUNDPULS_CONFIG", str(write(tmp_path / "env.toml", "from-env")))
    monkeypatch.setenv("KUNDPULS_DATA_DIR", str(tmp_path / "env-data"))
    assert main(["config", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kiosk_id"] == "from-env" and out["data_dir"] == str(tmp_path / "env-data")
    cli = write(tmp_path / "cli.toml", "from-cli")
    assert main(["--config", str(cli), "stats", "--json", "--data-dir", str(tmp_path / "cli-data")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kiosk_id"] == "from-cli"
    assert (tmp_path / "cli-data" / "kiosk.db").exists() and not (tmp_path / "env-data").exists()


# -- `kiosk config check` ------------------------------------------------------------------------

def test_config_check_ok(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    assert "ok" in capsys.readouterr().out


def test_config_check_broken_exit_2_names_key_and_line(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    text = GOOD.replace("repeat_window_s = 4", 'repeat_window_s = "4s"')
    path.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    line = line_no(text, "repeat_window_s")
    assert err.startswith(f"kiosk: error: {path}:{line}, key 'filters.repeat_window_s': must be a number")
    assert "Traceback" not in err


def test_config_check_syntax_error_exit_2(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text("[kiosk\nid = 1\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: error: {path}:1") and "syntax" in err.lower()
