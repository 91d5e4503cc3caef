"""The people commands (`kiosk-central region …`, `site add --region`, `user …`) called as the
CLI is (`main([...])`), and the one function that turns a person into the sites they may see."""

from __future__ import annotations

import io
import json

import pytest

from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.web import people, sessions
from server_sync.web.scope import scope_of, visible_sites


@pytest.fixture
def url(tmp_path):
    u = f"sqlite:///{tmp_path / 'central.db'}"
    assert main(["--db", u, "region", "add", "north", "--name", "Norr"]) == 0
    assert main(["--db", u, "region", "add", "empty", "--name", "Tom"]) == 0
    assert main(["--db", u, "site", "add", "a", "--name", "A", "--region", "north"]) == 0
    assert main(["--db", u, "site", "add", "b", "--name", "B"]) == 0
    assert main(["--db", u, "site", "add", "c", "--name", "C"]) == 0
    assert main(["--db", u, "region", "assign", "north", "b"]) == 0
    return u


def run(url, *args, stdin: str | None = None, capsys=None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["--db", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_regions_group_sites_and_can_be_changed(url, capsys):
    capsys.readouterr()
    code, out, _ = run(url, "region", "list", "--json", capsys=capsys)
    assert code == 0 and {r["id"]: r["sites"] for r in json.loads(out)} == {"empty": 0, "north": 2}
    assert run(url, "region", "assign", "-", "b", capsys=capsys)[0] == 0
    code, out, _ = run(url, "region", "list", "--json", capsys=capsys)
    assert {r["id"]: r["sites"] for r in json.loads(out)}["north"] == 1
    code, _, err = run(url, "site", "add", "d", "--name", "D", "--region", "nowhere", capsys=capsys)
    assert code == 2 and err.startswith("kiosk-central: error: unknown region 'nowhere'")
    code, _, err = run(url, "region", "assign", "north", "zz", capsys=capsys)
    assert code == 2 and "unknown site 'zz'" in err


@pytest.mark.parametrize("args, message", [
    (["--role", "analyst", "--site", "a"], "an analyst sees every site"),
    (["--role", "regional-manager"], "needs --region"),
    (["--role", "store-manager", "--region", "north"], "needs --site"),
    (["--role", "store-manager", "--site", "nope"], "unknown site 'nope'"),
    (["--role", "regional-manager", "--region", "nope"], "unknown region 'nope'"),
])
def test_a_user_gets_a_scope_that_fits_the_role(url, capsys, args, message):
    code, _, err = run(url, "user", "add", "x", *args, capsys=capsys)
    assert code == 2 and err.startswith("kiosk-central: error:") and message in err


def test_user_add_prints_a_one_time_password_or_reads_one(url, capsys, monkeypatch):
    code, out, _ = run(url, "user", "add", "kim", "--role", "store-manager", "--site", "a", capsys=capsys)
    one_time = out.split(": ")[-1].strip()
    assert code == 0 and len(one_time) >= 12
    db = connect(url)
    try:
        kim = people.verify_password(db, "kim", one_time)
        assert kim and kim.must_change_password
        stored = db.execute_sql("SELECT password_hash FROM web_user WHERE name = 'kim'").fetchone()[0]
        assert stored.startswith("$argon2id$") and one_time not in stored
    finally:
        db.close()
    code, _, err = run(url, "user", "add", "lo", "--role", "analyst", "--password-stdin", stdin="short\n",
                       capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "at least 10 characters" in err
    code, out, _ = run(url, "user", "add", "lo", "--role", "analyst", "--password-stdin", "--language", "en",
                       "--json", stdin="a long enough secret\n", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["one_time_password"] is None
    assert "a long enough secret" not in out
    code, _, err = run(url, "user", "add", "lo", "--role", "analyst", capsys=capsys)
    assert code == 2 and "already exists" in err


def test_one_function_decides_what_each_role_sees(url):
    db = connect(url)
    try:
        admin, _ = people.add_user(db, "ad", "admin", password="x" * 12)
        analyst, _ = people.add_user(db, "an", "analyst", password="x" * 12)
        regional, _ = people.add_user(db, "re", "regional-manager", regions=["north"], password="x" * 12)
        lonely, _ = people.add_user(db, "lo", "regional-manager", regions=["empty"], password="x" * 12)
        store, _ = people.add_user(db, "st", "store-manager", sites=["c"], password="x" * 12)
        assert visible_sites(db, admin) == visible_sites(db, analyst) == {"a", "b", "c"}
        assert visible_sites(db, regional) == {"a", "b"}
        assert visible_sites(db, lonely) == frozenset()           # nothing, never "everything"
        assert not scope_of(db, lonely).everything
        assert visible_sites(db, store) == {"c"}
        people.assign_region(db, "north", ["c"])                   # a site moves into the region
        assert visible_sites(db, regional) == {"a", "b", "c"}
        people.set_disabled(db, "an", True)
        assert visible_sites(db, people.user_by_name(db, "an")) == frozenset()
    finally:
        db.close()


def test_disable_ends_sessions_and_revokes_tokens(url, capsys):
    db = connect(url)
    try:
        user, _ = people.add_user(db, "vera", "analyst", password="x" * 12)
        s = sessions.create(db, user, address="127.0.0.1", user_agent="test")
        token = people.add_token(db, "vera", "bi")
        assert people.user_by_token(db, token).name == "vera"
        assert db.execute_sql("SELECT COUNT(*) FROM api_token WHERE token_hash = ?",
                              (people.token_hash(token),)).fetchone()[0] == 1
        assert db.execute_sql("SELECT COUNT(*) FROM api_token WHERE token_hash = ?", (token,)).fetchone()[0] == 0
    finally:
        db.close()
    capsys.readouterr()
    assert run(url, "user", "disable", "vera", capsys=capsys)[0] == 0
    db = connect(url)
    try:
        assert sessions.load(db, s.token, sessions.SessionPolicy()) is None
        assert people.user_by_token(db, token) is None
        assert people.verify_password(db, "vera", "x" * 12) is None
    finally:
        db.close()
    code, out, _ = run(url, "user", "list", "--json", capsys=capsys)
    assert [u["disabled"] for u in json.loads(out) if u["name"] == "vera"] == [True]
    assert run(url, "user", "enable", "vera", capsys=capsys)[0] == 0
    code, out, _ = run(url, "user", "password", "vera", capsys=capsys)
    assert code == 0 and "one-time password for vera" in out
    code, _, err = run(url, "user", "token", "nobody", capsys=capsys)
    assert code == 2 and "no user 'nobody'" in err
