"""Every bad-config case names the key, the line and what is wrong; precedence CLI>env>file>defaults."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from kiosk import config as kconfig
from kiosk.loading import load
from kiosk.cli import main
from kiosk.config.schema import KEYS
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
    # TOML's nan and inf are floats: every float key refuses them (nan passes every bound check).
    ("repeat_window_s = 4", "repeat_window_s = nan", "filters.repeat_window_s", "repeat_window_s",
     "must be a finite number, got nan"),
    ("repeat_window_s = 4", "repeat_window_s = -inf", "filters.repeat_window_s", "repeat_window_s",
     "must be a finite number, got -inf"),
    ("[gpio]", "[sync]\nack_timeout_s = inf\n\n[gpio]", "sync.ack_timeout_s", "ack_timeout_s",
     "must be a finite number, got inf"),
    ("repeat_window_s = 4", "repeat_window = 4", "filters.repeat_window", "repeat_window", "unknown key"),
    ('id = "kiosk-7"', 'id = "kiosk 7"', "kiosk.id", 'id = "kiosk 7"', "letters a-z or A-Z, digits"),
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
    ('languages = ["sv", "en"]', 'languages = ["sv", "de"]', "kiosk.languages", "languages =", "unknown language 'de'"),
    # Below: one case per remaining bound of the schema and rule of kiosk/config/rules.py.
    ('languages = ["sv", "en"]', 'languages = ["sv", "en", "sv"]', "kiosk.languages", "languages =", "twice"),
    ('languages = ["sv", "en"]', "languages = []", "kiosk.languages", "languages =", "must not be empty"),
    ('languages = ["sv", "en"]', 'languages = ["sv", "en"]\ndefault_language = "nb"', "kiosk.default_language",
     "default_language", "must be one of kiosk.languages"),
    ('languages = ["sv", "en"]', 'languages = ["sv", "en"]\ntimezone = "Mars/Olympus"', "kiosk.timezone",
     "timezone", "unknown time zone"),
    ("repeat_window_s = 4", "repeat_window_s = 4000", "filters.repeat_window_s", "repeat_window_s", "at most 3600"),
    ('scale = "smiley4"', 'scale = "smiley4"\nfollowup = "sometimes"', "questions[0].followup", "followup =",
     "must be one of negative"),
    ('reasons = ["queue", "staff", "price", "other"]', 'reasons = ["queue", "staff", "price"]',
     "questions[0].reasons", "reasons = [", "offer 4 to 6 reasons (or none), got 3"),
    ('reasons = ["queue", "staff", "price", "other"]', 'reasons = ["queue", "staff", "price", "other"]\nmax_reasons = 5',
     "questions[0].max_reasons", "max_reasons", "offers 4 reasons"),
    ('reasons = ["queue", "staff", "price", "other"]', 'reasons = ["queue", "staff", "price", "other"]\nmax_reasons = 0',
     "questions[0].max_reasons", "max_reasons", "at least 1"),
    ('leds = [12, 16, 20, 21]', "leds = [12, 16]", "gpio.leds", "leds =", "one LED per button"),
    ('[gpio]', '[broker]\ntopic_prefix = "acme"\n\n[gpio]', "broker.topic_prefix", "topic_prefix", "ending with '/'"),
    ('[gpio]', '[reasons]\nparking = { sv = "Parkering" }\n\n[gpio]', "reasons.parking", "parking =",
     "needs a label in 'en'"),
    ('[[schedule]]', '[[questions]]\nid = "visit"  # again\ntext = { sv = "Igen?", en = "Again?" }\n\n[[schedule]]',
     "questions[1].id", "# again", "duplicate question id 'visit'"),
    ('[gpio]', '[broker]\nhost = ""\n\n[gpio]', "broker.host", "host =", "must be a host name (like broker.example.com) or an IP address, got ''"),
    ('[gpio]', '[broker]\nhost = "a b"\n\n[gpio]', "broker.host", "host =", "or an IP address, got 'a b'"),
    ('[gpio]', '[broker]\nhost = "-broker.example"\n\n[gpio]', "broker.host", "host =", "host name"),
    ('[gpio]', '[broker]\nhost = "10.0.0.300"\n\n[gpio]', "broker.host", "host =", "host name"),
    ('[gpio]', '[sync]\nbackoff_min_s = 100\nbackoff_max_s = 1\n\n[gpio]', "sync.backoff_min_s", "backoff_min_s",
     "sync.backoff_min_s (100) is more than sync.backoff_max_s (1)"),
    ('[gpio]', '[sync]\nbackoff_max_s = 0.5\n\n[gpio]', "sync.backoff_max_s", "backoff_max_s",
     "sync.backoff_min_s (1) is more than sync.backoff_max_s (0.5)"),
    # Names zoneinfo opens that are no place: the reading machine's own zone, an unset machine's.
    ('languages = ["sv", "en"]', 'languages = ["sv", "en"]\ntimezone = "localtime"', "kiosk.timezone",
     "timezone", "unknown time zone 'localtime'"),
    ('languages = ["sv", "en"]', 'languages = ["sv", "en"]\ntimezone = "Factory"', "kiosk.timezone",
     "timezone", "unknown time zone"),
    ('languages = ["sv", "en"]', 'languages = ["sv", "en"]\ntimezone = "right/Europe/Oslo"', "kiosk.timezone",
     "timezone", "unknown time zone"),
    # 24:00 ends a day; as a start it read as 00:00, and 24:00-24:00 then held all day.
    ('from = "08:00"', 'from = "24:00"', "schedule[0].from", "from =", "between 00:00 and 23:59, got '24:00'"),
    # A TOML time, not the text: shown as written, with the fix (it read "datetime.time(8, 0)").
    ('from = "08:00"', 'from = 08:00:00', "schedule[0].from", "from =",
     'must be a string, got a time 08:00 (a TOML time: write it in quotes, "08:00")'),
    ('from = "08:00"\nto = "12:00"', 'from = "22:00"\nto = "02:00"', "schedule[0].to", "to =",
     "over midnight it is two entries: 22:00-24:00 and 00:00-02:00"),
    ('[[schedule]]', 'comment = true\n\n[followup]\nmax_comment_chars = 0\n\n[[schedule]]', "followup.max_comment_chars",
     "max_comment_chars",
     "is 0, but question 'visit' offers a comment"),
    ('[gpio]', '[staff]\nlockout_s = 0\n\n[gpio]', "staff.lockout_s", "lockout_s", "at least 15"),
    # The central ingest's broker user: the centre and provision.sh refused it, config check passed it.
    ('id = "kiosk-7"', 'id = "central"', "kiosk.id", 'id = "central"', "'central' is reserved for the central ingest"),
    ('text = { sv = "Hur var besöket?", en = "How was your visit?" }',
     'text = { sv = "Hur var besöket?", en = "How was your visit?", de = "Wie war es?" }', "questions[0].text",
     "text =", "has wording in 'de', a language the kiosk does not show (it shows sv, nb, en)"),
    # Five buttons wired, LEDs left to the default four: blame what the file says, and why.
    ('buttons = [5, 6, 13, 19]\nleds = [12, 16, 20, 21]', 'buttons = [5, 6, 13, 19, 26]', "gpio.buttons",
     "buttons =", "gpio.leds is not set (its default has 4)"),
])
def test_bad_value_names_key_line_and_problem(old, new, key, needle, words):
    assert old in GOOD
    text = GOOD.replace(old, new)
    e = error_of(text)
    assert e.key == key
    assert e.line == line_no(text, needle), str(e)
    assert words in e.message, str(e)
    assert str(e).startswith(f"kiosk.toml:{e.line}, key '{key}': ")


def test_empty_values_and_left_out_default_language_take_what_the_docs_say():
    cfg = parse(GOOD.replace('languages = ["sv", "en"]', 'languages = ["en", "nb"]').replace(
        'text = { sv = "Hur var besöket?", en = "How was your visit?" }', 'text = { en = "Visit?", nb = "Besøk?" }')
        + '\n[followup]\nmode = "every"\n')
    assert cfg.default_language == "en"                     # sv is not offered: the first language
    assert cfg.broker.username == "kiosk-7"                 # empty: the kiosk id
    assert cfg.questions[0].followup == "every"             # empty: followup.mode
    assert parse(GOOD).default_language == "sv"


def test_question_rules_are_its_scales_rules():
    from server_sync.protocol.scales import SCALES
    q = parse(GOOD).questions[0]
    assert q.scale_rules is SCALES["smiley4"] and q.values == (1, 2, 3, 4)
    assert [v for v in q.values if q.wants_followup(v)] == [v for v in q.values if SCALES["smiley4"].is_negative(v)]


def test_settings_defaults_are_the_schema_defaults():
    from kiosk.config.schema import children, held
    from kiosk.config.settings import SECTIONS
    cfg = kconfig.parse_config({})
    for name, section in SECTIONS.items():
        keys = children(f"{name}.")
        assert [f.name for f in dataclasses.fields(section)] == list(keys)
        assert section() == section(**{f: held(k, k.default) for f, k in keys.items()})
        for field, k in keys.items():
            if not k.empty_means:                           # those take another key's value
                assert getattr(getattr(cfg, name), field) == getattr(section(), field), k.name


def test_the_config_package_never_imports_the_loader_or_the_push():
    """kiosk.loading and kiosk.pushed import kiosk.config, never the other way (a hidden cycle
    once, through an import inside a function)."""
    from tests.test_imports import ROOT, imports_of
    for path in (ROOT / "kiosk" / "config").glob("*.py"):
        imported = {name for _, name in imports_of(path)}
        assert not imported & {"kiosk.loading", "kiosk.pushed", "kiosk.demo", "kiosk.cli"}, path.name


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
    # [[sync]] for [sync]: the array of tables is on the line of its first header.
    text = GOOD + '\n[[sync]]\nack_timeout_s = 5\n'
    e = error_of(text)
    assert e.key == "sync" and "must be a table" in e.message and e.line == line_no(text, "[[sync]]")


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


def test_a_config_that_starts_with_a_byte_order_mark_is_read(tmp_path, capsys):
    """Windows' editors write a byte-order mark first; tomllib refused it as "Invalid statement (at
    line 1, column 1)", a syntax error nobody could see. What the pushed config is merged over
    (pushed.file_mapping) reads the file the same way."""
    from kiosk.pushed import file_mapping
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(GOOD, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    got, want = kconfig.load_file(marked), kconfig.load_file(plain)
    assert got.kiosk_id == want.kiosk_id and got.questions == want.questions
    assert file_mapping(got) == file_mapping(want)
    assert main(["config", "check", str(marked)]) == 0
    assert capsys.readouterr().out.startswith(f"{marked}: ok (kiosk ")


def test_check_refuses_two_files_rather_than_check_one_and_say_ok(tmp_path, capsys):
    """`config check --config A B` checked B and said ok, A unread."""
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(GOOD.replace('id = "kiosk-7"', 'id = "central"'), encoding="utf-8")      # broken
    b.write_text(GOOD, encoding="utf-8")
    assert main(["config", "check", "--config", str(a), str(b)]) == 2
    assert capsys.readouterr().err == f"kiosk: error: --config {a} and the path {b} name two files: check one at a time\n"
    assert main(["config", "check", "--config", str(b), str(b)]) == 0


def test_a_config_that_is_not_a_regular_file_is_refused_not_read(tmp_path, capsys):
    """/dev/zero never ends (it was read until memory ran out); a FIFO waited for a writer."""
    import os
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        with pytest.raises(ConfigError, match="not a regular file") as e:
            kconfig.load_file(path)
        assert e.value.path == path
        assert main(["config", "check", path]) == 2
        assert capsys.readouterr().err == f"kiosk: error: {path}: cannot read: not a regular file\n"


def test_a_config_nested_too_deeply_is_a_config_error_naming_the_file(tmp_path, capsys):
    """tomllib recurses once per nested array: 5,000 deep was a RecursionError traceback."""
    deep = tmp_path / "deep.toml"
    deep.write_text('[kiosk]\nid = "k1"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    for argv in (["config", "check", str(deep)], ["--config", str(deep), "stats"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"kiosk: error: {deep}: TOML syntax error: nested too deeply (arrays or tables within each other) to be read\n"


@pytest.mark.parametrize("name", [k.name for k in KEYS if k.type == "path"])
def test_a_nul_character_in_a_path_key_is_refused_naming_the_key(name):
    """data_dir = "a\\u0000b" passed `config check`; `kiosk sync` then failed with 'embedded null byte'."""
    section, field = name.split(".")
    tables = {"kiosk": {"id": "k1"}, section: {field: "a\0b"}}
    if section == "kiosk":
        tables["kiosk"] = {"id": "k1", field: "a\0b"}
    with pytest.raises(ConfigError) as e:
        kconfig.parse_config(tables)
    assert e.value.key == name and "a NUL character cannot be in a file name" in e.value.message, e.value


@pytest.mark.parametrize("host", ["localhost", "broker.example.com", "mqtt-1.kundpuls.example", "10.0.0.30",
                                  "fd00::1", "xn--mller-kva.example"])
def test_host_names_and_ip_addresses_are_broker_hosts(host):
    assert parse(GOOD + f'\n[broker]\nhost = "{host}"\n').broker.host == host


def test_relative_paths_are_taken_from_the_config_files_directory(tmp_path, monkeypatch, capsys):
    """Not from wherever the command runs: `kiosk --config /etc/x/kiosk.toml` from any directory
    finds the same data directory, CA and password files; `~` is the home directory."""
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "kiosk.toml"
    path.write_text('[kiosk]\nid = "k1"\ndata_dir = "kdrel"\n[broker]\nca_file = "../certs/ca.crt"\n'
                    'password_file = "~/broker.pass"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = kconfig.load_file("../etc/kiosk.toml")
    assert cfg.data_dir == tmp_path / "etc" / "kdrel"
    assert Path(cfg.broker.ca_file).resolve() == tmp_path / "certs" / "ca.crt"
    assert cfg.broker.password_file == str(tmp_path / "home" / "broker.pass")
    monkeypatch.delenv("KUNDPULS_DATA_DIR", raising=False)
    assert main(["--config", "../etc/kiosk.toml", "config", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_dir"] == str(tmp_path / "etc" / "kdrel")
    from kiosk.pushed import save_pushed                  # a config the centre pushed keeps them so
    cfg.data_dir.mkdir()
    save_pushed(cfg.data_dir, {"version": 1, "ui": {"thank_you_s": 3}})
    pushed = load("../etc/kiosk.toml", env={})
    assert pushed.ui.thank_you_s == 3 and pushed.broker == cfg.broker and pushed.data_dir == cfg.data_dir


# -- precedence: CLI > env > file > defaults ---------------------------------------------------

def write(path: Path, kiosk_id: str, data_dir: str | None = None) -> Path:
    extra = f'data_dir = "{data_dir}"\n' if data_dir else ""
    path.write_text(f'[kiosk]\nid = "{kiosk_id}"\n{extra}', encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["", "relative/dir", "."])
def test_an_empty_or_relative_xdg_directory_is_ignored(value, tmp_path, monkeypatch):
    """The XDG spec calls a relative path invalid: taken as it was, the kiosk's database and
    config moved with the directory a command was started in."""
    from kiosk.config.paths import default_config_path, default_data_dir
    monkeypatch.setattr("kiosk.config.paths.running_on_pi", lambda: False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", value)
    monkeypatch.setenv("XDG_CONFIG_HOME", value)
    assert default_data_dir() == tmp_path / ".local" / "share" / "kundpuls"
    assert default_config_path() == tmp_path / ".config" / "kundpuls" / "kiosk.toml"


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
    monkeypatch.setenv("KUNDPULS_CONFIG", str(write(tmp_path / "env.toml", "from-env")))
    monkeypatch.setenv("KUNDPULS_DATA_DIR", str(tmp_path / "env-data"))
    assert main(["config", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kiosk_id"] == "from-env" and out["data_dir"] == str(tmp_path / "env-data")
    cli = write(tmp_path / "cli.toml", "from-cli")
    assert main(["--config", str(cli), "simulate", "--taps", "1", "--data-dir", str(tmp_path / "cli-data")]) == 0
    capsys.readouterr()
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


# -- `kiosk config keys` -------------------------------------------------------------------------

def test_config_keys_lists_every_key_from_the_schema(capsys):
    assert main(["config", "keys", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["key"] for k in listed] == [k.name for k in kconfig.KEYS]
    by_name = {k["key"]: k for k in listed}
    assert by_name["sync.batch_max_events"]["allowed"] == "1 to 5000"
    assert by_name["questions[].scale"]["allowed"] == "one of smiley4, smiley5, nps11"
    assert by_name["reasons"]["default"] == "(built-in catalogue)"
    assert all(k["doc"] for k in listed)
    assert main(["config", "keys"]) == 0
    text = capsys.readouterr().out
    assert all(k.name in text for k in kconfig.KEYS) and "allowed: 1 to 5000" in text


def test_the_demo_pin_hash_is_the_hash_of_the_demo_pin():
    from kiosk.demo import DEMO_PIN, DEMO_PIN_HASH
    from kiosk.pin import MIN_ITERATIONS, hash_iterations, verify_pin
    assert verify_pin(DEMO_PIN, DEMO_PIN_HASH) and hash_iterations(DEMO_PIN_HASH) >= MIN_ITERATIONS


def test_a_config_version_the_centre_cannot_store_is_refused_here():
    """3000000000 passed `kiosk config check`, and every status the kiosk then sent was refused
    at the centre (its 4-byte INTEGER): the kiosk vanished from the fleet while it synced."""
    from server_sync.protocol.vocabulary import MAX_INT32
    assert kconfig.parse_text(GOOD.replace("config_version = 3", f"config_version = {MAX_INT32}"),
                              "kiosk.toml").config_version == MAX_INT32
    with pytest.raises(ConfigError, match="config_version") as e:
        kconfig.parse_text(GOOD.replace("config_version = 3", f"config_version = {MAX_INT32 + 1}"), "kiosk.toml")
    assert "2147483647" in str(e.value)
