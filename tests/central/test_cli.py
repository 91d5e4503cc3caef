"""`kiosk-central` argument mistakes end in `kiosk-central: error: …` and exit 2, never a traceback."""

from __future__ import annotations

from server_sync.cli import main


def test_ingest_argument_mistakes_are_clear_errors(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    empty = tmp_path / "empty.pass"
    empty.write_text("\n")
    (tmp_path / "empty.pem").write_text("")
    for argv, msg in [(["--password-file", str(tmp_path / "nope")], "cannot read --password-file"),
                      (["--ca-file", str(tmp_path / "nope.pem")], "--ca-file: CA certificate file not found"),
                      (["--ca-file", str(tmp_path)], "is not a PEM CA certificate (IsADirectoryError"),
                      (["--ca-file", str(tmp_path / "empty.pem")], "is not a PEM CA certificate (SSLError"),
                      (["--password-file", str(empty)], "is empty"),
                      (["--prefix", "acme"], "--prefix must end with '/'"),
                      (["--no-tls", "--ca-file", "ca.crt"], "contradict"),
                      (["--broker-port", "70000"], "--broker-port must be 1-65535"),
                      (["--max-bytes", "10"], "--max-bytes must be at least 1024"),
                      (["--client-id", "bad id!"], "--client-id must be")]:
        assert main(["ingest", *argv, *db]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    assert main(["ingest", "--db", "mysql://x/y"]) == 2
    assert "scheme must be sqlite or postgresql" in capsys.readouterr().err


def test_serve_refuses_a_bad_certificate_or_address_before_starting_workers(tmp_path, capsys, monkeypatch):
    """uvicorn restarted a worker that could not load the pair for ever; a bad --host or a port
    in use was uvicorn's own log line and exit 3."""
    import socket

    import uvicorn
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    garbage = tmp_path / "bad.pem"
    garbage.write_text("garbage\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for argv, msg in [(["--certfile", str(garbage), "--keyfile", str(garbage)],
                           "--certfile/--keyfile: not a PEM certificate and matching key ([SSL] PEM lib"),
                          (["--certfile", str(tmp_path), "--keyfile", str(tmp_path)],
                           "not a PEM certificate and matching key ([Errno 21] Is a directory)"),
                          (["--host", "999.1.1.1"], "cannot listen on 999.1.1.1:"),
                          (["--port", port], f"cannot listen on 127.0.0.1:{port}: Address already in use")]:
            assert main(["serve", *argv, *db]) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    assert started == []


def test_a_malformed_database_url_is_a_clear_error(tmp_path, capsys):
    """urllib's ValueErrors (port, IPv6), a directory that cannot be made and options SQLite
    would silently drop; the password never shows."""
    (tmp_path / "file").write_text("")
    for url, msg in [("postgresql://nobody@127.0.0.1:notaport/x", "port must be 1-65535"),
                     ("postgresql://u:secret@127.0.0.1:99999/x", "port must be 1-65535"),
                     ("postgresql://u:secret@[::1/x", "unbalanced [ ] around an IPv6 address"),
                     (f"sqlite:///{tmp_path}/file/x.db", f"cannot create directory {tmp_path}/file for the database"),
                     (f"sqlite:///{tmp_path}/x.db?mode=ro", "a sqlite URL takes no options (?mode=ro)")]:
        assert main(["--db", url, "site", "list"]) == 2, url
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
        assert "secret" not in err


def test_config_push_refuses_a_bad_ca_file_before_publishing(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    files = ["--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")]
    assert main(["site", "add", "s1", "--name", "S", *db]) == 0
    assert main(["kiosk", "add", "k1", "--site", "s1", *files, *db]) == 0
    fragment = tmp_path / "frag.toml"
    fragment.write_text("[ui]\nthank_you_s = 5\n")
    capsys.readouterr()
    assert main(["config", "push", "--kiosk", "k1", str(fragment), "--ca-file", str(tmp_path / "nope.pem"), *db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk-central: error: --ca-file: CA certificate file not found"), err


def test_config_push_names_a_number_that_is_not_finite(tmp_path, capsys):
    """JSON cannot carry inf or nan; the hint about times and dates as strings was wrong for them."""
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    fragment = tmp_path / "frag.toml"
    for toml, got in [("[ui]\nthank_you_s = 1e400\n", "ui.thank_you_s': must be a finite number, got inf"),
                      ("[ui]\nthank_you_s = nan\n", "ui.thank_you_s': must be a finite number, got nan"),
                      ("[[questions]]\nid = 'x'\nw = [1.0, -inf]\n", "questions[0].w[1]': must be a finite number, got -inf")]:
        fragment.write_text(toml)
        assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", *db]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kiosk-central: error: {fragment}, key '") and got in err and "20:30" not in err, err
