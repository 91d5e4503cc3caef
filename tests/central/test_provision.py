"""Provisioning against a real mosquitto: `site add`, `kiosk add` (the printed credential really
connects after a broker reload, rotation retires the old one), `config push` (validated with the
kiosk's rules, versions only increase, retained on each kiosk's config topic)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import protocol
from server_sync.central.db import connect
from server_sync.cli import main
from tests.fixtures.cli import SHIPPED_ACL, broker_files, central, said_error

pytestmark = pytest.mark.broker

FRAGMENT = """
[kiosk]
languages = ["sv", "en"]

[[questions]]
id = "visit"
version = 2
scale = "smiley4"
text = { sv = "Hur var besöket?", en = "How was your visit?" }
reasons = ["queue", "staff", "price", "cleanliness"]

[[schedule]]
question = "visit"

[filters]
repeat_window_s = 4.0
"""


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def try_connect(broker, user: str, password: str) -> str:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(user, password)
    got, result = threading.Event(), {}
    c.on_connect = lambda cl, u, f, rc, p: (result.setdefault("rc", str(rc)), got.set())
    c.connect(broker.host, broker.port, keepalive=10)
    c.loop_start()
    got.wait(10)
    c.disconnect()
    c.loop_stop()
    return result.get("rc", "no answer")


def retained(broker, user: str, topic: str, timeout: float = 5.0) -> bytes | None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"read-{user}", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(user, broker.passwd(user))
    got, box = threading.Event(), {}
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
    c.on_message = lambda cl, u, m: (box.setdefault("payload", m.payload), got.set())
    c.connect(broker.host, broker.port, keepalive=10)
    c.loop_start()
    got.wait(timeout)
    c.disconnect()
    c.loop_stop()
    return box.get("payload")


def test_site_add_and_its_mistakes(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    rc, out, _ = cli(capsys, "site", "add", "sthlm-1", "--name", "Stockholm 1", "--timezone", "Europe/Stockholm", "--db", db)
    assert rc == 0 and "kiosk-central kiosk add KIOSK_ID --site sthlm-1" in out
    for argv, msg in [(["sthlm-1", "--name", "Again"], "site 'sthlm-1' already exists"),
                      (["osl-1", "--name", "Oslo", "--timezone", "Europe/Atlantis"],
                       "argument --timezone: unknown time zone 'Europe/Atlantis'"),
                      (["osl-1", "--name", "Oslo", "--hours", "mon-sun 8-21, sat closed"],
                       "argument --hours: sat is given twice: in 'mon-sun 8-21' and in 'sat closed'"),
                      (["bad/id", "--name", "X"], "site id must be 1-64 letters")]:
        rc = central("site", "add", *argv, "--db", db)            # argparse's mistakes exit
        err = capsys.readouterr().err
        assert rc == 2 and said_error(err, msg), err
    rc, out, _ = cli(capsys, "site", "list", "--json", "--db", db)
    assert json.loads(out) == [{"id": "sthlm-1", "name": "Stockholm 1", "timezone": "Europe/Stockholm", "region": None,
                                "kiosks": 0,
                                "hours": "mon-fri 8-21, sat 9-18, sun 10-17", "hours_default": True, "hours_error": None}]


def test_kiosk_add_gives_a_working_credential_and_rotation_retires_it(broker, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = ["--password-file", str(broker.password_file), "--acl-file", str(broker.acl_file)]
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--broker-host", "broker.example",
                     "--json", "--db", db)
    assert rc == 0
    got = json.loads(out)
    password = got["password"]
    assert len(password) >= 32 and password not in broker.password_file.read_text()     # only a hash
    assert 'username = "k7"' in got["broker_toml"] and 'host = "broker.example"' in got["broker_toml"]
    assert "user k7\ntopic read kundpuls/v1/site/s1/alerts\n" in broker.acl_file.read_text()
    broker.reload()
    assert try_connect(broker, "k7", password) == "Success"

    rc, _, err = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--db", db)
    assert rc == 2 and "kiosk 'k7' already exists" in err and "--rotate-password" in err
    rc, out, _ = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--rotate-password", "--db", db)
    assert rc == 0 and "new broker password" in out
    new_password = [ln.strip() for ln in out.splitlines() if ln.startswith("    ")][-1]
    assert new_password != password
    assert broker.acl_file.read_text().count("user k7\n") == 1
    broker.reload()
    assert try_connect(broker, "k7", password) in ("Not authorized", "Bad user name or password")
    assert try_connect(broker, "k7", new_password) == "Success"
    for argv, msg in [(["k8", "--site", "nowhere"], "unknown site 'nowhere'"),
                      (["central", "--site", "s1"], "reserved for the central ingest"),
                      (["k9", "--site", "s1", "--rotate-password"], "does not exist")]:
        rc, _, err = cli(capsys, "kiosk", "add", *argv, *files, "--db", db)
        assert rc == 2 and msg in err, err
    assert connect(db).execute_sql("SELECT id FROM kiosk").fetchall() == [("k7",)]


def test_deactivate_removes_only_that_kiosks_credential_and_rotation_brings_it_back(broker, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = ["--password-file", str(broker.password_file), "--acl-file", str(broker.acl_file)]
    cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)
    passwords = {k: json.loads(cli(capsys, "kiosk", "add", k, "--site", "s1", *files, "--json", "--db", db)[1])["password"]
                 for k in ("k7", "k8")}
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--json", "--db", db)
    assert rc == 0 and json.loads(out)["password_removed"] and json.loads(out)["acl_block_removed"]
    acl = broker.acl_file.read_text()
    assert "user k7" not in acl and "user k8\ntopic read kundpuls/v1/site/s1/alerts\n" in acl
    assert acl.startswith("# kiosks:")                       # the shared patterns stay
    broker.reload()
    assert try_connect(broker, "k7", passwords["k7"]) in ("Not authorized", "Bad user name or password")
    assert try_connect(broker, "k8", passwords["k8"]) == "Success"
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--db", db)    # again: nothing left to do
    assert rc == 0 and "was deactivated already" in out and "no broker user or ACL block left" in out
    assert cli(capsys, "kiosk", "deactivate", "k9", *files, "--db", db)[2].endswith("no kiosk 'k9' is registered\n")
    rc, out, _ = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--rotate-password", "--json", "--db", db)
    assert rc == 0 and json.loads(out)["reactivated"] is True
    broker.reload()
    assert try_connect(broker, "k7", json.loads(out)["password"]) == "Success"
    assert connect(db).execute_sql("SELECT id, active FROM kiosk ORDER BY id").fetchall() == [("k7", 1), ("k8", 1)]


def test_deactivate_asks_for_a_reload_and_a_second_clearing_only_after_a_change(broker, tmp_path, capsys):
    """A second `kiosk deactivate K --clear-status`, nothing left to remove, said "It had no broker
    user or ACL block left. Make the broker read them: systemctl reload mosquitto" and "after the
    reload, its Last Will may stand there again: run this command with --clear-status once more":
    advice that loops, though nothing changed."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = ["--password-file", str(broker.password_file), "--acl-file", str(broker.acl_file)]
    clear = ["--clear-status", "--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file",
             broker.ca_file, "--broker-password-file", str(broker.password_file_for("central"))]
    cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)
    assert cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, *clear, "--db", db)
    assert rc == 0 and "Make the broker read them: systemctl reload mosquitto" in out
    assert "after the reload, its Last Will may stand there again: run this command with --clear-status once more" in out
    broker.reload()
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, *clear, "--db", db)
    assert rc == 0 and "It had no broker user or ACL block left: nothing changed in the broker's files." in out
    assert "Its retained status and config are cleared on the broker.\n" in out
    assert "reload" not in out and "once more" not in out, out
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--db", db)
    assert rc == 0 and "reload" not in out and "clear them with --clear-status and the broker options" in out, out


def test_config_push_validates_versions_and_publishes_retained(broker, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)
    for k in ("k1", "k2"):
        store = connect(db)
        store.execute_sql("INSERT INTO kiosk (id, site_id, registered_at) VALUES ('%s', 's1', '2026-01-01')" % k)
        store.close()
    frag = tmp_path / "visit2.toml"
    frag.write_text(FRAGMENT, encoding="utf-8")
    mqtt_args = ["--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file,
                 "--username", "central", "--password-file", str(broker.password_file_for("central"))]
    rc, out, err = cli(capsys, "config", "push", "--kiosk", "k1", str(frag), *mqtt_args, "--json", "--db", db)
    assert rc == 0, err
    # Above the shipped kiosk.toml's config_version 1, which a kiosk that never reported runs.
    assert json.loads(out)["pushed"] == [{"kiosk_id": "k1", "version": 2, "topic": "kundpuls/v1/kiosk/k1/config"}]
    cfg = protocol.decode_config(retained(broker, "k1", protocol.config_topic("k1")))
    assert cfg["version"] == 2 and cfg["languages"] == ["sv", "en"] and cfg["questions"][0]["version"] == 2
    assert retained(broker, "k1", protocol.config_topic("k2"), timeout=1.0) is None    # ACL: not k1's to read

    # k2 reports (status) that it runs config version 7 from its own file: a push must go above it.
    store = connect(db)
    store.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, config_version)"
                      " VALUES ('k2', 1, '2026-11-23 12:00:00', 7)")
    store.close()
    rc, out, _ = cli(capsys, "config", "push", "--site", "s1", str(frag), *mqtt_args, "--json", "--db", db)
    assert rc == 0
    assert {(p["kiosk_id"], p["version"]) for p in json.loads(out)["pushed"]} == {("k1", 3), ("k2", 8)}
    assert protocol.decode_config(retained(broker, "k2", protocol.config_topic("k2")))["version"] == 8

    bad = tmp_path / "bad.toml"
    for text, msg in [(FRAGMENT + '\n[[schedule]]\nquestion = "nope"\n', "nope"),
                      ('[kiosk]\nid = "k2"\n', "key 'kiosk.id' cannot be pushed"),
                      ('[broker]\nhost = "evil.example"\n', "key 'broker' cannot be pushed"),
                      ("[[questions]\n", "syntax error")]:
        bad.write_text(text, encoding="utf-8")
        rc, _, err = cli(capsys, "config", "push", "--kiosk", "k1", str(bad), *mqtt_args, "--db", db)
        assert rc == 2 and msg in err and err.startswith("kiosk-central: error: "), err
    assert connect(db).execute_sql("SELECT COUNT(*) FROM config_push").fetchone()[0] == 3
    rc, _, err = cli(capsys, "config", "push", "--kiosk", "k1", str(frag), "--broker-host", broker.host,
                     "--broker-port", str(broker.port), "--ca-file", broker.ca_file, "--username", "central",
                     "--db", db)
    assert rc == 2 and "refused the connection" in err      # no password: nothing pushed, no version used
    assert connect(db).execute_sql("SELECT COUNT(*) FROM config_push").fetchone()[0] == 3


def central_writes_only(broker, *kiosks: str) -> None:
    """The broker's ACL, but the centre may write only these kiosks' config topics (it reads all)."""
    from tests.fixtures.broker import acl_text
    writes = "".join(f"topic readwrite kundpuls/v1/kiosk/{k}/config\n" for k in kiosks)
    broker.acl_file.write_text(acl_text().replace("topic readwrite kundpuls/v1/#\n", "topic read kundpuls/v1/#\n" + writes))
    broker.reload()


def test_a_push_the_broker_refuses_for_some_kiosks_is_recorded_for_the_others(broker, tmp_path, capsys):
    """`config push --site` published to each kiosk before the commit and rolled everything back
    when one was refused: the kiosk that got it kept a retained config (and asked its questions)
    that the store had no version or definition of. A retained config cannot be taken back from a
    kiosk that applied it at once, so the store records the push to each kiosk the broker took it
    for, says which did not get it, and exits non-zero; refused for all, nothing is kept."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)
    store = connect(db)
    store.execute_sql("INSERT INTO kiosk (id, site_id, registered_at) VALUES ('k1', 's1', '2026-01-01'),"
                      " ('k2', 's1', '2026-01-01')")
    store.close()
    frag = tmp_path / "visit2.toml"
    frag.write_text(FRAGMENT, encoding="utf-8")
    mqtt_args = ["--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file,
                 "--username", "central", "--password-file", str(broker.password_file_for("central")), "--db", db]

    def recorded() -> list[tuple[str, int]]:
        store = connect(db)
        try:
            return store.execute_sql("SELECT kiosk_id, version FROM config_push ORDER BY kiosk_id, version").fetchall()
        finally:
            store.close()

    def defined() -> set[tuple[str, int]]:
        rows = json.loads(cli(capsys, "question", "list", "--json", "--db", db)[1])["questions"]
        return {(q["id"], q["version"]) for q in rows if q["defined"]}

    central_writes_only(broker)                       # refused for every kiosk: nothing anywhere
    rc, out, err = cli(capsys, "config", "push", "--site", "s1", str(frag), *mqtt_args)
    assert rc == 2 and out == "" and said_error(err, "config version 2 to kiosk k1 was refused: Not authorized"), err
    assert "config version 2 to kiosk k2 was refused" in err and "Nothing was pushed or recorded" in err
    assert recorded() == [] and ("visit", 2) not in defined()
    assert retained(broker, "central", protocol.config_topic("k1"), timeout=1.0) is None

    central_writes_only(broker, "k1")                 # refused for k2 only
    rc, out, err = cli(capsys, "config", "push", "--site", "s1", str(frag), *mqtt_args, "--json")
    assert rc == 2 and said_error(err, "config version 2 to kiosk k2 was refused: Not authorized "
                                       "(does the broker's ACL let user 'central' write kundpuls/v1/kiosk/k2/config?)")
    assert "Kiosk k1 got it" in err and "push again to kiosk k2 (config push --kiosk ID FILE)" in err
    said = json.loads(out)
    assert said["pushed"] == [{"kiosk_id": "k1", "version": 2, "topic": "kundpuls/v1/kiosk/k1/config"}]
    assert said["not_confirmed"] == [{"kiosk_id": "k2", "version": 2, "topic": "kundpuls/v1/kiosk/k2/config",
                                      "problem": "refused: Not authorized", "recorded": False}]
    assert recorded() == [("k1", 2)] and ("visit", 2) in defined()
    assert protocol.decode_config(retained(broker, "central", protocol.config_topic("k1")))["version"] == 2
    assert retained(broker, "central", protocol.config_topic("k2"), timeout=1.0) is None

    central_writes_only(broker, "k1", "k2")           # fixed: the rest follows
    rc, out, err = cli(capsys, "config", "push", "--kiosk", "k2", str(frag), *mqtt_args)
    assert rc == 0 and "pushed config version 2 to kiosk k2" in out, err
    assert recorded() == [("k1", 2), ("k2", 2)]


def test_password_hash_is_mosquittos_own_and_no_password_is_on_a_command_line(tmp_path):
    import base64
    import subprocess

    from server_sync.provision import mosquitto_hash, set_password

    ref = tmp_path / "ref.passwd"
    ref.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(ref), "alice", "s3cret"], check=True)
    _user, hashed = ref.read_text().strip().split(":", 1)
    salt = base64.b64decode(hashed.split("$")[3])
    assert mosquitto_hash("s3cret", salt=salt) == hashed       # byte-identical to mosquitto_passwd

    pw = tmp_path / "kiosks.passwd"
    set_password(pw, "k1", "one")
    set_password(pw, "k2", "two")
    set_password(pw, "k1", "plain-text-uno")                    # replaced, not duplicated
    users = [line.split(":", 1)[0] for line in pw.read_text().splitlines()]
    assert users == ["k2", "k1"]
    assert oct(pw.stat().st_mode & 0o777) == "0o640"
    assert "plain-text-uno" not in pw.read_text()             # '-' is not in base64: no false hit


@pytest.mark.parametrize("found, said", [
    (("localhost", ["127.0.0.1"]), "this host's name is 'localhost': a kiosk cannot reach it"),
    (("vm", ["127.0.1.1"]), "this host's name 'vm' is only a loopback address here (127.0.1.1): a kiosk cannot reach it")])
def test_kiosk_add_refuses_a_default_broker_host_that_names_the_kiosk_itself(tmp_path, capsys, monkeypatch, found, said):
    """Without --broker-host, `kiosk add` took socket.getfqdn(), `localhost` on many hosts, and
    printed `host = "localhost"` and `provision.sh --broker-host localhost`: a kiosk set up so
    connects to itself. Refused, and nothing is registered; given, localhost is taken (a broker on
    the kiosk's own machine, the demo's)."""
    from server_sync.program import hosts
    monkeypatch.setattr(hosts, "own_name", lambda: found)
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = broker_files(tmp_path)
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    rc, out, err = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--db", db)
    assert rc == 2 and out == "" and said_error(err, f"give --broker-host ({said})"), err
    assert connect(db).execute_sql("SELECT id FROM kiosk").fetchall() == []
    assert not (tmp_path / "pw").exists()
    rc, out, _ = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--broker-host", "localhost", "--db", db)
    assert rc == 0 and 'host = "localhost"' in out


def test_kiosk_add_takes_this_hosts_name_when_a_kiosk_can_reach_it(tmp_path, capsys, monkeypatch):
    from server_sync.program import hosts
    monkeypatch.setattr(hosts, "own_name", lambda: ("central.example.com", ["192.0.2.10"]))
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *broker_files(tmp_path), "--db", db)
    assert rc == 0 and 'host = "central.example.com"' in out and "--broker-host central.example.com" in out



@pytest.mark.parametrize("extra, hint", [
    ([], "(provision.sh --broker-host mqtt.example.com does it)"),
    (["--broker-port", "18883"], "(provision.sh --broker-host mqtt.example.com --broker-port 18883 does it)"),
    (["--prefix", "acme/"], "(provision.sh --broker-host mqtt.example.com does it, but for topic_prefix: set that by hand)")])
def test_kiosk_adds_provision_hint_gives_every_setting_it_can(tmp_path, capsys, extra, hint):
    """`kiosk add … --broker-port 18883` said `provision.sh --broker-host mqtt.example.com does
    it`: followed, the kiosk was set up for 8883 and never connected. provision.sh takes the port
    too; a topic prefix it has no option for, which the hint now says."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *broker_files(tmp_path),
                     "--broker-host", "mqtt.example.com", *extra, "--db", db)
    assert rc == 0 and f"kiosk.toml gets {hint}:" in out, out

def test_a_refused_rotation_leaves_the_old_password_in_force(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    pw, acl = tmp_path / "kiosks.passwd", tmp_path / "kiosks.acl"
    files = broker_files(tmp_path, pw.name, acl.name)
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    assert cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--db", db)[0] == 0
    before = pw.read_text()
    acl.write_text(SHIPPED_ACL.read_text() + "user k7\ntopic read somewhere/else\n")   # a hand-edited block
    rc, _, err = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--rotate-password", "--db", db)
    assert rc == 2 and "fix it by hand" in err
    assert pw.read_text() == before                                # no unseen new password


def kiosk_files(tmp_path, capsys) -> tuple[str, list[str]]:
    """A database with site s1 and kiosk k1, and the broker files of its registration."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = broker_files(tmp_path, "kiosks.passwd", "kiosks.acl")
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    assert cli(capsys, "site", "add", "s2", "--name", "Store 2", "--db", db)[0] == 0
    assert cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--db", db)[0] == 0
    return db, files


def test_an_acl_file_that_cannot_be_read_is_refused_before_any_change(tmp_path, capsys):
    db, files = kiosk_files(tmp_path, capsys)
    pw = tmp_path / "kiosks.passwd"
    before = pw.read_text()
    (tmp_path / "adir").mkdir()
    binary = tmp_path / "binary.acl"
    binary.write_bytes(b"user x\n\xff\xfe\n")
    for acl, msg in [(tmp_path / "adir", "cannot read it"), (binary, "not UTF-8 text (byte 7)"),
                     (tmp_path / "nodir" / "x.acl", "does not exist")]:
        for argv in (["add", "k2", "--site", "s1", *files], ["add", "k1", "--site", "s1", "--rotate-password", *files],
                     ["move", "k1", "--site", "s2"], ["deactivate", "k1", *files]):
            rc, out, err = cli(capsys, "kiosk", *argv, "--acl-file", str(acl), "--db", db)
            assert rc == 2 and err.startswith(f"kiosk-central: error: --acl-file {acl}: ") and msg in err, (argv, err)
    assert pw.read_text() == before
    rc, out, _ = cli(capsys, "kiosk", "list", "--json", "--db", db)
    assert [(k["id"], k["site_id"], k["active"]) for k in json.loads(out)["kiosks"]] == [("k1", "s1", True)]


def without_root_bypass(*argv: str):
    """Run kiosk-central without the capabilities that let root ignore file modes."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable,
                           "-m", "server_sync", *argv], capture_output=True, text=True, env=env, timeout=60)


def test_a_read_only_broker_file_leaves_no_unseen_password(tmp_path, capsys):
    db, files = kiosk_files(tmp_path, capsys)
    pw, acl = tmp_path / "kiosks.passwd", tmp_path / "kiosks.acl"
    before = pw.read_text()
    for ro in (acl, pw):
        ro.chmod(0o444)
        r = without_root_bypass("kiosk", "add", "k3", "--site", "s1", *files, "--broker-host", "broker.example",
                                "--db", db)
        ro.chmod(0o644)
        option = "--acl-file" if ro == acl else "--password-file"
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"kiosk-central: error: {option} {ro}: cannot write it: Permission denied"), r.stderr
        assert pw.read_text() == before and "k3" not in acl.read_text()
    acl.chmod(0o000)
    r = without_root_bypass("kiosk", "move", "k1", "--site", "s2", "--acl-file", str(acl), "--db", db)
    acl.chmod(0o644)
    assert r.returncode == 2 and r.stderr == f"kiosk-central: error: --acl-file {acl}: cannot read it: Permission denied\n"
    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    (ro_dir / "kiosks.passwd").write_text(before)
    ro_dir.chmod(0o555)                 # the file is replaced through a temp file beside it
    r = without_root_bypass("kiosk", "deactivate", "k1", *files, "--password-file", str(ro_dir / "kiosks.passwd"),
                            "--db", db)
    ro_dir.chmod(0o755)
    assert r.returncode == 2 and f"cannot create files in {ro_dir}: Permission denied" in r.stderr, r.stderr
    rc, out, _ = cli(capsys, "kiosk", "list", "--json", "--db", db)
    assert [(k["id"], k["site_id"], k["active"]) for k in json.loads(out)["kiosks"]] == [("k1", "s1", True)]


def test_rotation_says_the_kiosk_has_a_new_password(tmp_path, capsys):
    db, files = kiosk_files(tmp_path, capsys)
    rc, out, _ = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--rotate-password", "--db", db)
    assert rc == 0 and out.startswith("kiosk k1 at site s1 has a new broker password.\n")


def test_an_acl_write_that_fails_after_the_check_leaves_the_old_password(tmp_path, capsys, monkeypatch):
    """The password is written last: a disk that fills between the check and the write leaves
    no new password in force that nobody was shown."""
    from server_sync import provision
    from server_sync.exc import CentralConfigError

    db, files = kiosk_files(tmp_path, capsys)
    before = (tmp_path / "kiosks.passwd").read_text()

    def full_disk(acl_file, *_args):
        raise CentralConfigError(f"--acl-file {acl_file}: cannot write it: No space left on device")
    monkeypatch.setattr(provision, "ensure_acl", full_disk)
    rc, _, err = cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--rotate-password", "--db", db)
    assert rc == 2 and "No space left on device" in err
    assert (tmp_path / "kiosks.passwd").read_text() == before


def test_deactivate_and_move_with_the_wrong_broker_files_say_so(tmp_path, capsys):
    """A stolen kiosk's deactivation against files the broker does not read left its credential
    working and said 'Removed …'; a move against a new file said its block was moved."""
    db, files = kiosk_files(tmp_path, capsys)
    pw, acl = tmp_path / "kiosks.passwd", tmp_path / "kiosks.acl"
    elsewhere = tmp_path / "other.passwd", tmp_path / "other.acl"
    for wrong, option in ((["--password-file", str(elsewhere[0]), "--acl-file", str(acl)], "--password-file"),
                          (["--password-file", str(pw), "--acl-file", str(elsewhere[1])], "--acl-file")):
        rc, _, err = cli(capsys, "kiosk", "deactivate", "k1", *wrong, "--db", db)
        assert rc == 2 and err.startswith(f"kiosk-central: error: {option} ") and "no such file" in err, err
    rc, _, err = cli(capsys, "kiosk", "move", "k1", "--site", "s2", "--acl-file", str(elsewhere[1]), "--db", db)
    assert rc == 2 and "no such file" in err
    assert "k1" in pw.read_text() and "user k1" in acl.read_text()
    rc, out, _ = cli(capsys, "kiosk", "list", "--json", "--db", db)
    assert [(k["id"], k["site_id"], k["active"]) for k in json.loads(out)["kiosks"]] == [("k1", "s1", True)]

    rc, out, err = cli(capsys, "kiosk", "move", "k1", "--site", "s1", "--acl-file", str(acl), "--db", db)
    assert rc == 0 and out.startswith("kiosk k1 is at site s1 already; nothing changed.") and not err

    elsewhere[0].write_text("# another broker's file\n")
    elsewhere[1].write_text("# another broker's file\n" + SHIPPED_ACL.read_text())
    rc, out, err = cli(capsys, "kiosk", "move", "k1", "--site", "s2", "--acl-file", str(elsewhere[1]), "--db", db)
    assert rc == 0 and f"{elsewhere[1]} had no ACL block for k1 (one for s2 was added)" in err
    rc, out, err = cli(capsys, "kiosk", "deactivate", "k1", "--password-file", str(elsewhere[0]),
                       "--acl-file", str(elsewhere[1]), "--db", db)
    assert rc == 1 and "kiosk k1 deactivated" in out
    assert err.startswith(f"kiosk-central: warning: no broker user k1 in {elsewhere[0]}: if the broker reads "
                          f"another password file, the kiosk's credential still works there")
    assert "k1:" in pw.read_text()                       # untouched: that file was not named


def test_kiosk_add_with_the_broker_files_swapped_changes_neither(tmp_path, capsys):
    """The ACL given as --password-file and the password file as --acl-file (or a kiosk.toml as
    either): `kiosk add` appended a password line to the ACL and the ACL block to the password
    file, exit 0, and the broker took neither (a review). Each file is checked for what it holds."""
    db, _files = kiosk_files(tmp_path, capsys)
    pw, acl = tmp_path / "kiosks.passwd", tmp_path / "kiosks.acl"
    before = pw.read_text(), acl.read_text()
    toml = tmp_path / "kiosk.toml"
    toml.write_text('[kiosk]\nid = "k9"\n')
    # the ACL's first line that is neither a comment nor blank (its comments change with the file)
    first = next(n for n, line in enumerate(acl.read_text().splitlines(), 1) if line.strip() and not line.startswith("#"))
    for files, message in (((acl, pw), f"--password-file {acl}: line {first} is not a mosquitto password line"),
                           ((toml, acl), f"--password-file {toml}: line 1 is not a mosquitto password line"),
                           ((pw, toml), f"--acl-file {toml}: holds no `pattern` line")):
        rc, _, err = cli(capsys, "kiosk", "add", "k2", "--site", "s1", "--password-file", str(files[0]),
                         "--acl-file", str(files[1]), "--db", db)
        assert rc == 2 and said_error(err, message), err
    assert (pw.read_text(), acl.read_text()) == before and toml.read_text() == '[kiosk]\nid = "k9"\n'


def test_kiosk_add_refuses_a_missing_acl_file_and_makes_a_password_file_for_root_and_mosquitto(tmp_path, capsys):
    """`kiosk add` against an ACL file that was not there made it, mode 0644, with only the new
    kiosk's `user` block and none of the shipped `pattern` lines: a broker reading it would deny
    every kiosk. It is refused now, before any change, as `kiosk move` refuses it. A password
    file not there yet is made (a fresh broker's first kiosk), readable by root and mosquitto."""
    import grp
    import os
    import stat

    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    pw, acl = tmp_path / "kundpuls.passwd", tmp_path / "kundpuls.acl"
    rc, out, err = cli(capsys, "kiosk", "add", "k1", "--site", "s1", "--password-file", str(pw),
                       "--acl-file", str(acl), "--db", db)
    assert rc == 2 and out == "" and err == (f"kiosk-central: error: --acl-file {acl}: no such file (give the file "
                                             "the broker reads, as in its mosquitto.conf)\n")
    assert not acl.exists() and not pw.exists()
    assert json.loads(cli(capsys, "kiosk", "list", "--json", "--db", db)[1])["kiosks"] == []

    files = broker_files(tmp_path, pw.name, acl.name)               # the shipped ACL installed
    assert cli(capsys, "kiosk", "add", "k1", "--site", "s1", *files, "--db", db)[0] == 0
    assert acl.read_text() == SHIPPED_ACL.read_text() + "\nuser k1\ntopic read kundpuls/v1/site/s1/alerts\n"
    assert stat.S_IMODE(pw.stat().st_mode) == 0o640 and pw.read_text().startswith("k1:$7$")
    if os.geteuid() == 0 and "mosquitto" in {g.gr_name for g in grp.getgrall()}:
        assert grp.getgrgid(pw.stat().st_gid).gr_name == "mosquitto"


def test_a_broker_file_under_a_file_is_said_to_be_under_a_file(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    (tmp_path / "t").write_text("")
    assert cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)[0] == 0
    rc, _, err = cli(capsys, "kiosk", "add", "k1", "--site", "s1", "--password-file", str(tmp_path / "t" / "x"),
                     "--acl-file", str(tmp_path / "a.acl"), "--db", db)
    assert rc == 2 and f"{tmp_path / 't'} is a file, not a directory" in err


def test_a_push_is_checked_without_the_wiring_the_centre_does_not_know(tmp_path, capsys):
    """A five-point smiley question for five-button kiosks: the centre knows no kiosk's wiring
    (gpio is not pushable) and checked it against the default four buttons; the kiosk that
    receives it checks its own."""
    from kiosk.config import parse_text
    from kiosk.exc import ConfigError
    db, _files = kiosk_files(tmp_path, capsys)
    push = tmp_path / "q5.toml"
    push.write_text('[[questions]]\nid = "q9"\nscale = "smiley5"\ntext = { sv = "a", nb = "b", en = "c" }\n')
    rc, out, err = cli(capsys, "config", "push", "--kiosk", "k1", str(push), "--dry-run", "--db", db)
    assert rc == 0 and "would push config version 2 to kiosk k1" in out, err
    with pytest.raises(ConfigError, match="question 'q9' has 5 answers but 4 buttons are wired"):
        parse_text('[kiosk]\nid = "k1"\nsite = "s1"\n' + push.read_text())


def test_a_prefix_that_would_add_a_line_to_the_acl_is_refused_by_every_command(tmp_path, capsys):
    """`kiosk move --prefix` wrote what it was given into the ACL file: a prefix with a line
    break gave the kiosk `topic readwrite #`, all of the broker. Every command that takes a
    prefix refuses it before anything is written, as `kiosk add` did."""
    db, files = kiosk_files(tmp_path, capsys)
    acl = tmp_path / "kiosks.acl"
    before = acl.read_text()
    for bad in ("x/\ntopic readwrite #\n#", "x/\ntopic readwrite kundpuls/v1/x/", "a b/", "acme", 'a"/'):
        for argv in (["move", "k1", "--site", "s2", "--acl-file", str(acl)],
                     ["add", "k2", "--site", "s1", *files], ["deactivate", "k1", *files, "--clear-status"]):
            with pytest.raises(SystemExit) as exit_:
                cli(capsys, "kiosk", *argv, "--prefix", bad, "--db", db)
            err = capsys.readouterr().err
            assert exit_.value.code == 2 and said_error(
                err, "argument --prefix: topic prefix must be empty, or levels ending with '/'"), (argv, bad, err)
    assert acl.read_text() == before
    rc, out, _ = cli(capsys, "kiosk", "list", "--json", "--db", db)
    assert [(k["id"], k["site_id"]) for k in json.loads(out)["kiosks"]] == [("k1", "s1")]


def test_a_kiosk_added_or_moved_to_a_site_with_pushed_config_is_told_to_push_it(broker, tmp_path, capsys):
    """A push goes to the kiosks of the moment: `kiosk add k4 --site s1` after `config push --site
    s1` left k4 on the shipped questions beside its site's pushed ones, and nothing said so (a
    review). `kiosk add` and `kiosk move` name the site's kiosks that run a later push."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = broker_files(tmp_path, "kiosks.passwd", "kiosks.acl")
    for site in ("s1", "s2"):
        cli(capsys, "site", "add", site, "--name", site, "--db", db)
    for kiosk, site in (("k1", "s1"), ("k2", "s1"), ("k9", "s2")):
        assert cli(capsys, "kiosk", "add", kiosk, "--site", site, *files, "--db", db)[0] == 0
    frag = tmp_path / "visit2.toml"
    frag.write_text(FRAGMENT, encoding="utf-8")
    mqtt_args = ["--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file,
                 "--username", "central", "--password-file", str(broker.password_file_for("central"))]
    assert cli(capsys, "config", "push", "--site", "s1", str(frag), *mqtt_args, "--db", db)[0] == 0
    hint = "run a config the centre pushed after any push to {k}, which goes on with its own kiosk.toml"
    rc, out, _ = cli(capsys, "kiosk", "add", "k4", "--site", "s1", *files, "--db", db)
    assert rc == 0 and "s1's kiosks k1, k2 " + hint.format(k="k4") in out
    assert "kiosk-central config push --kiosk k4 FILE" in out
    rc, out, _ = cli(capsys, "kiosk", "add", "k5", "--site", "s1", *files, "--json", "--db", db)
    assert json.loads(out)["site_pushes_missed"] == ["k1", "k2"]
    rc, out, _ = cli(capsys, "kiosk", "move", "k9", "--site", "s1", "--acl-file", files[3], "--db", db)
    assert rc == 0 and "s1's kiosks k1, k2 " + hint.format(k="k9") in out
    # pushed the same, it is told nothing more; a site without pushes says nothing
    assert cli(capsys, "config", "push", "--kiosk", "k4", str(frag), *mqtt_args, "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "add", "k4", "--site", "s1", "--rotate-password", *files, "--db", db)
    assert rc == 0 and "pushed after" not in out
    rc, out, _ = cli(capsys, "kiosk", "add", "k8", "--site", "s2", *files, "--db", db)
    assert rc == 0 and "pushed after" not in out
    # Moved after a later push of its own site's: that push was for the site it leaves (it said
    # nothing, its push being the later one); and to a site without pushes it says what it carries.
    assert cli(capsys, "config", "push", "--kiosk", "k8", str(frag), *mqtt_args, "--db", db)[0] == 0
    rc, out, _ = cli(capsys, "kiosk", "move", "k8", "--site", "s1", "--acl-file", files[3], "--json", "--db", db)
    assert json.loads(out)["site_pushes_missed"] == ["k1", "k2", "k4"]
    cli(capsys, "site", "add", "s3", "--name", "s3", "--db", db)
    rc, out, _ = cli(capsys, "kiosk", "move", "k8", "--site", "s3", "--acl-file", files[3], "--db", db)
    assert rc == 0 and "k8 runs the config the centre last pushed to it, before this move; s3's kiosks run none" in out


def test_deactivate_with_clear_status_takes_the_roster_off_the_broker(broker, tmp_path, capsys):
    """A kiosk's pushed config stays retained on the broker, the staff roster (`privacy.staff_names`)
    in it, and survives its restarts: after `kiosk deactivate --clear-status` it still held every
    name, and no push could replace it (the kiosk is deactivated; a privacy review). The clearing
    now takes the config with the status; without it, the command says that both stay. A kiosk
    brought back is told to be pushed its config again."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    files = ["--password-file", str(broker.password_file), "--acl-file", str(broker.acl_file)]
    conn = ["--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file]
    central_password = str(broker.password_file_for("central"))
    cli(capsys, "site", "add", "s1", "--name", "Store 1", "--db", db)
    for k in ("k7", "k8"):
        assert cli(capsys, "kiosk", "add", k, "--site", "s1", *files, "--db", db)[0] == 0
    broker.reload()
    push = tmp_path / "push.toml"
    push.write_text('[privacy]\nstaff_names = ["Lisa Lundqvist", "Omar Haddad"]\n')
    for k in ("k7", "k8"):
        assert cli(capsys, "config", "push", "--kiosk", k, str(push), *conn, "--password-file", central_password,
                   "--db", db)[0] == 0
    topic = protocol.config_topic("k7", "")
    assert b"Lisa Lundqvist" in retained(broker, "central", topic)
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--db", db)
    assert rc == 0 and "its last pushed config (the staff roster in it) stay retained on the broker" in out, out
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--clear-status", *conn,
                     "--broker-password-file", central_password, "--json", "--db", db)
    assert rc == 0 and json.loads(out)["status_cleared"] and json.loads(out)["config_cleared"]
    broker.restart()                                          # the broker keeps what is retained on disk
    assert retained(broker, "central", topic, timeout=1.0) is None
    assert b"Lisa Lundqvist" in retained(broker, "central", protocol.config_topic("k8", ""))   # only k7's
    rc, out, _ = cli(capsys, "kiosk", "deactivate", "k7", *files, "--clear-status", *conn,
                     "--broker-password-file", central_password, "--db", db)
    assert rc == 0 and "Its retained status and config are cleared on the broker." in out, out
    rc, out, _ = cli(capsys, "kiosk", "add", "k7", "--site", "s1", *files, "--rotate-password", "--db", db)
    assert rc == 0 and "kiosk-central config push --kiosk k7 FILE" in out, out
